"""Reading and writing images faithfully: every format, bit depth, colour mode and the metadata users bring.

Pixels travel through the package as ``numpy`` arrays of shape (H, W, C) with C in {1, 2, 3, 4}
(gray, gray + alpha, RGB, RGBA), RGB(A) channel order and dtype ``uint8``, ``uint16`` or
``float32`` (float TIFF). Models work on float RGB in [0, 1]; :func:`to_float_rgb` and
:func:`from_float_rgb` convert there and back so that gray, alpha, 16-bit and float images come out
with the type they went in with.

:func:`read_image_with_info` also returns the file's :class:`ImageInfo` (ICC profile, EXIF, DPI and
a JPEG's quantisation tables); :func:`write_image` with ``info=`` writes them back, so a restored
photo keeps its colour profile, camera data and print size, and a JPEG is re-encoded with the
input's own tables and chroma subsampling (what Pillow's ``quality="keep"`` does). EXIF orientation
is applied on read and written as 1.

What each output format keeps (the rest is a limit of the format):

=====  =====================================  ==================  ==============
ext    pixels                                 ICC / EXIF          DPI
=====  =====================================  ==================  ==============
png    gray, gray+alpha, RGB, RGBA; 8/16 bit  yes / yes           yes
tif    same, plus 32-bit float                yes / yes           yes
jpg    gray, RGB; 8 bit (alpha dropped)       yes / yes           yes
webp   RGB, RGBA; 8 bit, lossless             yes / yes           no
bmp    gray, RGB; 8 bit (alpha dropped)       no / no             yes
=====  =====================================  ==================  ==============

Images larger than :data:`MAX_PIXELS` are refused from their header, before any decoding. Bad
input raises :class:`facedeblur.errors.InputError` with a one-line message naming the file.

Example:
    >>> import numpy as np, tempfile, os
    >>> img = np.zeros((8, 8, 3), np.uint16)
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> write_image(path, img, info=ImageInfo(dpi=(300.0, 300.0)))
    >>> pixels, info = read_image_with_info(path)
    >>> pixels.shape, pixels.dtype, info.dpi
    ((8, 8, 3), dtype('uint16'), (300.0, 300.0))
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facedeblur.batch.inputs import IMAGE_EXTENSIONS, is_image_path  # noqa: F401 - the one list, re-exported
from facedeblur.errors import InputError
from facedeblur.image_metadata import (
    ImageInfo,
    apply_orientation,
    clean_exif,
    icc_fits,
    jpeg_tables,
    orientation_of,
    read_dpi,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "ImageInfo",
    "PixelFormat",
    "from_float_rgb",
    "give_usual_mode",
    "is_image_path",
    "read_image",
    "read_image_with_info",
    "to_float_rgb",
    "to_uint8",
    "atomic_path",
    "write_bytes_atomic",
    "write_image",
    "write_result",
    "write_text_atomic",
]

MAX_PIXELS = 250_000_000
"""The largest image facedeblur decodes, in pixels (width x height): 250 MP, far beyond any camera.

Checked from the file's header before any pixel is decoded, so a decompression bomb costs nothing;
ImageMagick's default policy refuses such images the same way.
"""
_MAX_SIDE = {".jpg": 65_500, ".jpeg": 65_500, ".webp": 16_383}  # px a side each format can hold
_TIFF_MAGIC = (b"II*\0", b"MM\0*")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into (H, W, C) uint8/uint16/float32 pixels, RGB(A) order, EXIF-rotated.

    CMYK becomes RGB (through its ICC profile when it has one), palette becomes RGB(A), 1-bit
    becomes 8-bit gray; gray, gray + alpha, 16-bit PNG/TIFF and float TIFF keep their mode and depth.

    Raises:
        InputError: the file is missing, not a regular file, not an image, truncated, empty or
            larger than :data:`MAX_PIXELS`.
    """
    return read_image_with_info(path)[0]


def read_image_with_info(path: str | Path) -> tuple[np.ndarray, ImageInfo]:
    """Read an image's pixels (as :func:`read_image`) and the metadata an output should carry.

    Returns:
        ``(pixels, info)``: (H, W, C) pixels and the file's :class:`ImageInfo`.

    Raises:
        InputError: as :func:`read_image`.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    name = str(path)  # as the batch core names it (stderr prints undecodable bytes as escapes)
    _check_regular_file(path, name)
    try:
        try:
            with _quiet_pillow():
                Image.MAX_IMAGE_PIXELS = MAX_PIXELS
                im = Image.open(path)
        except UnidentifiedImageError:
            with open(path, "rb") as fh:
                if fh.read(4) in _TIFF_MAGIC:  # a TIFF Pillow cannot decode (float RGB...)
                    with _quiet_pillow():
                        return _read_tiff_without_pillow(path, name)
            raise InputError(f"{name}: not a readable image") from None
        with im, _quiet_pillow():
            _check_size(name, *im.size)
            return _decode(path, name, im)
    except InputError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(found.group(1)) / 1e6:,.0f} MP" if found else "too many pixels"
        raise InputError(f"{name}: {size} is more than the {MAX_PIXELS / 1e6:.0f} MP limit; not decoded") from err
    except MemoryError as err:
        raise InputError(f"{name}: not enough memory to decode this image") from err
    except Exception as err:  # noqa: BLE001 - decoders raise anything on damaged files; it is the file's fault
        raise InputError(f"{name}: unreadable or truncated image ({_reason(err)})") from err


@contextlib.contextmanager
def _quiet_pillow():
    """Pillow's warnings about damaged files stay silent (the file gets its one line or decodes fine);
    its decompression-bomb warning becomes an error, refused as over :data:`MAX_PIXELS`.

    ``warnings.catch_warnings`` is process-wide: a warning of another thread may be hidden meanwhile.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return (f"{type(err).__name__}: {text}" if text else type(err).__name__)[:160]


def _check_regular_file(path: Path, name: str) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        kind = "a link to a missing file" if path.is_symlink() else "no such file"
        raise InputError(f"{name}: {kind}") from None
    except OSError as err:  # ELOOP, EACCES, ENAMETOOLONG...
        raise InputError(f"{name}: cannot open ({err.strerror or err})") from None
    import stat

    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name}: not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise InputError(f"{name}: empty file (0 bytes)")


def _check_size(name: str, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InputError(f"{name}: image has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{name}: {width} x {height} px ({width * height / 1e6:,.0f} MP) is more than the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit; not decoded"
        )


def _decode(path: Path, name: str, im) -> tuple[np.ndarray, ImageInfo]:
    file_format = im.format
    # Pillow decodes every file first (16-bit colour at 8 bits), so a damaged one fails here with its
    # one line: its EXIF reader would hide the error (PNG loads to find EXIF), and libpng inside
    # OpenCV would print its own lines about the damage.
    im.load()
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - a broken EXIF block: the pixels are still good
        exif = None
    orientation = orientation_of(exif) if exif is not None else 1
    icc = im.info.get("icc_profile") or None
    info_dict = dict(im.info)
    tables = jpeg_tables(im) if file_format in ("JPEG", "MPO") else (None, None, None)
    if _needs_deep_decoder(path, im):
        pixels = _decode_deep(path, name, im)
    else:
        pixels, icc = _pil_pixels(im, icc)
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise InputError(f"{name}: image has no pixels")
    pixels = apply_orientation(pixels, orientation)
    info = ImageInfo(
        format=file_format,
        icc_profile=icc if icc_fits(icc, pixels.shape[2]) else None,
        exif=clean_exif(exif) if exif is not None and len(exif) else None,
        dpi=read_dpi(info_dict, swap=orientation >= 5),
        jpeg_qtables=tables[0],
        jpeg_subsampling=tables[1],
        jpeg_mode=tables[2],
    )
    return pixels, info


_PIL_DEEP_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _needs_deep_decoder(path: Path, im) -> bool:
    """Whether Pillow would lose depth: 16-bit colour PNG, or a TIFF with more than 8 bits a sample."""
    if im.mode in _PIL_DEEP_GRAY:
        return False  # Pillow decodes these single-channel modes at full depth
    if im.format == "PNG":
        with open(path, "rb") as fh:
            header = fh.read(26)
        return len(header) >= 26 and header[24] == 16
    if im.format == "TIFF":
        tags = getattr(im, "tag_v2", {})
        bits = tags.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) > 8
    return False


def _cv2_decode(data: bytes) -> np.ndarray | None:
    """OpenCV's decoder (any depth, no EXIF rotation), its log lines about damaged files silenced."""
    import cv2

    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        logging.setLogLevel(level)


def _decode_deep(path: Path, name: str, im) -> np.ndarray:
    data = path.read_bytes()
    raw = None
    if im.format == "TIFF":
        from facedeblur.image_codecs import decode_simple_tiff

        raw = decode_simple_tiff(data)
    if raw is None:
        if im.format == "PNG":  # libpng checks what Pillow does not, and prints about it: check first
            from facedeblur.image_codecs import png_damage

            damage = png_damage(data)
            if damage:
                raise InputError(f"{name}: damaged PNG ({damage})")
        raw = _cv2_decode(data)
        if raw is None:
            raise InputError(f"{name}: unreadable or truncated image (the {im.format} decoder gave up)")
        raw = _from_cv2_order(raw)
        if im.format == "PNG" and data[25] == 4:  # gray + alpha: OpenCV gives gray, gray, gray, alpha
            raw = raw[:, :, [0, 3]]
    if raw.shape[:2] != (im.size[1], im.size[0]):
        raise InputError(f"{name}: decoded {raw.shape[1]} x {raw.shape[0]} px but the header says {im.size}")
    return _normalise_dtype(raw)


def _read_tiff_without_pillow(path: Path, name: str) -> tuple[np.ndarray, ImageInfo]:
    """TIFFs Pillow cannot open (float RGB, 16-bit gray + alpha): size check, pixels, ICC, EXIF, DPI."""
    import io

    from PIL import Image, TiffImagePlugin

    data = path.read_bytes()
    ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
    fp = io.BytesIO(data)
    fp.seek(ifd.next)
    ifd.load(fp)
    _check_size(name, int(ifd.get(256, 0)), int(ifd.get(257, 0)))
    from facedeblur.image_codecs import decode_simple_tiff

    pixels = decode_simple_tiff(data)
    if pixels is None:
        raw = _cv2_decode(data)
        if raw is None:
            raise InputError(f"{name}: unreadable or truncated TIFF (or a layout facedeblur cannot decode)")
        pixels = _from_cv2_order(raw)
    pixels = _normalise_dtype(pixels)
    exif = Image.Exif()
    exif.load_from_fp(io.BytesIO(data))  # the header tells the byte order; IFD0 holds the tags
    orientation = orientation_of(exif)
    pixels = apply_orientation(pixels, orientation)
    icc = ifd.get(34675) or None
    dpi = None
    if 282 in ifd and 283 in ifd and int(ifd.get(296, 2)) == 2:
        dpi = read_dpi({"dpi": (ifd[282], ifd[283])}, swap=orientation >= 5)
    info = ImageInfo(
        format="TIFF",
        icc_profile=bytes(icc) if icc and icc_fits(bytes(icc), pixels.shape[2]) else None,
        exif=clean_exif(exif) if len(exif) else None,
        dpi=dpi,
    )
    return pixels, info


def _from_cv2_order(raw: np.ndarray) -> np.ndarray:
    if raw.ndim == 2:
        return raw[:, :, None]
    if raw.shape[2] == 3:
        return raw[:, :, ::-1].copy()
    if raw.shape[2] == 4:
        return raw[:, :, [2, 1, 0, 3]].copy()
    return raw


def _normalise_dtype(raw: np.ndarray) -> np.ndarray:
    if raw.dtype in (np.uint8, np.uint16, np.float32):
        return raw
    if raw.dtype.kind == "f":
        return raw.astype(np.float32)
    return np.clip(raw, 0, 65535).astype(np.uint16)


def _pil_pixels(im, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """Pillow image -> (H, W, C) pixels and the ICC profile that describes them."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)[:, :, None], icc
    if mode == "F":
        return np.asarray(im, dtype=np.float32)[:, :, None].copy(), icc
    if mode in ("L", "1"):
        return np.asarray(im.convert("L"))[:, :, None].copy(), icc
    if mode in ("LA", "La"):
        return np.asarray(im.convert("LA")).copy(), icc
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA")).copy(), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    return np.asarray(im.convert("RGB")).copy(), icc if mode in ("RGB", "RGBX", "P") else None


def _cmyk_to_rgb(im, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """CMYK -> sRGB through the image's own profile when it has one (else Pillow's naive formula)."""
    if icc:
        try:
            import io

            from PIL import ImageCms

            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            rgb = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB")
            return np.asarray(rgb).copy(), srgb.tobytes()
        except Exception:  # noqa: BLE001 - an unusable profile: fall back to the plain conversion
            pass
    return np.asarray(im.convert("RGB")).copy(), None


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    quality: int = 95,
    info: ImageInfo | None = None,
) -> None:
    """Write (H, W, C) pixels atomically (temp file in the same folder + rename), with metadata.

    Args:
        path: output file; its extension picks the format (one of :data:`IMAGE_EXTENSIONS`).
        pixels: (H, W) or (H, W, C) uint8/uint16/float32 pixels, C in 1..4, RGB(A) order.
        quality: JPEG quality when there are no input tables to reuse (``info`` of a JPEG).
        info: metadata to carry (from :func:`read_image_with_info`): ICC, EXIF, DPI and, for JPEG
            outputs, the input's quantisation tables and subsampling. An ICC profile is written only
            onto pixels it describes (a gray profile never onto RGB).

    Depth and mode are kept where the format can hold them (see the table at the top of this
    module): 16-bit and float become 8-bit for JPEG, WebP and BMP, float becomes 16-bit for PNG.

    Raises:
        InputError: the image is larger than the format allows (JPEG 65,500 px a side, WebP 16,383).
    """
    path = Path(path)
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W, C) array with C in 1..4, got shape {pixels.shape}")
    if pixels.dtype == np.float64:
        pixels = pixels.astype(np.float32)
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"expected uint8, uint16 or float32 pixels, got {pixels.dtype}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"expected at least one pixel, got shape {pixels.shape}")
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"{path}: unsupported output extension {ext!r} (use one of {IMAGE_EXTENSIONS})")
    side = _MAX_SIDE.get(ext)
    if side and max(pixels.shape[:2]) > side:
        raise InputError(
            f"{path}: {ext[1:].upper()} holds at most {side:,} px a side, the image is "
            f"{pixels.shape[1]} x {pixels.shape[0]}; write PNG or TIFF instead"
        )
    info = info or ImageInfo()
    write_bytes_atomic(path, _ENCODERS[ext](pixels, info, quality))


_FORMAT_OF_EXT = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
}


def write_result(
    path: str | Path,
    pixels: np.ndarray,
    source: str | Path,
    source_pixels: np.ndarray,
    info: ImageInfo,
) -> bool:
    """Write the result of processing the image file ``source``, as faithfully as the format allows.

    When ``pixels`` equal ``source_pixels`` (no face found, fidelity 0) and the output has the
    input's extension, the input's bytes are copied: the file stays bit for bit what it was (a PNG
    misnamed ``.jpg`` included: nothing was changed, so nothing is re-encoded). Otherwise
    :func:`write_image` writes ``pixels`` with the input's ``info`` (ICC, EXIF, DPI, JPEG tables).

    Returns:
        True when the input was copied unchanged.
    """
    path, source = Path(path), Path(source)
    if _FORMAT_OF_EXT.get(path.suffix.lower()) == _FORMAT_OF_EXT.get(source.suffix.lower()):
        result, original = np.asarray(pixels), np.asarray(source_pixels)
        if result.shape == original.shape and result.dtype == original.dtype and np.array_equal(result, original):
            write_bytes_atomic(path, source.read_bytes())
            return True
    write_image(path, pixels, info=info)
    return False


def _to_depth(pixels: np.ndarray, dtype) -> np.ndarray:
    """uint8/uint16/float32 -> uint8 or uint16, rounding (float is taken as [0, 1])."""
    if pixels.dtype == dtype:
        return pixels
    if pixels.dtype == np.float32:
        top = 255.0 if dtype == np.uint8 else 65535.0
        return (np.clip(np.nan_to_num(pixels), 0, 1) * top + 0.5).astype(dtype)
    if dtype == np.uint8:  # uint16 -> uint8
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return pixels.astype(np.uint16) * 257  # uint8 -> uint16


def _icc_for(info: ImageInfo, channels: int) -> bytes | None:
    return info.icc_profile if icc_fits(info.icc_profile, channels) else None


def _encode_png(pixels: np.ndarray, info: ImageInfo, quality: int) -> bytes:
    import cv2

    from facedeblur.image_codecs import add_png_chunks, encode_png

    pixels = _to_depth(pixels, np.uint8 if pixels.dtype == np.uint8 else np.uint16)
    if pixels.shape[2] == 2:
        data = encode_png(pixels)
    else:
        ok, buffer = cv2.imencode(".png", _to_cv2_order(pixels))
        if not ok:
            raise OSError("OpenCV could not encode the PNG")
        data = buffer.tobytes()
    return add_png_chunks(data, _icc_for(info, pixels.shape[2]), info.exif, info.dpi)


def _encode_tiff(pixels: np.ndarray, info: ImageInfo, quality: int) -> bytes:
    from facedeblur.image_codecs import encode_tiff

    return encode_tiff(pixels, _icc_for(info, pixels.shape[2]), info.exif, info.dpi)


def _encode_jpeg(pixels: np.ndarray, info: ImageInfo, quality: int) -> bytes:
    from PIL import Image

    pixels = _to_depth(pixels, np.uint8)
    pixels = pixels[:, :, :1] if pixels.shape[2] == 2 else pixels[:, :, :3]
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    options: dict = {"icc_profile": _icc_for(info, pixels.shape[2]), "dpi": info.dpi, "exif": info.exif}
    if info.jpeg_qtables and info.jpeg_mode == mode:
        options["qtables"] = [list(table) for table in info.jpeg_qtables]  # the input's own: quality="keep"
        if mode == "RGB" and info.jpeg_subsampling is not None:
            options["subsampling"] = info.jpeg_subsampling
    else:
        options.update(quality=int(quality), subsampling=0)
    return _pil_encode(Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode), "JPEG", options)


def _encode_webp(pixels: np.ndarray, info: ImageInfo, quality: int) -> bytes:
    from PIL import Image

    pixels = _to_depth(pixels, np.uint8)
    if pixels.shape[2] in (1, 2):  # WebP has no gray: repeat it into RGB(A)
        pixels = np.concatenate([np.repeat(pixels[:, :, :1], 3, axis=2), pixels[:, :, 1:]], axis=2)
    mode = "RGB" if pixels.shape[2] == 3 else "RGBA"
    icc = info.icc_profile if icc_fits(info.icc_profile, 3) else None
    options = {"lossless": True, "exact": True, "icc_profile": icc, "exif": info.exif}
    return _pil_encode(Image.fromarray(pixels, mode), "WEBP", options)


def _encode_bmp(pixels: np.ndarray, info: ImageInfo, quality: int) -> bytes:
    from PIL import Image

    pixels = _to_depth(pixels, np.uint8)
    pixels = pixels[:, :, :1] if pixels.shape[2] == 2 else pixels[:, :, :3]
    image = Image.fromarray(pixels[:, :, 0], "L") if pixels.shape[2] == 1 else Image.fromarray(pixels, "RGB")
    return _pil_encode(image, "BMP", {"dpi": info.dpi})


def _pil_encode(image, file_format: str, options: dict) -> bytes:
    import io

    options = {k: v for k, v in options.items() if v is not None}
    buffer = io.BytesIO()
    try:
        image.save(buffer, file_format, **options)
    except (ValueError, OSError):
        if "exif" not in options:
            raise
        options.pop("exif")  # e.g. EXIF over JPEG's 64 KiB segment: the pixels matter more
        buffer = io.BytesIO()
        image.save(buffer, file_format, **options)
    return buffer.getvalue()


def _to_cv2_order(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[2] == 3:
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if pixels.shape[2] == 4:
        return np.ascontiguousarray(pixels[:, :, [2, 1, 0, 3]])
    return np.ascontiguousarray(pixels[:, :, 0])


_ENCODERS = {
    ".png": _encode_png,
    ".tif": _encode_tiff,
    ".tiff": _encode_tiff,
    ".jpg": _encode_jpeg,
    ".jpeg": _encode_jpeg,
    ".webp": _encode_webp,
    ".bmp": _encode_bmp,
}


@contextlib.contextmanager
def atomic_path(path: str | Path, same_extension: bool = False) -> Iterator[str]:
    """A temporary file next to ``path`` to write it through: when the block ends the file gets the usual
    mode (0666 - umask) and is renamed onto ``path``; when the block fails it is removed.

    Args:
        path: the file to write (its folder is created).
        same_extension: name the temporary ``.<stem>.XXXXXXXX<ext>`` (for writers that choose the format
            by the extension, e.g. video muxers) instead of ``.<name>.XXXXXXXX.tmp``; both are the names
            :func:`facedeblur.batch.run.remove_stale_temps` cleans up after a killed run.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_path(folder / "a.txt") as tmp:
        ...     _ = Path(tmp).write_text("done")
        >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
        ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if same_extension:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    else:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        give_usual_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def _read_umask() -> int:
    """The process's umask, read from ``/proc/self/status`` where Linux has it (nothing changes).

    Elsewhere it is set and restored once and cached: ``os.umask`` is process-wide, so for that moment
    a file another thread creates would get the wrong mode; this happens at the first write, not at import.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _flipped_umask()


@functools.cache
def _flipped_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def give_usual_mode(path: str | Path) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode a new file usually gets (0666 - umask)."""
    os.chmod(path, 0o666 & ~_read_umask())


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically; file names that are not UTF-8 are written as their own bytes."""
    write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class PixelFormat:
    """How to turn float RGB back into the pixels an image came with."""

    dtype: str  # "uint8", "uint16" or "float32"
    channels: int  # 1, 2 (gray + alpha), 3 or 4


def to_float_rgb(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, PixelFormat]:
    """Split pixels into float32 RGB in [0, 1], the alpha channel (or None) and the original format.

    Float pixels (float TIFF) are taken as [0, 1]: NaN becomes 0 and values outside are clipped.

    Shape:
        pixels (H, W, C) -> rgb (H, W, 3), alpha (H, W) or None.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    if pixels.dtype == np.uint8:
        data = pixels.astype(np.float32) / 255.0
    elif pixels.dtype == np.uint16:
        data = pixels.astype(np.float32) / 65535.0
    elif pixels.dtype.kind == "f":
        data = np.clip(np.nan_to_num(pixels.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    else:
        raise ValueError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")
    fmt = PixelFormat("float32" if pixels.dtype.kind == "f" else str(pixels.dtype), int(pixels.shape[2]))
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
    if fmt.dtype == "float32":
        return np.ascontiguousarray(data, dtype=np.float32)
    scale = 255.0 if fmt.dtype == "uint8" else 65535.0
    return (data * scale + 0.5).astype(fmt.dtype)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (any shape) -> ``uint8``: clipped, scaled by 255, rounded half up; NaN -> 0.

    The package's one float -> 8-bit conversion.

    Example:
        >>> to_uint8(np.array([-1.0, 0.5, 1.0, np.nan])).tolist()
        [0, 128, 255, 0]
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    return (np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
