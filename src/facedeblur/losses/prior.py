"""DFPGnet's prior loss: LPIPS-like distance between estimated and true deep-feature priors.

For each prior level ``l`` both maps are normalised to unit length along the channel axis
(:func:`facedeblur.models.blocks.normalize_channels`), their squared difference is weighted per channel by non-negative
weights ``w_l`` and summed over channels, averaged over pixels and batch, and the levels are summed:

    L_prior = sum_l mean_{b,h,w} sum_c w_{l,c} (n(f_est)_{b,c,h,w} - n(f_true)_{b,c,h,w})^2

It is zero exactly when the normalised maps agree and positive otherwise (all weights are > 0).

Learnable weights (:class:`PriorLoss`): ``w_l = C_l * softmax(2 * tanh(theta_l))``, i.e. strictly
positive, mean 1 over the channels (they cannot collapse to zero) and at most ``e^4`` apart. LPIPS
learns such weights from human judgements, which we do not have; DFPGnet wants the generator to
attend to the prior channels that matter. Our choice: the weights are trained on the discriminator
side, *ascending* the prior loss (see :meth:`PriorLoss.weight_loss`), so they move towards the
channels the generator currently estimates worst; the generator descends the same loss. With the
bounded parameterisation this min-max is well posed. Weights can also be frozen (uniform = 1),
which gives the plain channel-normalised feature distance.

Example:
    >>> import torch
    >>> loss = PriorLoss((4, 8))
    >>> f = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    >>> float(loss(f, f).detach())
    0.0
    >>> bool(loss([t + torch.randn_like(t) for t in f], f) > 0)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from facedeblur.models.blocks import normalize_channels

__all__ = [
    "PriorLoss",
    "normalize_channels",
    "prior_distance",
    "resize_prior_targets",
]  # normalize_channels lives in models.blocks


def prior_distance(
    estimated: Sequence[torch.Tensor],
    target: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Channel-normalised, channel-weighted squared distance summed over prior levels.

    Args:
        estimated: estimated prior maps, one (B, C_l, H_l, W_l) tensor per level.
        target: true prior maps with the same shapes.
        weights: optional non-negative per-channel weights, one (C_l,) tensor per level
            (None: all ones).

    Returns:
        Scalar tensor >= 0; zero when the normalised maps agree.
    """
    if len(estimated) != len(target) or not estimated:
        raise ValueError(f"expected the same non-zero number of levels, got {len(estimated)} and {len(target)}")
    if weights is not None and len(weights) != len(estimated):
        raise ValueError(f"expected {len(estimated)} weight vectors, got {len(weights)}")
    total = estimated[0].new_zeros(())
    for level, (est, tgt) in enumerate(zip(estimated, target, strict=True)):
        if est.shape != tgt.shape:
            raise ValueError(f"prior level {level}: estimated {tuple(est.shape)} != target {tuple(tgt.shape)}")
        diff = (normalize_channels(est) - normalize_channels(tgt)).pow(2)
        if weights is not None:
            w = weights[level]
            if w.shape != (est.shape[1],):
                raise ValueError(f"prior level {level}: expected ({est.shape[1]},) weights, got {tuple(w.shape)}")
            diff = diff * w.view(1, -1, 1, 1)
        total = total + diff.sum(dim=1).mean()
    return total


def resize_prior_targets(features: Sequence[torch.Tensor], sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """Resample the prior network's feature maps to the generator's prior resolutions (bilinear).

    Our prior network (dlib's ResNet at 150 px) has coarser maps than the 128/64/32 px levels of the
    generator; the targets are resized rather than the generator's estimates, so the generator keeps
    the paper's geometry.

    Args:
        features: one (B, C_l, h_l, w_l) map per level.
        sizes: the (H_l, W_l) to resize level ``l`` to.

    Returns:
        List of (B, C_l, H_l, W_l) maps.
    """
    if len(features) != len(sizes):
        raise ValueError(f"expected one size per feature map, got {len(features)} maps and {len(sizes)} sizes")
    out = []
    for f, size in zip(features, sizes, strict=True):
        size = (int(size[0]), int(size[1]))
        out.append(
            f if tuple(f.shape[2:]) == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
        )
    return out


class PriorLoss(nn.Module):
    """Prior loss with learnable per-channel weights (see the module docstring).

    Args:
        channels: channels of each prior level.
        learnable: if False the weights stay uniform (1) and the module has no parameters.

    Shape:
        forward(estimated, target): lists of (B, C_l, H_l, W_l) -> scalar.
    """

    def __init__(self, channels: Sequence[int], learnable: bool = True) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1:
            raise ValueError(f"expected positive channel counts, got {channels}")
        self.channels = channels
        self.learnable = learnable
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(c), requires_grad=learnable) for c in channels)

    def weights(self) -> list[torch.Tensor]:
        """The current per-channel weights, one (C_l,) tensor per level; positive with mean 1."""
        return [
            c * torch.softmax(2.0 * torch.tanh(theta), dim=0)
            for c, theta in zip(self.channels, self.logits, strict=True)
        ]

    def forward(
        self, estimated: Sequence[torch.Tensor], target: Sequence[torch.Tensor], ascend: bool = False
    ) -> torch.Tensor:
        """The prior loss; with ``ascend=True`` the loss the weights minimise on the discriminator side:
        the negated prior loss of detached maps (a forward call, so DDP/Fabric wrappers see it)."""
        if ascend:
            return -prior_distance([e.detach() for e in estimated], [t.detach() for t in target], self.weights())
        return prior_distance(estimated, target, self.weights())

    def weight_loss(self, estimated: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> torch.Tensor:
        """Same as ``self(estimated, target, ascend=True)``."""
        return self(estimated, target, ascend=True)
