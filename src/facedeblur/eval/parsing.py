"""Face-parsing accuracy: confusion matrix, per-class IoU and mean IoU.

IoU of class c = TP / (TP + FP + FN) over all pixels of a set of images (accumulated, not averaged per
image, as segmentation benchmarks do). Classes absent from both prediction and target have no IoU
(NaN) and are left out of the mean.

Example:
    >>> import numpy as np
    >>> target = np.array([[0, 0], [1, 1]])
    >>> pred = np.array([[0, 1], [1, 1]])
    >>> iou_per_class(confusion_matrix(pred, target, 2)).round(3).tolist()
    [0.5, 0.667]
"""

from __future__ import annotations

import numpy as np

__all__ = ["confusion_matrix", "iou_per_class", "mean_iou"]


def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = 255) -> np.ndarray:
    """Pixel counts ``M[t, p]`` of target class ``t`` predicted as ``p``.

    Args:
        pred: integer label maps (numpy array or torch tensor), any shape.
        target: integer label maps of the same shape.
        num_classes: number of classes C.
        ignore_index: target value whose pixels are not counted (None: count all).

    Returns:
        ``(C, C)`` int64 matrix; add matrices of several batches to accumulate.
    """
    pred = np.asarray(pred.cpu() if hasattr(pred, "cpu") else pred).astype(np.int64).ravel()
    target = np.asarray(target.cpu() if hasattr(target, "cpu") else target).astype(np.int64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in size: {pred.size} vs {target.size} pixels")
    keep = np.ones_like(target, bool) if ignore_index is None else target != ignore_index
    pred, target = pred[keep], target[keep]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes or target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return np.bincount(target * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU ``TP / (TP + FP + FN)`` from a confusion matrix; NaN for classes never seen."""
    conf = np.asarray(conf, dtype=np.float64)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {conf.shape}")
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(conf: np.ndarray) -> float:
    """Mean of :func:`iou_per_class` over the classes that occur (NaN if none)."""
    iou = iou_per_class(conf)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
