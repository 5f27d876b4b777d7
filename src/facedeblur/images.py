"""Reading and writing images robustly: every format, bit depth and colour mode users bring.

Pixels travel through the package as ``numpy`` arrays of shape (H, W, C) with C in {1, 3, 4},
channels in RGB(A) order and dtype ``uint8`` or ``uint16``. Models work on float RGB in [0, 1];
:func:`to_float_rgb` and :func:`from_float_rgb` convert there and back so that grayscale, alpha and
16-bit images come out with the type they went in with.

Bad input raises :class:`facedeblur.errors.InputError` with a one-line message naming the file.

Example:
    >>> import numpy as np, tempfile, os
    >>> img = np.zeros((8, 8, 3), np.uint8)
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> write_image(path, img)
    >>> read_image(path).shape
    (8, 8, 3)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facedeblur.batch.inputs import IMAGE_EXTENSIONS, is_image_path  # noqa: F401 - the one list, re-exported
from facedeblur.errors import InputError

MAX_PIXELS = 250_000_000  # refuse decompression bombs; 250 MP is far beyond any camera photo


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into an (H, W, C) uint8/uint16 array, RGB(A) order, EXIF-rotated.

    CMYK and palette images become RGB(A); grayscale stays one channel; 16-bit PNG/TIFF stay 16-bit.

    Raises:
        InputError: the file is missing, not an image, truncated, empty or too large.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as im:
            im.load()
            file_format = im.format  # exif_transpose returns a copy without it
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            sixteen = mode in ("I;16", "I;16B", "I;16L", "I") or _png_is_16bit_rgb(path, file_format)
            if sixteen:
                array = _read_16bit(path, im)
            else:
                array = _pil_to_array(im)
    except InputError:
        raise
    except Image.DecompressionBombError as err:
        raise InputError(f"{path}: image too large ({err})") from err
    except UnidentifiedImageError as err:
        raise InputError(f"{path}: not a readable image") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{path}: unreadable or truncated image ({err})") from err
    if array.size == 0:
        raise InputError(f"{path}: image has no pixels")
    return array


def _png_is_16bit_rgb(path: Path, file_format: str | None) -> bool:
    # PIL decodes 16-bit colour PNGs to 8 bits; detect them from the header to keep full depth.
    if file_format != "PNG":
        return False
    with open(path, "rb") as fh:
        header = fh.read(26)
    return len(header) >= 26 and header[24] == 16


def _read_16bit(path: Path, im) -> np.ndarray:
    import cv2

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        arr = np.asarray(im)
        raw = np.clip(arr, 0, 65535).astype(np.uint16)
    if raw.dtype != np.uint16:
        raw = np.clip(raw, 0, 65535).astype(np.uint16)
    if raw.ndim == 2:
        return raw[:, :, None]
    if raw.shape[2] == 3:
        return raw[:, :, ::-1].copy()
    if raw.shape[2] == 4:
        return raw[:, :, [2, 1, 0, 3]].copy()
    return raw


def _pil_to_array(im) -> np.ndarray:
    mode = im.mode
    if mode in ("L", "1"):
        return np.asarray(im.convert("L"))[:, :, None].copy()
    if mode == "LA":
        return np.asarray(im.convert("LA")).copy()
    if mode in ("RGBA", "PA") or (mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA")).copy()
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        return np.clip(arr, 0, 255).astype(np.uint8)[:, :, None]
    return np.asarray(im.convert("RGB")).copy()


def write_image(path: str | Path, pixels: np.ndarray, quality: int = 95) -> None:
    """Write an (H, W, C) uint8/uint16 RGB(A) array atomically (temp file in the same folder + rename).

    16-bit data is kept for PNG and TIFF and reduced to 8 bits for other formats; alpha is dropped
    for formats without it (JPEG).
    """
    import cv2

    path = Path(path)
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, C) array with C in 1, 3, 4, got shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"{path}: unsupported output extension {ext!r} (use one of {IMAGE_EXTENSIONS})")
    if pixels.dtype == np.uint16 and ext not in (".png", ".tif", ".tiff"):
        pixels = (pixels.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if pixels.shape[2] == 4 and ext in (".jpg", ".jpeg", ".bmp"):
        pixels = pixels[:, :, :3]
    if pixels.shape[2] == 3:
        bgr = pixels[:, :, ::-1]
    elif pixels.shape[2] == 4:
        bgr = pixels[:, :, [2, 1, 0, 3]]
    else:
        bgr = pixels[:, :, 0]
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    ok, buffer = cv2.imencode(ext, np.ascontiguousarray(bgr), params)
    if not ok:
        raise OSError(f"{path}: could not encode image")
    write_bytes_atomic(path, buffer.tobytes())


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        give_usual_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and racy under threads


def give_usual_mode(path: str | Path) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode a new file usually gets (0666 - umask)."""
    os.chmod(path, 0o666 & ~_UMASK)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


@dataclass(frozen=True)
class PixelFormat:
    """How to turn float RGB back into the pixels an image came with."""

    dtype: str  # "uint8" or "uint16"
    channels: int  # 1, 2 (gray + alpha), 3 or 4


def to_float_rgb(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, PixelFormat]:
    """Split pixels into float32 RGB in [0, 1], the alpha channel (or None) and the original format.

    Shape:
        pixels (H, W, C) -> rgb (H, W, 3), alpha (H, W) or None.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    if pixels.dtype == np.uint8:
        scale = 255.0
    elif pixels.dtype == np.uint16:
        scale = 65535.0
    else:
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    fmt = PixelFormat(str(pixels.dtype), int(pixels.shape[2]))
    data = pixels.astype(np.float32) / scale
    alpha = None
    if fmt.channels in (2, 4):
        alpha = data[:, :, -1].copy()
        data = data[:, :, :-1]
    if data.shape[2] == 1:
        data = np.repeat(data, 3, axis=2)
    return np.ascontiguousarray(data), alpha, fmt


def from_float_rgb(rgb: np.ndarray, alpha: np.ndarray | None, fmt: PixelFormat) -> np.ndarray:
    """Inverse of :func:`to_float_rgb`: float RGB in [0, 1] (+ alpha) back to the original format."""
    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    if fmt.channels in (1, 2):
        data = (0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2])[:, :, None]
    else:
        data = rgb
    if alpha is not None and fmt.channels in (2, 4):
        data = np.concatenate([data, np.clip(alpha, 0, 1)[:, :, None]], axis=2)
    scale = 255.0 if fmt.dtype == "uint8" else 65535.0
    return (data * scale + 0.5).astype(fmt.dtype)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (any shape) -> ``uint8``: clipped, scaled by 255, rounded half up; NaN -> 0.

    The package's one float -> 8-bit conversion.

    Example:
        >>> to_uint8(np.array([-1.0, 0.5, 1.0, np.nan])).tolist()
        [0, 128, 255, 0]
    """
    return (np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(
        np.uint8
    )
