"""Chrysos & Zafeiriou's network, the shared blocks and the pixel losses: shapes, gradients, checks."""

from __future__ import annotations

import pytest
import torch

from facedeblur.losses import PIXEL_LOSSES, charbonnier_loss, huber_loss, l1_loss
from facedeblur.models.blocks import ResidualBlock, ResidualGroup, SEAttention, make_activation, make_norm
from facedeblur.models.chrysos import ChrysosNet, build_chrysos
from facedeblur.models.registry import build_model


def test_shape_is_kept_at_full_resolution_without_pooling():
    net = build_chrysos(width=8, blocks=3)
    x = torch.rand(2, 3, 128, 128)
    assert net(x).shape == x.shape
    assert net(torch.rand(1, 3, 40, 56)).shape == (1, 3, 40, 56)  # fully convolutional
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in net.modules())
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.stride == (1, 1) for c in convs)


def test_skips_are_batch_normalised_and_mapped_linearly():
    net = build_chrysos(width=4, blocks=4, skip_every=2)
    assert net.skip_ids == [1, 3]
    assert all(isinstance(n, torch.nn.BatchNorm2d) for n in net.skip_norms)
    assert net.to_image.kernel_size == (1, 1) and net.to_image.in_channels == 8


def test_residual_net_starts_as_identity_and_plain_net_does_not():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(build_chrysos(width=4, blocks=2).eval()(x), x)
    assert not torch.allclose(build_chrysos(width=4, blocks=2, residual=False).eval()(x), x)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = build_chrysos(width=4, blocks=2, residual=False)
    lq, gt = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    huber_loss(net(lq), gt).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_gradcheck_in_double_precision():
    torch.manual_seed(0)
    net = build_chrysos(width=2, blocks=1, residual=False).double().eval()
    x = torch.rand(1, 3, 5, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_registry_builds_it_and_bad_configs_are_refused():
    assert isinstance(build_model("chrysos", width=4, blocks=1), ChrysosNet)
    with pytest.raises(TypeError, match="depth"):
        build_chrysos(depth=3)
    with pytest.raises(ValueError, match=">= 1"):
        build_chrysos(width=0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        build_chrysos(width=4, blocks=1)(torch.rand(3, 16, 16))


def test_blocks_keep_shape_and_se_gates_channels():
    x = torch.rand(2, 8, 10, 10)
    for norm in ("batch", "instance", "none"):
        assert ResidualBlock(8, norm=norm, act="lrelu", se_reduction=4)(x).shape == x.shape
    assert ResidualGroup(8, 2, norm="none")(x).shape == x.shape
    se = SEAttention(8, reduction=4)
    out = se(x)
    ratio = out / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)  # one gate per channel
    assert ((ratio > 0) & (ratio < 1)).all()
    with pytest.raises(ValueError, match="norm"):
        make_norm("group", 8)
    with pytest.raises(ValueError, match="activation"):
        make_activation("gelu")


def test_pixel_losses():
    x = torch.zeros(1, 3, 4, 4)
    assert float(huber_loss(x, x + 0.005, delta=0.01)) == pytest.approx(0.5 * 0.005**2)
    assert float(huber_loss(x, x + 1.0, delta=0.01)) == pytest.approx(0.01 * (1.0 - 0.005))
    assert float(l1_loss(x, x + 0.5)) == pytest.approx(0.5)
    assert float(charbonnier_loss(x, x, eps=1e-3)) == pytest.approx(1e-3)
    assert set(PIXEL_LOSSES) == {"huber", "l1", "charbonnier"}
    with pytest.raises(ValueError, match="shape"):
        huber_loss(x, torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="delta"):
        huber_loss(x, x, delta=0)
