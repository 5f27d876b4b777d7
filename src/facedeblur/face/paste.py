"""Paste restored face crops back into the photo with eroded, feathered masks: no seams, no side effects.

Each crop's mask is a square eroded by ``erode`` x crop size and feathered over ``feather`` x crop size
(a smoothstep ramp, exactly zero beyond the erosion), warped back with the exact inverse of the crop's
matrix, so erosion and feather scale with the face. Overlapping faces blend by mask-weighted average
(the result does not depend on the faces' order). Pixels outside every mask are returned bit-identical.

Example:
    >>> import numpy as np
    >>> from facedeblur.face.align import align_face, template
    >>> image = np.random.default_rng(0).random((120, 160, 3), dtype=np.float32)
    >>> crop, matrix = align_face(image, template(100) + 20, 64)
    >>> out = paste_faces(image, [np.ones_like(crop)], [matrix])
    >>> out.shape, bool(out[0, 0, 0] == image[0, 0, 0])
    ((120, 160, 3), True)
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from facedeblur.face.align import invert_affine, warp_image

DEFAULT_ERODE = 0.03
DEFAULT_FEATHER = 0.12


def crop_mask(size: int, erode: float = DEFAULT_ERODE, feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """Blend mask of a ``size`` x ``size`` crop: 0 within ``erode * size`` of the edge, 1 in the middle.

    Args:
        size: side of the crop.
        erode: width of the zero border as a fraction of ``size``.
        feather: width of the smooth ramp from 0 to 1 as a fraction of ``size``.

    Returns:
        (size, size) float32 in [0, 1].

    Example:
        >>> m = crop_mask(64)
        >>> float(m[0, 0]), float(m[32, 32])
        (0.0, 1.0)
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if erode < 0 or feather < 0 or erode + feather >= 0.5:
        raise ValueError(f"need erode >= 0, feather >= 0 and erode + feather < 0.5, got {erode} and {feather}")
    centre = np.arange(size, dtype=np.float64) + 0.5
    distance = np.minimum(centre, size - centre)  # from the crop's edge, in pixels
    ramp = (distance - erode * size) / max(feather * size, 1e-6)
    ramp = np.clip(ramp, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return np.outer(ramp, ramp).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _shared_mask(size: int, erode: float, feather: float) -> np.ndarray:
    """:func:`crop_mask`, computed once per arguments and read-only (a video pastes the same mask every frame)."""
    mask = crop_mask(size, erode, feather)
    mask.flags.writeable = False
    return mask


MASK_CACHE = 8  # warped masks kept: a still face pastes the same mask at the same place frame after frame
_warped: dict[tuple, np.ndarray] = {}
_warped_lock = threading.Lock()


def warped_mask(
    size: int,
    to_region: np.ndarray,
    shape: tuple[int, int],
    erode: float = DEFAULT_ERODE,
    feather: float = DEFAULT_FEATHER,
) -> np.ndarray:
    """The crop's blend mask warped into a frame region and clipped to [0, 1] (read-only; reused when asked again).

    A face that keeps its alignment from one video frame to the next (see ``hold`` of
    :class:`facedeblur.video.faces.FaceStages`) is pasted with the same matrix into the same region:
    its warped mask is the same array, so it is kept for the next frames instead of warped again.

    Args:
        size: side of the crop.
        to_region: (2, 3) crop -> region matrix.
        shape: (height, width) of the region.
        erode, feather: see :func:`crop_mask`.

    Returns:
        (height, width) float32, exactly what warping :func:`crop_mask` with ``border="constant"`` gives.

    Example:
        >>> m = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0]])
        >>> a, b = warped_mask(16, m, (20, 20)), warped_mask(16, m.copy(), (20, 20))
        >>> a is b, a.shape, float(a[10, 10])
        (True, (20, 20), 1.0)
    """
    to_region = np.ascontiguousarray(to_region, np.float64)
    key = (int(size), float(erode), float(feather), int(shape[0]), int(shape[1]), to_region.tobytes())
    with _warped_lock:
        found = _warped.get(key)
    if found is not None:
        return found
    mask = warp_image(_shared_mask(int(size), float(erode), float(feather)), to_region, shape, border="constant")
    np.clip(mask, 0.0, 1.0, out=mask)
    mask.flags.writeable = False
    with _warped_lock:
        while len(_warped) >= MASK_CACHE:
            del _warped[next(iter(_warped))]  # the oldest
        _warped[key] = mask
    return mask


def paste_faces(
    image: np.ndarray,
    crops: list[np.ndarray],
    matrices: list[np.ndarray],
    erode: float = DEFAULT_ERODE,
    feather: float = DEFAULT_FEATHER,
    return_mask: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Paste (restored) crops back where they were cut from; returns a new image.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], the photo the crops were cut from.
        crops: list of (S, S, 3) float crops (sizes may differ between faces); values are clipped to
            [0, 1] before pasting.
        matrices: list of (2, 3) image -> crop matrices, as returned by ``align_face``/``loose_crop``.
        erode: see :func:`crop_mask`.
        feather: see :func:`crop_mask`.
        return_mask: also return the combined (H, W) blend weight in [0, 1].

    Returns:
        (H, W, 3) float32 image (and the mask when asked). Pixels where the mask is 0 are bit-identical
        to ``image``.

    Example:
        >>> import numpy as np
        >>> out = paste_faces(np.zeros((10, 10, 3), np.float32), [], [])
        >>> out.shape
        (10, 10, 3)
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) float RGB image, got shape {image.shape}")
    if len(crops) != len(matrices):
        raise ValueError(f"got {len(crops)} crops but {len(matrices)} matrices")
    out = np.array(image, dtype=np.float32, copy=True)
    height, width = image.shape[:2]
    total = np.zeros((height, width), np.float32)
    if not crops:
        return (out, total) if return_mask else out
    weighted = np.zeros((height, width, 3), np.float32)
    covered = None  # union box of all faces: (y0, y1, x0, x1)
    for index, (crop, matrix) in enumerate(zip(crops, matrices, strict=True)):
        crop = np.asarray(crop, np.float32)
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] != crop.shape[1]:
            raise ValueError(f"crop {index} must be (S, S, 3), got shape {crop.shape}")
        box = _back_box(np.asarray(matrix, np.float64), crop.shape[0], height, width)
        if box is None:
            continue
        y0, y1, x0, x1 = box
        inverse = invert_affine(matrix)
        # crop -> region coordinates: the inverse followed by a shift to the region's origin
        to_region = inverse.copy()
        to_region[:, 2] -= (x0, y0)
        mask = crop_mask(crop.shape[0], erode, feather)
        back = warp_image(np.clip(crop, 0.0, 1.0), to_region, (y1 - y0, x1 - x0), border="constant")
        weight = warp_image(mask, to_region, (y1 - y0, x1 - x0), border="constant")
        weight = np.clip(weight, 0.0, 1.0)
        weighted[y0:y1, x0:x1] += back * weight[:, :, None]
        total[y0:y1, x0:x1] += weight
        covered = box if covered is None else _union(covered, box)
    if covered is None:
        return (out, total) if return_mask else out
    y0, y1, x0, x1 = covered
    region_total = total[y0:y1, x0:x1]
    alpha = np.minimum(region_total, 1.0)
    mean = weighted[y0:y1, x0:x1] / np.maximum(region_total, 1e-12)[:, :, None]
    region = out[y0:y1, x0:x1]
    blended = region * (1.0 - alpha[:, :, None]) + mean * alpha[:, :, None]
    out[y0:y1, x0:x1] = np.where((region_total > 0)[:, :, None], blended, region)
    total = np.minimum(total, 1.0)
    return (out, total) if return_mask else out


def paste_faces_pixels(
    pixels: np.ndarray,
    crops: list[np.ndarray],
    matrices: list[np.ndarray],
    erode: float = DEFAULT_ERODE,
    feather: float = DEFAULT_FEATHER,
) -> np.ndarray:
    """Paste crops into an image in its own format (gray, RGB, alpha; 8 or 16 bit); returns a new array.

    The image goes through :func:`facedeblur.images.to_float_rgb`, :func:`paste_faces` and back with
    :func:`facedeblur.images.from_float_rgb`; alpha is kept as it was and every pixel outside the masks
    keeps its exact original value.

    Args:
        pixels: (H, W, C) uint8 or uint16, C in 1..4.
        crops, matrices, erode, feather: as in :func:`paste_faces`.

    Returns:
        Array with the shape and dtype of ``pixels``.

    Example:
        >>> import numpy as np
        >>> paste_faces_pixels(np.zeros((8, 8, 1), np.uint16), [], []).dtype
        dtype('uint16')
    """
    from facedeblur.images import from_float_rgb, to_float_rgb

    original = np.asarray(pixels)
    rgb, alpha, fmt = to_float_rgb(original)
    pasted, mask = paste_faces(rgb, crops, matrices, erode, feather, return_mask=True)
    result = from_float_rgb(pasted, alpha, fmt).reshape(original.shape)
    untouched = (mask <= 0)[:, :, None]
    return np.where(untouched, original, result).astype(original.dtype)


def _back_box(matrix: np.ndarray, size: int, height: int, width: int) -> tuple[int, int, int, int] | None:
    """Image region (y0, y1, x0, x1) covered by a crop mapped back, clipped to the image; None if empty."""
    inverse = invert_affine(matrix)
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    x0 = max(0, int(np.floor(points[:, 0].min())) - 1)
    y0 = max(0, int(np.floor(points[:, 1].min())) - 1)
    x1 = min(width, int(np.ceil(points[:, 0].max())) + 2)
    y1 = min(height, int(np.ceil(points[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, y1, x0, x1


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def paste_changes(
    pixels: np.ndarray,
    changes: list[np.ndarray],
    matrices: list[np.ndarray],
    weight: float = 1.0,
    erode: float = DEFAULT_ERODE,
    feather: float = DEFAULT_FEATHER,
    previous: tuple[tuple[int, int, int, int], np.ndarray] | None = None,
    tolerance: float = 0.0,
) -> np.ndarray:
    """Add changes made to aligned crops (restored - input) back onto an 8-bit RGB frame, in place.

    The same blend as ``paste_faces`` of ``input crop + change`` (feathered masks, overlapping faces
    averaged by mask weight), computed only inside the faces' regions of the frame, so a video frame
    costs the size of its faces, not of the frame. Pixels outside every mask keep their exact values.

    Args:
        pixels: (H, W, 3) uint8 RGB frame; modified in place and returned.
        changes: (S, S, 3) float changes in [-1, 1], one per face.
        matrices: (2, 3) image -> crop matrices.
        weight: scales every change (the restorer's fidelity).
        erode, feather: see :func:`crop_mask`.
        previous: ``((y0, y1, x0, x1), values)``: the previous video frame's output there (see
            :func:`pasted_region`), for the same faces. Where the new value is within
            ``0.5 + tolerance`` levels of the previous one at the same pixel, the previous 8-bit value
            is kept: a correction that hovers around a half level no longer toggles the pixel between
            two levels from frame to frame (a temporal hysteresis of the rounding; the error stays
            below ``0.5 + tolerance`` levels).
        tolerance: the hysteresis, in 8-bit levels (0: plain rounding).

    Returns:
        ``pixels``.

    Example:
        >>> from facedeblur.face.align import align_face, template
        >>> frame = np.full((120, 160, 3), 100, np.uint8)
        >>> crop, matrix = align_face(frame.astype(np.float32) / 255, template(100) + 20, 64)
        >>> out = paste_changes(frame, [np.full_like(crop, 0.2)], [matrix])
        >>> int(out[0, 0, 0]), int(out[70, 70, 0])
        (100, 151)
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {pixels.shape} {pixels.dtype}")
    if len(changes) != len(matrices):
        raise ValueError(f"got {len(changes)} changes but {len(matrices)} matrices")
    height, width = pixels.shape[:2]
    boxes = []
    for change, matrix in zip(changes, matrices, strict=True):
        box = _back_box(np.asarray(matrix, np.float64), np.asarray(change).shape[0], height, width)
        boxes.append(box)
    covered = None
    for box in boxes:
        if box is not None:
            covered = box if covered is None else _union(covered, box)
    if covered is None:
        return pixels
    y0, y1, x0, x1 = covered
    # In place on float32 buffers: a video frame pays a few passes over its faces' region, nothing more.
    shape = (y1 - y0, x1 - x0)
    weighted = total = None
    for change, matrix, box in zip(changes, matrices, boxes, strict=True):
        if box is None:
            continue
        change = np.asarray(change, np.float32)
        to_region = invert_affine(matrix)
        to_region[:, 2] -= (x0, y0)
        back = warp_image(change, to_region, shape, border="constant")
        mask_back = warped_mask(change.shape[0], to_region, shape, erode, feather)
        back *= mask_back[:, :, None]
        if weighted is None:
            weighted, total = back, mask_back
        else:
            weighted += back
            total = total + mask_back  # not in place: the first mask may be a cached one
    if sum(box is not None for box in boxes) > 1:  # overlapping faces: averaged by mask weight
        weighted *= (np.minimum(total, 1.0) / np.maximum(total, 1e-12))[:, :, None]
    weighted *= 255.0 * float(weight)  # zero wherever no mask reaches: those pixels come back unchanged
    weighted += pixels[y0:y1, x0:x1]
    keep = None
    if previous is not None and tolerance > 0:
        # decided on the exact values, before they are rounded in place
        (py0, py1, px0, px1), values = previous
        iy0, iy1, ix0, ix1 = max(y0, py0), min(y1, py1), max(x0, px0), min(x1, px1)
        if iy1 > iy0 and ix1 > ix0:
            old = values[iy0 - py0 : iy1 - py0, ix0 - px0 : ix1 - px0]
            new = weighted[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
            keep = np.abs(old.astype(np.float32) - new) <= 0.5 + float(tolerance)
    weighted += 0.5
    np.clip(weighted, 0, 255, out=weighted)
    rounded = weighted.astype(np.uint8)
    if keep is not None:
        np.copyto(rounded[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0], old, where=keep)
    pixels[y0:y1, x0:x1] = rounded
    return pixels


def pasted_region(
    pixels: np.ndarray, matrices: list[np.ndarray], size: int
) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The region of a frame that :func:`paste_changes` wrote for faces at ``matrices``, and a copy of it.

    Returns:
        ``((y0, y1, x0, x1), values)``, the ``previous`` argument of :func:`paste_changes` for the next
        frame (an empty region when no face reaches the frame).
    """
    height, width = pixels.shape[:2]
    covered = None
    for matrix in matrices:
        box = _back_box(np.asarray(matrix, np.float64), size, height, width)
        if box is not None:
            covered = box if covered is None else _union(covered, box)
    if covered is None:
        return (0, 0, 0, 0), pixels[:0, :0].copy()
    y0, y1, x0, x1 = covered
    return covered, pixels[y0:y1, x0:x1].copy()
