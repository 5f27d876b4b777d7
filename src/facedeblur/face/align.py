"""Face alignment: the canonical template, similarity warps to any size and back, and the loose crop.

Every bundled model trains on UTKFace "aligned & cropped" 200 px faces resized to 128 px. An aligned
crop of a face in a user's photo must therefore look like such a resized UTKFace image: the template
is the mean dlib 5-point landmark position measured over UTKFace training faces
(``template.json``, see docs/face-template.md), rescaled to the crop size.

Coordinates put pixel centres at integers (dlib's and OpenCV's convention). Matrices are (2, 3)
affine maps from image coordinates to crop coordinates; :func:`invert_affine` gives the exact way
back (used by :mod:`facedeblur.face.paste`).

Example:
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((300, 400, 3), dtype=np.float32)
    >>> landmarks = template(200) * 1.5 + np.float32([60, 20])
    >>> crop, matrix = align_face(image, landmarks, 128)
    >>> crop.shape, matrix.shape
    ((128, 128, 3), (2, 3))
    >>> bool(np.abs(transform_points(landmarks, matrix) - template(128)).max() < 1e-3)
    True
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

TEMPLATE_FILE = Path(__file__).with_name("template.json")
BORDER_MODES = ("reflect", "replicate", "constant")


@lru_cache(maxsize=1)
def template_data() -> dict:
    """The measured template record (see docs/face-template.md): means, spreads, source image size."""
    with open(TEMPLATE_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def _rescale_points(points: np.ndarray, source: float, size: float) -> np.ndarray:
    # Resizing an image of side `source` to `size` maps pixel centres as (x + 0.5) * size / source - 0.5.
    return ((np.asarray(points, np.float64) + 0.5) * (size / source) - 0.5).astype(np.float32)


def template(size: int = 128) -> np.ndarray:
    """Canonical 5-point landmarks for a ``size`` x ``size`` aligned face.

    Args:
        size: side of the aligned crop in pixels.

    Returns:
        (5, 2) float32 x, y in dlib's 5-point order, where a UTKFace image resized to ``size`` has them.

    Example:
        >>> template(128).shape
        (5, 2)
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    data = template_data()
    return _rescale_points(np.asarray(data["landmarks5_mean"]), data["image_size"][0], size)


def template68(size: int = 128) -> np.ndarray:
    """Mean 68-point landmarks of UTKFace faces, rescaled to a ``size`` x ``size`` crop: (68, 2) float32.

    Example:
        >>> template68(200).shape
        (68, 2)
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    data = template_data()
    return _rescale_points(np.asarray(data["landmarks68_mean"]), data["image_size"][0], size)


def _check_points(points: np.ndarray, name: str, count: int | None = None) -> np.ndarray:
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or (count is not None and points.shape[0] != count):
        expected = f"({count}, 2)" if count else "(N, 2)"
        raise ValueError(f"{name} must have shape {expected}, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return points


def similarity_matrix(src_points: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) from src to dst.

    Umeyama's closed form.

    Args:
        src_points: (N, 2) points, N >= 2.
        dst_points: (N, 2) corresponding points.

    Returns:
        (2, 3) float64 matrix M with dst ~ M @ [x, y, 1].

    Example:
        >>> import numpy as np
        >>> src = np.array([[0, 0], [1, 0], [0, 1]], float)
        >>> np.round(similarity_matrix(src, 2 * src + 3), 6).tolist()
        [[2.0, 0.0, 3.0], [0.0, 2.0, 3.0]]
    """
    src = _check_points(src_points, "src_points")
    dst = _check_points(dst_points, "dst_points")
    if src.shape != dst.shape or src.shape[0] < 2:
        raise ValueError(f"need the same number (>= 2) of src and dst points, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var <= 1e-12:
        raise ValueError("src_points are all the same point: no similarity transform exists")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / src_var
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Exact inverse of a (2, 3) affine matrix.

    Example:
        >>> import numpy as np
        >>> m = np.array([[2.0, 0, 3], [0, 2, 1]])
        >>> invert_affine(m).tolist()
        [[0.5, 0.0, -1.5], [0.0, 0.5, -0.5]]
    """
    matrix = np.asarray(matrix, np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"expected a (2, 3) affine matrix, got shape {matrix.shape}")
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    if abs(np.linalg.det(full)) < 1e-12:
        raise ValueError("the affine matrix is singular and cannot be inverted")
    return np.linalg.inv(full)[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points; returns (N, 2) float32."""
    points = _check_points(points, "points")
    matrix = np.asarray(matrix, np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def matrix_scale(matrix: np.ndarray) -> float:
    """Area scale factor of an affine map, as a length ratio (sqrt of |det|)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    out_size: tuple[int, int],
    border: str = "reflect",
    interpolation: str = "linear",
) -> np.ndarray:
    """Warp ``image`` by an affine ``matrix`` (image -> output coordinates) into ``out_size``.

    Only the part of the image the output needs is read, so faces in huge photos are cheap. When the
    warp shrinks (scale < 1) that part is first downscaled with area averaging, so small crops of big
    faces do not alias.

    Args:
        image: (H, W) or (H, W, C) float32 or uint8 array.
        matrix: (2, 3) affine map from image to output coordinates.
        out_size: (height, width) of the output.
        border: how pixels outside the image are filled: "reflect" (mirror, default: gives the network
            plausible context for faces at the border), "replicate" or "constant" (zeros).
        interpolation: "linear" or "cubic" (cubic may overshoot [0, 1] slightly: clip if needed).

    Returns:
        (out_h, out_w[, C]) array of the input dtype.
    """
    import cv2

    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C <= 4, got shape {image.shape}")
    if border not in BORDER_MODES:
        raise ValueError(f"border must be one of {BORDER_MODES}, got {border!r}")
    if interpolation not in ("linear", "cubic"):
        raise ValueError(f"interpolation must be 'linear' or 'cubic', got {interpolation!r}")
    out_h, out_w = (int(v) for v in out_size)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"out_size must be positive, got {out_size}")
    matrix = np.asarray(matrix, np.float64)
    inverse = invert_affine(matrix)
    height, width = image.shape[:2]
    scale = matrix_scale(matrix)

    # The source region the output samples, padded for interpolation and area averaging.
    corners = np.array([[-1, -1], [out_w, -1], [-1, out_h], [out_w, out_h]], np.float64)
    src = corners @ inverse[:, :2].T + inverse[:, 2]
    pad = 2.0 + 2.0 / max(scale, 1e-6)
    x0 = int(np.clip(np.floor(src[:, 0].min() - pad), 0, width - 1))
    y0 = int(np.clip(np.floor(src[:, 1].min() - pad), 0, height - 1))
    x1 = int(np.clip(np.ceil(src[:, 0].max() + pad) + 1, x0 + 1, width))
    y1 = int(np.clip(np.ceil(src[:, 1].max() + pad) + 1, y0 + 1, height))
    region = image[y0:y1, x0:x1]
    # to_region maps region pixel coordinates back to image coordinates.
    to_region = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    if scale < 0.75:
        rw = max(1, round((x1 - x0) * scale))
        rh = max(1, round((y1 - y0) * scale))
        fx, fy = rw / (x1 - x0), rh / (y1 - y0)
        region = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
        # resized pixel u maps to region pixel (u + 0.5) / f - 0.5
        unscale = np.array([[1 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1 / fy, 0.5 / fy - 0.5], [0.0, 0.0, 1.0]])
        to_region = to_region @ unscale
    full = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ to_region
    flags = cv2.INTER_LINEAR if interpolation == "linear" else cv2.INTER_CUBIC
    border_mode = {
        "reflect": cv2.BORDER_REFLECT_101,
        "replicate": cv2.BORDER_REPLICATE,
        "constant": cv2.BORDER_CONSTANT,
    }[border]
    squeeze = region.ndim == 3 and region.shape[2] == 1
    src_img = region[:, :, 0] if squeeze else region
    out = cv2.warpAffine(
        np.ascontiguousarray(src_img), full[:2], (out_w, out_h), flags=flags, borderMode=border_mode, borderValue=0
    )
    if squeeze:
        out = out[:, :, None]
    return out


def align_matrix(landmarks5: np.ndarray, size: int = 128) -> np.ndarray:
    """Similarity matrix taking a face's 5 dlib landmarks onto the template of a ``size`` crop.

    Example:
        >>> import numpy as np
        >>> bool(np.allclose(align_matrix(template(128), 128), [[1, 0, 0], [0, 1, 0]], atol=1e-6))
        True
    """
    landmarks5 = _check_points(landmarks5, "landmarks5", 5)
    return similarity_matrix(landmarks5, template(size))


def align_face(
    image: np.ndarray,
    landmarks5: np.ndarray,
    size: int = 128,
    border: str = "reflect",
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Warp a face onto the canonical template: the crop looks like a UTKFace image resized to ``size``.

    Args:
        image: (H, W, C) float32 RGB in [0, 1] (or any (H, W[, C]) array OpenCV can warp).
        landmarks5: (5, 2) dlib 5-point landmarks of the face in ``image``.
        size: side of the square crop.
        border: fill for crop pixels outside the image (see :func:`warp_image`).
        interpolation: "linear" or "cubic".

    Returns:
        crop (size, size, C) and the (2, 3) image -> crop matrix (invert it to paste back).

    Example:
        >>> import numpy as np
        >>> crop, m = align_face(np.zeros((50, 60, 3), np.float32), template(40) + 5, 32)
        >>> crop.shape
        (32, 32, 3)
    """
    matrix = align_matrix(landmarks5, size)
    return warp_image(image, matrix, (size, size), border, interpolation), matrix


def loose_crop_matrix(landmarks68: np.ndarray, size: int = 128) -> np.ndarray:
    """Chrysos & Zafeiriou's crop: rescale by the landmarks' extent, a square around them, no rotation.

    The scale makes the landmarks' bounding box as large, relative to the crop, as the mean UTKFace
    68-point box is in a UTKFace image, and the square is placed where that box sits in the mean image,
    so an upright face comes out with training geometry while a tilted one stays tilted (no warp).

    Args:
        landmarks68: (68, 2) landmarks (any count N >= 2 works; the mean box is the 68-point one).
        size: side of the square crop.

    Returns:
        (2, 3) matrix: uniform scale and translation.

    Example:
        >>> m = loose_crop_matrix(template68(200) * 2 + 10, 128)
        >>> round(float(m[0, 0]), 3)
        0.32
    """
    landmarks = _check_points(landmarks68, "landmarks68")
    reference = template68(size).astype(np.float64)
    ref_lo, ref_hi = reference.min(0), reference.max(0)
    lo, hi = landmarks.min(0), landmarks.max(0)
    extent = float(np.max(hi - lo))
    if extent <= 1e-6:
        raise ValueError("the landmarks have no extent: cannot scale a crop around them")
    scale = float(np.max(ref_hi - ref_lo)) / extent
    shift = (ref_lo + ref_hi) / 2 - scale * (lo + hi) / 2
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def loose_crop(
    image: np.ndarray, landmarks68: np.ndarray, size: int = 128, border: str = "reflect"
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a face the Chrysos & Zafeiriou way (see :func:`loose_crop_matrix`).

    Returns:
        crop (size, size, C) and the (2, 3) image -> crop matrix (paste back like an aligned crop).

    Example:
        >>> import numpy as np
        >>> crop, m = loose_crop(np.zeros((300, 300, 3), np.float32), template68(200) + 40, 64)
        >>> crop.shape
        (64, 64, 3)
    """
    matrix = loose_crop_matrix(landmarks68, size)
    return warp_image(image, matrix, (size, size), border), matrix
