"""Prior loss (channel-normalised, per-channel weighted feature distance), GAN losses, identity loss."""

from __future__ import annotations

import pytest
import torch

from facedeblur.losses.adversarial import (
    d_hinge_loss,
    d_nonsaturating_loss,
    discriminator_loss,
    g_hinge_loss,
    g_nonsaturating_loss,
    generator_loss,
)
from facedeblur.losses.prior import PriorLoss, normalize_channels, prior_distance, resize_prior_targets


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, 8, 8, 8, generator=g)]


def test_normalize_channels_gives_unit_vectors():
    f = torch.randn(2, 5, 3, 3) * 7
    n = normalize_channels(f)
    assert torch.allclose(n.pow(2).sum(1), torch.ones(2, 3, 3), atol=1e-5)
    assert not torch.isnan(normalize_channels(torch.zeros(1, 3, 2, 2))).any()


def test_prior_loss_zero_for_identical_and_positive_otherwise():
    loss = PriorLoss((4, 8))
    f = _feats()
    assert float(loss(f, f).detach()) == 0.0
    assert float(loss(f, [t.clone() for t in f]).detach()) == 0.0
    assert float(loss(f, [2.0 * t for t in f]).detach()) == pytest.approx(0.0, abs=1e-6)  # scale-invariant per pixel
    other = _feats(1)
    assert float(loss(f, other).detach()) > 0
    one_pixel = [t.clone() for t in f]
    one_pixel[1][0, :, 3, 3] = -one_pixel[1][0, :, 3, 3]
    assert float(loss(f, one_pixel).detach()) > 0


def test_prior_weights_non_negative_mean_one_and_learnable():
    loss = PriorLoss((4, 8))
    with torch.no_grad():
        loss.logits[0].copy_(torch.tensor([-100.0, 0.0, 1.0, 100.0]))
    for w, c in zip(loss.weights(), (4, 8), strict=True):
        assert bool((w > 0).all())
        assert float(w.mean().detach()) == pytest.approx(1.0)
        assert w.shape == (c,)
    est, tgt = _feats(0), _feats(1)
    # The weights ascend the loss on the discriminator side: one SGD step on weight_loss raises it.
    fresh = PriorLoss((4, 8))
    opt = torch.optim.SGD(fresh.parameters(), lr=1.0)
    before = float(fresh(est, tgt).detach())
    fresh(est, tgt, ascend=True).backward()  # what the discriminator step minimises
    opt.step()
    assert float(fresh(est, tgt).detach()) > before
    frozen = PriorLoss((4, 8), learnable=False)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert float(frozen(est, tgt)) == pytest.approx(float(prior_distance(est, tgt)))


def test_prior_loss_gradient_reaches_the_estimate():
    est = [t.requires_grad_() for t in _feats(0)]
    PriorLoss((4, 8))(est, _feats(1)).backward()
    assert all(float(t.grad.abs().sum()) > 0 for t in est)


def test_prior_distance_checks_shapes():
    f = _feats()
    with pytest.raises(ValueError, match="level 1"):
        prior_distance(f, [f[0], torch.randn(2, 8, 4, 4)])
    with pytest.raises(ValueError, match="same non-zero number"):
        prior_distance(f, f[:1])
    with pytest.raises(ValueError, match="weights"):
        prior_distance(f, f, [torch.ones(4), torch.ones(3)])


def test_resize_prior_targets():
    maps = [torch.rand(1, 32, 35, 35), torch.rand(1, 64, 17, 17), torch.rand(1, 128, 8, 8)]
    out = resize_prior_targets(maps, [(128, 128), (64, 64), (32, 32)])
    assert [tuple(o.shape) for o in out] == [(1, 32, 128, 128), (1, 64, 64, 64), (1, 128, 32, 32)]
    same = resize_prior_targets(maps[:1], [(35, 35)])
    assert same[0] is maps[0]


# -- adversarial losses ----------------------------------------------------------------------------


def test_hinge_losses():
    real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    assert float(d_hinge_loss(real, fake)) == 0.0
    assert float(d_hinge_loss(torch.zeros(3), torch.zeros(3))) == pytest.approx(2.0)
    assert float(g_hinge_loss(fake)) == pytest.approx(2.0)
    assert float(g_hinge_loss([fake, -fake])) == pytest.approx(0.0)  # mean over a list of outputs


def test_nonsaturating_losses_match_bce():
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    real, fake = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    expected = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    assert float(d_nonsaturating_loss(real, fake)) == pytest.approx(float(expected), rel=1e-5)
    assert float(g_nonsaturating_loss(fake)) == pytest.approx(float(bce(fake, torch.ones_like(fake))), rel=1e-5)
    assert float(discriminator_loss("hinge", real, fake)) == pytest.approx(float(d_hinge_loss(real, fake)))
    assert float(generator_loss("nonsaturating", fake)) == pytest.approx(float(g_nonsaturating_loss(fake)))
    with pytest.raises(ValueError, match="unknown GAN loss"):
        generator_loss("wgan", fake)
    with pytest.raises(ValueError, match="empty"):
        g_hinge_loss([])


# -- identity loss ---------------------------------------------------------------------------------


def test_identity_loss_zero_for_same_faces_and_differentiable():
    from facedeblur.face.identity import load_identity_network
    from facedeblur.losses.identity import IdentityLoss

    loss = IdentityLoss(load_identity_network())
    assert loss.state_dict() == {}
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 64, 64)
    assert float(loss(gt, gt)) == pytest.approx(0.0, abs=1e-5)
    restored = (gt + 0.2 * torch.randn_like(gt)).requires_grad_()
    value = loss(restored, gt)
    assert float(value.detach()) > 0
    value.backward()
    assert float(restored.grad.abs().sum()) > 0
