"""Loading face images for evaluation: float RGB at the model size, sharpness and seeded selection.

Example:
    >>> import numpy as np
    >>> laplacian_variance(np.zeros((32, 32, 3), np.float32))
    0.0
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facedeblur.data.datasets import list_images as _list_images
from facedeblur.data.sharpness import laplacian_variance

__all__ = ["laplacian_variance", "list_images", "load_face", "select_sharp_faces"]


def load_face(path: str | Path, size: int | None = 128) -> np.ndarray:
    """Read an image as float32 RGB in [0, 1], resized to ``size`` x ``size`` (area interpolation).

    Args:
        path: image file (any format :func:`facedeblur.images.read_image` reads).
        size: output side; ``None`` keeps the original size.

    Returns:
        (size, size, 3) float32 RGB.

    Raises:
        InputError: unreadable image (the message names the file).
    """
    import cv2

    from facedeblur.images import read_image, to_float_rgb

    rgb, _, _ = to_float_rgb(read_image(path))
    if size is not None and rgb.shape[:2] != (size, size):
        interp = cv2.INTER_AREA if min(rgb.shape[:2]) >= size else cv2.INTER_CUBIC
        rgb = np.clip(cv2.resize(rgb, (size, size), interpolation=interp), 0.0, 1.0)
    return rgb.astype(np.float32)


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder (not recursive), sorted by name."""
    return _list_images(folder, recursive=False)


def select_sharp_faces(
    paths: list[Path], count: int, seed: int = 0, size: int = 128, min_quantile: float = 0.25
) -> list[Path]:
    """A seeded random choice of ``count`` faces among those not in the blurriest ``min_quantile``.

    Ground truths must be sharp: some UTKFace faces are themselves blurry or compressed. Sharpness is
    :func:`laplacian_variance` at ``size`` px; the returned list is sorted by name.

    Args:
        paths: candidate image files.
        count: how many to return (all eligible ones if fewer; 0 means all eligible).
        seed: random seed of the choice.
        size: side the sharpness is measured at.
        min_quantile: fraction of the blurriest candidates excluded.
    """
    if not paths:
        raise ValueError("no candidate images")
    scores = np.array([laplacian_variance(load_face(p, size)) for p in paths])
    threshold = np.quantile(scores, min_quantile)
    eligible = [p for p, s in zip(paths, scores, strict=True) if s >= threshold]
    rng = np.random.default_rng(seed)
    if 0 < count < len(eligible):
        eligible = [eligible[i] for i in rng.choice(len(eligible), size=count, replace=False)]
    return sorted(eligible)
