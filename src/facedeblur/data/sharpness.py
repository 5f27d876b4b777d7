"""No-reference sharpness scores for curating ground-truth faces.

Two measures:

- ``laplacian``: variance of the Laplacian of the 8-bit gray image (Pech-Pacheco et al. 2000), the
  classic focus measure. It grows with contrast and with noise/JPEG ringing, so a noisy, blurry face
  can score high and a sharp, low-contrast one low.
- ``crete``: the re-blur measure of Crete et al. 2007 ("The blur effect: perception and estimation
  with a new no-reference perceptual blur metric"), reported as sharpness = 1 - blur in [0, 1]. It
  blurs the image again with a 9-tap box filter and measures how much of the neighbouring-pixel
  variation disappears: a sharp image loses much, an already blurred one little. Being a ratio, it is
  independent of contrast and exposure, which makes one threshold work across faces of different skin
  tones and lighting — the reason we prefer it for curation.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sharp = rng.random((64, 64, 3)).astype(np.float32)
    >>> import cv2
    >>> blurry = cv2.GaussianBlur(sharp, (0, 0), 2)
    >>> crete_sharpness(sharp) > crete_sharpness(blurry), laplacian_variance(sharp) > laplacian_variance(blurry)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

METRICS = ("laplacian", "crete")
Metric = Literal["laplacian", "crete"]


def _gray255(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W, C) image, got shape {image.shape}")
    if image.dtype == np.uint8:
        data = image.astype(np.float32)
    elif image.dtype == np.uint16:
        data = image.astype(np.float32) / 257.0
    elif np.issubdtype(image.dtype, np.floating):
        data = image.astype(np.float32) * 255.0
    else:
        raise ValueError(f"expected uint8, uint16 or float pixels, got {image.dtype}")
    if data.shape[2] in (1, 2):
        return data[:, :, 0]
    return 0.299 * data[:, :, 0] + 0.587 * data[:, :, 1] + 0.114 * data[:, :, 2]


def _gray_at(image: np.ndarray, size: int | None) -> np.ndarray:
    from facedeblur.degrade.ops import square_resize

    return square_resize(_gray255(image) / 255.0, size) * 255.0


def laplacian_variance(image: np.ndarray, size: int | None = None) -> float:
    """Variance of the 3x3 Laplacian of the gray image on the 0..255 scale (higher = sharper).

    Args:
        image: (H, W, C) uint8/uint16, or float in [0, 1].
        size: score the centre square resized to ``size`` (the training size), or as is (None).
    """
    import cv2

    return float(cv2.Laplacian(_gray_at(image, size), cv2.CV_32F, ksize=1).var())


def crete_sharpness(image: np.ndarray, size: int | None = None, taps: int = 9) -> float:
    """Sharpness = 1 - Crete et al.'s blur estimate, in [0, 1] (higher = sharper); ``size`` as in
    :func:`laplacian_variance`."""
    import cv2

    f = _gray_at(image, size)
    score = 0.0
    # axis 0: vertical differences against a vertical box blur; axis 1: horizontal (cv2 sizes are (w, h))
    for axis, ksize in ((0, (1, taps)), (1, (taps, 1))):
        b = cv2.blur(f, ksize, borderType=cv2.BORDER_REFLECT_101)
        d_f = np.abs(np.diff(f, axis=axis))
        d_b = np.abs(np.diff(b, axis=axis))
        s_f = float(d_f.sum())
        if s_f <= 0:
            return 0.0
        s_v = float(np.maximum(0.0, d_f - d_b).sum())
        score = max(score, (s_f - s_v) / s_f)
    return float(1.0 - score)


def sharpness(image: np.ndarray, metric: Metric = "laplacian", size: int | None = None) -> float:
    """Score one image with ``metric`` ("laplacian" or "crete"), at ``size`` px (None: as is)."""
    if metric == "laplacian":
        return laplacian_variance(image, size)
    if metric == "crete":
        return crete_sharpness(image, size)
    raise ValueError(f"unknown sharpness metric {metric!r}; expected one of {METRICS}")


def score_file(path: str | Path, metrics: Sequence[str] = METRICS, size: int | None = None) -> dict[str, float]:
    """Score one image file with each of ``metrics`` at ``size`` px (None: as is), rounded to 6 decimals.

    Raises:
        InputError: the file is no readable image.
    """
    from facedeblur.images import read_image

    image = read_image(path)
    return {m: round(sharpness(image, m, size), 6) for m in metrics}


def score_files(
    paths: Sequence[str | Path],
    metrics: Sequence[str] = METRICS,
    skip_bad: bool = False,
    progress: bool = False,
    size: int | None = None,
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Score image files (each at ``size`` px when given, see :func:`laplacian_variance`).

    Returns:
        ``(scores, failures)``: ``{path: {metric: score}}`` and one-line messages for files that could
        not be scored (only with ``skip_bad``; otherwise the first bad file raises InputError). Any
        error of one file, not only an unreadable image, is its one-line failure (the batch core's
        :func:`facedeblur.batch.run.run_one`).
    """
    from facedeblur.batch.run import run_one
    from facedeblur.errors import InputError

    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown sharpness metric {m!r}; expected one of {METRICS}")
    scores: dict[str, dict[str, float]] = {}
    failures: list[str] = []
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="sharpness", unit="img")
    for path in iterator:

        def work(path=path) -> dict:
            return {"scores": score_file(path, metrics, size)}

        record = run_one(path, work)
        if record["status"] == "failed":
            if not skip_bad:
                raise InputError(record["error"])
            failures.append(record["error"])
            continue
        scores[str(path)] = record["scores"]
    return scores, failures
