"""Discriminator feature matching (pix2pixHD, used by PSFR-GAN with weight 10).

The generator is asked to produce images whose intermediate discriminator features match those of
the sharp faces: L1 between the features of every stage but the last (the score map), averaged over
the discriminators of a multi-scale discriminator.

Example:
    >>> import torch
    >>> real = [[torch.ones(1, 4, 8, 8), torch.ones(1, 1, 4, 4)]]
    >>> fake = [[torch.zeros(1, 4, 8, 8), torch.zeros(1, 1, 4, 4)]]
    >>> float(feature_matching_loss(fake, real))
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

__all__ = ["feature_matching_loss"]


def feature_matching_loss(fake_outs: Sequence[Sequence[Tensor]], real_outs: Sequence[Sequence[Tensor]]) -> Tensor:
    """L1 between discriminator features of restored and sharp faces, score maps excluded.

    Args:
        fake_outs: per discriminator, its list of stage outputs on the restored faces (last = scores).
        real_outs: the same on the sharp faces (treated as constants).

    Returns:
        Scalar tensor: sum over stages, mean over discriminators.
    """
    if len(fake_outs) != len(real_outs) or not fake_outs:
        raise ValueError(f"expected the same non-zero number of discriminators, got {len(fake_outs)}, {len(real_outs)}")
    total = None
    for d, (fake, real) in enumerate(zip(fake_outs, real_outs, strict=True)):
        if len(fake) != len(real) or len(fake) < 2:
            raise ValueError(
                f"discriminator {d}: expected equal lists of >= 2 stage outputs, got {len(fake)}, {len(real)}"
            )
        for f, r in zip(fake[:-1], real[:-1], strict=True):
            term = F.l1_loss(f, r.detach())
            total = term if total is None else total + term
    return total / len(fake_outs)
