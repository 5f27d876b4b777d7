"""Adversarial (GAN) losses on raw discriminator logits: hinge and non-saturating.

Every function takes the discriminator's raw (pre-sigmoid) outputs of any shape and returns a
scalar mean over all elements. A discriminator with several outputs (multi-scale PatchGANs) is
handled by passing a list/tuple of logit tensors: the loss is the mean of the per-tensor losses.

Example:
    >>> import torch
    >>> real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
    >>> float(d_hinge_loss(real, fake))  # both beyond the margin
    0.0
    >>> float(g_hinge_loss(fake))
    2.0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

Logits = torch.Tensor | Sequence[torch.Tensor]

__all__ = [
    "GAN_LOSSES",
    "d_hinge_loss",
    "d_nonsaturating_loss",
    "discriminator_loss",
    "g_hinge_loss",
    "g_nonsaturating_loss",
    "generator_loss",
]


def _as_list(logits: Logits, name: str) -> list[torch.Tensor]:
    items = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    if not items:
        raise ValueError(f"{name}: expected a tensor or a non-empty list of tensors, got an empty list")
    for item in items:
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"{name}: expected torch.Tensor logits, got {type(item).__name__}")
    return items


def _mean_over(items: list[torch.Tensor], fn) -> torch.Tensor:
    return torch.stack([fn(t) for t in items]).mean()


def d_hinge_loss(real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Discriminator hinge loss ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``.

    Args:
        real_logits: discriminator outputs on real samples (tensor or list of tensors).
        fake_logits: discriminator outputs on generated samples (detach them for the D step).

    Returns:
        Scalar tensor, >= 0; zero once real logits are >= 1 and fake logits are <= -1.

    Shape:
        Any shapes; each tensor is averaged over all its elements.
    """
    real = _mean_over(_as_list(real_logits, "real_logits"), lambda t: F.relu(1.0 - t).mean())
    fake = _mean_over(_as_list(fake_logits, "fake_logits"), lambda t: F.relu(1.0 + t).mean())
    return real + fake


def g_hinge_loss(fake_logits: Logits) -> torch.Tensor:
    """Generator hinge loss ``-mean(D(fake))``.

    Args:
        fake_logits: discriminator outputs on generated samples (not detached).

    Returns:
        Scalar tensor (may be negative).
    """
    return _mean_over(_as_list(fake_logits, "fake_logits"), lambda t: -t.mean())


def d_nonsaturating_loss(real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Discriminator loss of the standard GAN: ``softplus(-D(real)) + softplus(D(fake))``.

    This is binary cross-entropy with targets 1 for real and 0 for fake, on logits.

    Args:
        real_logits: discriminator outputs on real samples.
        fake_logits: discriminator outputs on generated samples (detached for the D step).

    Returns:
        Scalar tensor, > 0.
    """
    real = _mean_over(_as_list(real_logits, "real_logits"), lambda t: F.softplus(-t).mean())
    fake = _mean_over(_as_list(fake_logits, "fake_logits"), lambda t: F.softplus(t).mean())
    return real + fake


def g_nonsaturating_loss(fake_logits: Logits) -> torch.Tensor:
    """Non-saturating generator loss ``softplus(-D(fake))`` (= BCE with target 1).

    Args:
        fake_logits: discriminator outputs on generated samples (not detached).

    Returns:
        Scalar tensor, > 0.
    """
    return _mean_over(_as_list(fake_logits, "fake_logits"), lambda t: F.softplus(-t).mean())


# kind -> (discriminator loss, generator loss)
GAN_LOSSES = {
    "hinge": (d_hinge_loss, g_hinge_loss),
    "nonsaturating": (d_nonsaturating_loss, g_nonsaturating_loss),
}


def _check_kind(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; expected one of {sorted(GAN_LOSSES)}")


def discriminator_loss(kind: str, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Discriminator loss of the named kind (``"hinge"`` or ``"nonsaturating"``)."""
    _check_kind(kind)
    return GAN_LOSSES[kind][0](real_logits, fake_logits)


def generator_loss(kind: str, fake_logits: Logits) -> torch.Tensor:
    """Generator loss of the named kind (``"hinge"`` or ``"nonsaturating"``)."""
    _check_kind(kind)
    return GAN_LOSSES[kind][1](fake_logits)
