"""Semantic-aware style loss and feature matching: masks partition, zero iff equal, gradients."""

from __future__ import annotations

import pytest
import torch

from facedeblur.losses.feature_matching import feature_matching_loss
from facedeblur.losses.style import SemanticStyleLoss, masked_gram, region_masks, resize_masks, semantic_style_loss


def _labels(b=2, size=32, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, classes, (b, size, size), generator=g)


def test_region_masks_partition_the_image_at_every_size():
    masks = region_masks(_labels(), 10)
    assert masks.shape == (2, 10, 32, 32)
    assert torch.equal(masks.sum(1), torch.ones(2, 32, 32))
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    for size in [(17, 17), (4, 4), (72, 72)]:
        small = resize_masks(masks, size)
        assert torch.equal(small.sum(1), torch.ones(2, *size))


def test_masked_gram_matches_a_direct_computation():
    f = torch.rand(1, 3, 4, 4)
    m = torch.zeros(1, 2, 4, 4)
    m[:, 0, :2] = 1
    m[:, 1, 2:] = 1
    g = masked_gram(f, m)
    top = f[0, :, :2].reshape(3, -1)
    torch.testing.assert_close(g[0, 0], top @ top.T / (3 * 8), rtol=1e-5, atol=1e-6)
    assert g.shape == (1, 2, 3, 3)


def test_style_loss_zero_for_identical_and_positive_otherwise():
    feats = [torch.rand(2, 8, 16, 16), torch.rand(2, 16, 8, 8)]
    masks = region_masks(_labels(), 10)
    assert float(semantic_style_loss(feats, feats, masks)) == 0.0
    other = [f * 1.5 + 0.1 for f in feats]
    assert float(semantic_style_loss(other, feats, masks)) > 0


def test_style_loss_is_regional():
    """Swapping textures between regions changes the loss although global statistics stay alike."""
    f = torch.zeros(1, 2, 8, 8)
    f[:, 0, :4] = 1.0  # channel 0 lives in the top half
    f[:, 1, 4:] = 1.0  # channel 1 in the bottom half
    swapped = f.flip(2)
    masks = torch.zeros(1, 2, 8, 8)
    masks[:, 0, :4] = 1
    masks[:, 1, 4:] = 1
    assert float(semantic_style_loss([swapped], [f], masks)) > 0
    whole = torch.ones(1, 1, 8, 8)
    assert float(semantic_style_loss([swapped], [f], whole)) == 0.0


def test_style_loss_module_with_the_identity_network():
    from facedeblur.face.identity import load_identity_network

    net = load_identity_network()
    loss = SemanticStyleLoss(net.features, layers=(2, 3, 4))
    assert not list(loss.state_dict())  # the frozen backbone is not part of the loss's state
    real = torch.rand(1, 3, 64, 64)
    masks = region_masks(_labels(1, 64), 10)
    assert float(loss(real, real, masks)) == 0.0
    fake = (real + 0.3 * torch.rand_like(real)).clamp(0, 1).requires_grad_(True)
    value = loss(fake, real, masks)
    assert float(value.detach()) > 0
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="layers"):
        SemanticStyleLoss(net.features, layers=(9,))(real, real, masks)


def test_feature_matching_zero_for_equal_and_ignores_scores():
    real = [[torch.rand(1, 4, 8, 8), torch.rand(1, 1, 4, 4)] for _ in range(3)]
    assert float(feature_matching_loss(real, real)) == 0.0
    fake = [[f, s + 5] for f, s in real]  # only the score maps differ
    assert float(feature_matching_loss(fake, real)) == 0.0
    fake = [[f + 1, s] for f, s in real]
    assert float(feature_matching_loss(fake, real)) == pytest.approx(1.0)
