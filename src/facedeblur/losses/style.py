"""PSFR-GAN's semantic-aware style loss: Gram matrices of deep features, one per parsing region.

For every feature layer and every parsing class ``r`` the features of the restored and of the sharp
face are masked by the region (the one-hot parsing map resized to the layer), and their Gram matrix is
normalised by the channel count and the region's area:

    G_r(F) = (F * M_r)(F * M_r)^T / (C * (sum M_r + eps))

The loss is the mean squared difference between the restored and sharp faces' Gram matrices, summed
over layers. It matches texture statistics region by region (skin with skin, eyes with eyes), which
is what lets PSFR-GAN restore realistic, region-appropriate detail.

Backbone: the paper uses an ImageNet VGG-19; no ImageNet weights can be had offline, so we use our
identity network (dlib's face-recognition ResNet, :func:`facedeblur.face.identity.load_identity_network`)
and its deeper feature maps (``level3``, ``level2``, ``level1`` by default, the analogues of VGG's
relu3..5 that the paper's code uses). A face-recognition network's features are, if anything, more
face-specific than VGG's; their scale differs, so the loss weight of the paper (1000) is not
directly transferable and is a recipe option.

Example:
    >>> import torch
    >>> feats = [torch.rand(2, 8, 16, 16)]
    >>> parsing = region_masks(torch.randint(0, 3, (2, 32, 32)), 3)
    >>> float(semantic_style_loss(feats, feats, parsing))
    0.0
    >>> bool(semantic_style_loss([f + 0.5 * torch.rand_like(f) for f in feats], feats, parsing) > 0)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SemanticStyleLoss", "masked_gram", "region_masks", "resize_masks", "semantic_style_loss"]


def region_masks(labels: Tensor, num_classes: int) -> Tensor:
    """One binary mask per parsing class from a label map; the masks partition the image.

    Args:
        labels: ``(B, H, W)`` integer class labels in ``[0, num_classes)``.
        num_classes: number of regions C.

    Returns:
        ``(B, C, H, W)`` float masks; every pixel belongs to exactly one region.

    Example:
        >>> m = region_masks(torch.tensor([[[0, 1], [1, 1]]]), 2)
        >>> m.sum(dim=1).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """
    from facedeblur.models.parsenet import labels_to_onehot

    return labels_to_onehot(labels, num_classes)


def resize_masks(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize region masks to a feature map's size by nearest neighbour (they still partition it).

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, size[0], size[1])``.
    """
    if masks.ndim != 4:
        raise ValueError(f"masks: expected (B,C,H,W), got {tuple(masks.shape)}")
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    return F.interpolate(masks, size=size, mode="nearest")


def masked_gram(features: Tensor, masks: Tensor, eps: float = 1e-8) -> Tensor:
    """Gram matrices of ``features`` inside each region, normalised by channels and region area.

    Args:
        features: ``(B, C, H, W)`` feature maps.
        masks: ``(B, R, H, W)`` region masks at the features' size.
        eps: keeps empty regions finite (their Gram matrix is zero).

    Returns:
        ``(B, R, C, C)`` Gram matrices.
    """
    if features.ndim != 4 or masks.ndim != 4 or features.shape[0] != masks.shape[0]:
        raise ValueError(
            f"expected (B,C,H,W) features and (B,R,H,W) masks, got {tuple(features.shape)}, {tuple(masks.shape)}"
        )
    if features.shape[-2:] != masks.shape[-2:]:
        raise ValueError(f"features {tuple(features.shape[-2:])} and masks {tuple(masks.shape[-2:])} differ in size")
    b, c, h, w = features.shape
    r = masks.shape[1]
    f = features.reshape(b, 1, c, h * w) * masks.reshape(b, r, 1, h * w).to(features.dtype)
    gram = f @ f.transpose(-1, -2)
    area = masks.reshape(b, r, h * w).sum(dim=-1).to(features.dtype) + eps
    return gram / (c * area).view(b, r, 1, 1)


def semantic_style_loss(fake_feats: Sequence[Tensor], real_feats: Sequence[Tensor], masks: Tensor) -> Tensor:
    """Sum over layers of the MSE between per-region Gram matrices of restored and sharp features.

    Args:
        fake_feats: feature maps of the restored faces (gradients flow through them).
        real_feats: feature maps of the sharp faces, same shapes (treated as constants).
        masks: ``(B, R, H, W)`` region masks at any size (resized per layer, nearest).

    Returns:
        Scalar tensor, zero when the features agree, positive otherwise.
    """
    if len(fake_feats) != len(real_feats) or not fake_feats:
        raise ValueError(f"expected the same non-zero number of layers, got {len(fake_feats)} and {len(real_feats)}")
    total = fake_feats[0].new_zeros(())
    for i, (xf, yf) in enumerate(zip(fake_feats, real_feats, strict=True)):
        if xf.shape != yf.shape:
            raise ValueError(f"layer {i}: restored {tuple(xf.shape)} and sharp {tuple(yf.shape)} features differ")
        m = resize_masks(masks, tuple(xf.shape[-2:]))
        total = total + F.mse_loss(masked_gram(xf, m), masked_gram(yf, m).detach())
    return total


class SemanticStyleLoss(nn.Module):
    """Semantic-aware style loss with a frozen feature backbone (kept out of this module's state dict).

    Args:
        backbone: maps ``(B, 3, H, W)`` RGB [0, 1] to a list of feature maps, shallow to deep; e.g.
            ``load_identity_network().features``.
        layers: indices of the backbone's feature maps to use.

    Shape:
        - fake, real: ``(B, 3, H, W)``; masks: ``(B, R, H, W)`` (one-hot parsing of the sharp face).
        - Output: scalar.
    """

    def __init__(self, backbone: Callable[[Tensor], list[Tensor]], layers: Sequence[int] = (2, 3, 4)) -> None:
        super().__init__()
        if not layers:
            raise ValueError("layers must name at least one feature map")
        self._backbone = [backbone]  # a list keeps a frozen network out of state_dict and .to()
        self.layers = tuple(int(i) for i in layers)

    def forward(self, fake: Tensor, real: Tensor, masks: Tensor) -> Tensor:
        backbone = self._backbone[0]
        fake_all = backbone(fake)
        with torch.no_grad():
            real_all = backbone(real)
        try:
            fake_feats = [fake_all[i] for i in self.layers]
            real_feats = [real_all[i] for i in self.layers]
        except IndexError as err:
            raise ValueError(f"layers {self.layers}: the backbone gives only {len(fake_all)} feature maps") from err
        return semantic_style_loss(fake_feats, real_feats, masks)
