"""What an image file carries besides its pixels, so that outputs keep it: ICC profile, EXIF, DPI.

:class:`ImageInfo` is read with the pixels (:func:`facedeblur.images.read_image_with_info`) and
handed to :func:`facedeblur.images.write_image`. EXIF orientation is applied to the pixels on read
(:func:`apply_orientation`), so the EXIF that travels on says orientation 1; its thumbnail and the
tags that describe the old file's layout (strips, bit depth, compression) are left behind.

Example:
    >>> import numpy as np
    >>> pixels = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    >>> apply_orientation(pixels, 6).shape  # EXIF 6: the camera was turned 90 degrees clockwise
    (3, 2, 1)
    >>> icc_colour_space(b"\\0" * 16 + b"RGB " + b"\\0" * 108)
    'RGB'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

ORIENTATION_TAG = 0x0112
EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825
INTEROP_IFD_TAG = 0xA005
# IFD0 tags that describe how the old file stored its pixels (or that travel on their own: ICC, XMP,
# IPTC, and the resolution, which is ImageInfo.dpi):
# copied into a new file they would lie about it, so they never travel with the EXIF.
_LAYOUT_TAGS = frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 282, 283, 284, 290, 291, 292, 296,
        293, 317, 318, 319, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 530, 531,
        532, 700, 33723, 34377, 34675, 37724, 50341,
    }
)  # fmt: skip


@dataclass(frozen=True)
class ImageInfo:
    """Metadata of an image file that an output should carry.

    Attributes:
        format: the decoded file format as Pillow names it ("JPEG", "PNG", "TIFF"...), or None.
        icc_profile: the embedded ICC profile, or None.
        exif: EXIF as ``b"Exif\\0\\0"`` + TIFF structure, orientation reset to 1, or None.
        dpi: (x, y) resolution in dots per inch, or None.
        jpeg_qtables: a JPEG input's quantisation tables (Pillow's ``quantization`` order), or None.
        jpeg_subsampling: a JPEG input's chroma subsampling (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0), or None.
        jpeg_mode: the Pillow mode the tables belong to ("L" or "RGB"), or None.
    """

    format: str | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    jpeg_qtables: tuple[tuple[int, ...], ...] | None = None
    jpeg_subsampling: int | None = None
    jpeg_mode: str | None = None

    def for_crop(self) -> ImageInfo:
        """The metadata that still holds for a resized crop: ICC and EXIF, not DPI or JPEG tables."""
        return ImageInfo(format=self.format, icc_profile=self.icc_profile, exif=self.exif)

    def without_jpeg_tables(self) -> ImageInfo:
        return replace(self, jpeg_qtables=None, jpeg_subsampling=None, jpeg_mode=None)


def icc_colour_space(profile: bytes | None) -> str | None:
    """The colour space an ICC profile describes ("RGB", "GRAY", "CMYK", "Lab"...), None if unreadable."""
    if not profile or len(profile) < 20:
        return None
    try:
        return profile[16:20].decode("ascii").strip() or None
    except UnicodeDecodeError:
        return None


def icc_fits(profile: bytes | None, channels: int) -> bool:
    """Whether ``profile`` describes pixels with ``channels`` channels (gray(+alpha) or RGB(+alpha))."""
    space = icc_colour_space(profile)
    return space == ("GRAY" if channels in (1, 2) else "RGB")


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn (H, W, C) pixels upright as EXIF orientation 1..8 says (Pillow's ``exif_transpose``).

    Shape:
        (H, W, C) -> (H, W, C), or (W, H, C) for orientations 5..8.
    """
    if orientation == 2:
        out = pixels[:, ::-1]
    elif orientation == 3:
        out = pixels[::-1, ::-1]
    elif orientation == 4:
        out = pixels[::-1]
    elif orientation == 5:
        out = pixels.transpose(1, 0, 2)
    elif orientation == 6:
        out = np.rot90(pixels, -1)
    elif orientation == 7:
        out = pixels[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        out = np.rot90(pixels, 1)
    else:
        return pixels
    return np.ascontiguousarray(out)


def orientation_of(exif: Any) -> int:
    """The EXIF orientation (1..8) of a Pillow ``Image.Exif``; 1 when absent or nonsense."""
    try:
        value = int(exif.get(ORIENTATION_TAG, 1))
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def clean_exif(exif: Any) -> bytes | None:
    """Serialise a Pillow ``Image.Exif`` to travel with an output: orientation 1, no layout tags.

    Returns None when there is nothing worth carrying or the EXIF cannot be serialised (a broken
    EXIF never costs the image).
    """
    try:
        from PIL import Image

        cleaned = Image.Exif()
        for tag, value in exif.items():
            if tag in _LAYOUT_TAGS:
                continue
            if tag in (EXIF_IFD_TAG, GPS_IFD_TAG):
                sub = {k: v for k, v in exif.get_ifd(tag).items() if k != INTEROP_IFD_TAG}
                if sub:
                    cleaned[tag] = sub
                continue
            cleaned[tag] = value
        if ORIENTATION_TAG in cleaned:
            cleaned[ORIENTATION_TAG] = 1
        if not len(cleaned):
            return None
        data = cleaned.tobytes()
        Image.Exif().load(data)  # what cannot be read back is not written
        return data
    except Exception:  # noqa: BLE001 - EXIF from the wild is often malformed; the pixels matter more
        return None


def read_dpi(info: dict, swap: bool) -> tuple[float, float] | None:
    """A sane (x, y) DPI from a Pillow ``info`` dict (swapped when the image was turned 90 degrees)."""
    dpi = info.get("dpi")
    try:
        x, y = (round(float(v), 2) for v in dpi)
    except (TypeError, ValueError):
        return None
    if not (0 < x < 1e6 and 0 < y < 1e6):
        return None
    return (y, x) if swap else (x, y)


def jpeg_tables(im: Any) -> tuple[tuple[tuple[int, ...], ...] | None, int | None, str | None]:
    """A JPEG's quantisation tables, subsampling and mode, as Pillow's ``quality="keep"`` would reuse them."""
    from PIL import JpegImagePlugin

    tables = getattr(im, "quantization", None)
    if not tables or im.mode not in ("L", "RGB"):
        return None, None, None
    ordered = tuple(tuple(int(v) for v in tables[key]) for key in sorted(tables))
    sampling = JpegImagePlugin.get_sampling(im) if im.mode == "RGB" else -1
    return ordered, (None if sampling < 0 else int(sampling)), im.mode
