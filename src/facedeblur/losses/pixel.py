"""Pixel losses between a restored batch and its ground truth.

Example:
    >>> import torch
    >>> x = torch.zeros(1, 3, 4, 4)
    >>> float(huber_loss(x, x + 1.0, delta=0.5))
    0.375
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"{name}: expected two tensors, got {type(pred).__name__} and {type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def huber_loss(pred: torch.Tensor, target: torch.Tensor, delta: float = 0.01) -> torch.Tensor:
    """Mean Huber loss: quadratic for errors below ``delta``, linear above (Chrysos & Zafeiriou's loss).

    Args:
        pred: restored images.
        target: ground-truth images.
        delta: where the loss switches from quadratic to linear, in image units ([0, 1] intensities).

    Returns:
        Scalar tensor.

    Shape:
        - pred, target: any, equal shapes.
    """
    _check_pair(pred, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return F.huber_loss(pred, target, delta=delta)


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error. Shapes must match; returns a scalar tensor."""
    _check_pair(pred, target, "l1_loss")
    return F.l1_loss(pred, target)


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of ``sqrt((pred - target)^2 + eps^2)``, a smooth L1. Shapes must match; returns a scalar tensor."""
    _check_pair(pred, target, "charbonnier_loss")
    if eps <= 0:
        raise ValueError(f"charbonnier_loss: eps must be > 0, got {eps}")
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def frequency_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the images' 2-D real spectra (orthonormal FFT), computed in float32.

    A pixel loss weights all frequencies alike and lets a restorer stay blurry at little cost; the
    spectral distance makes missing fine detail count (the "frequency loss" of MIMO-UNet, Cho et al. 2021).

    Args:
        pred: restored images.
        target: ground-truth images.

    Returns:
        Scalar tensor.

    Shape:
        - pred, target: (..., H, W), equal shapes.

    Example:
        >>> x = torch.zeros(1, 3, 8, 8)
        >>> float(frequency_loss(x, x))
        0.0
    """
    _check_pair(pred, target, "frequency_loss")
    with torch.autocast(pred.device.type, enabled=False):
        diff = torch.fft.rfft2(pred.float() - target.float(), norm="ortho")
        return diff.abs().mean()


PIXEL_LOSSES = {"huber": huber_loss, "l1": l1_loss, "charbonnier": charbonnier_loss}
"""Pixel losses by name, for configs (``loss: huber``)."""
