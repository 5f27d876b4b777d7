"""Encoders for what OpenCV and Pillow cannot write: PNG metadata chunks, gray+alpha PNG, deep TIFF.

OpenCV writes 16-bit PNG but no ICC, EXIF or DPI; Pillow writes those but no 16-bit colour.
:func:`add_png_chunks` puts ``iCCP``, ``pHYs`` and ``eXIf`` into any encoded PNG, :func:`encode_png`
encodes what OpenCV cannot (gray + alpha, 8 or 16 bits), and :func:`encode_tiff` writes every
channel count at 8 or 16 bits or 32-bit float, deflate-compressed, with ICC, EXIF and DPI.

Example:
    >>> import numpy as np
    >>> data = encode_png(np.zeros((2, 3, 2), np.uint16))
    >>> data[:8] == PNG_SIGNATURE, data[24:26]  # 16 bits, colour type 4 (gray + alpha)
    (True, b'\\x10\\x04')
    >>> encode_tiff(np.zeros((2, 3, 3), np.float32))[:4]
    b'II*\\x00'
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_STRIP_BYTES = 256 * 1024


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def add_png_chunks(
    png: bytes,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> bytes:
    """Insert ICC (``iCCP``), DPI (``pHYs``) and EXIF (``eXIf``) chunks right after ``IHDR``.

    Chunks of those kinds already in ``png`` are replaced.
    """
    if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("expected PNG data starting with the signature and IHDR")
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile))
    if dpi:
        x, y = (max(1, round(v / 0.0254)) for v in dpi)
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", x, y, 1))
    if exif:
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    if not extra:
        return png
    drop = {b"iCCP", b"sRGB", b"pHYs", b"eXIf"} if icc_profile else {b"pHYs", b"eXIf"}
    parts = [png[:33], extra]  # signature (8) + IHDR chunk (25)
    pos = 33
    while pos + 8 <= len(png):
        length = struct.unpack(">I", png[pos : pos + 4])[0]
        end = pos + 12 + length
        if png[pos + 4 : pos + 8] not in drop:
            parts.append(png[pos:end])
        pos = end
    return b"".join(parts)


def encode_png(pixels: np.ndarray, level: int = 6) -> bytes:
    """Encode (H, W, C) uint8/uint16 pixels with C in 1..4 as PNG (filter "Up" on every row).

    Shape:
        pixels (H, W, C) -> PNG bytes of colour type gray, RGB, gray + alpha or RGBA.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected (H, W, C) uint8/uint16 pixels with C in 1..4, got {pixels.dtype} {pixels.shape}")
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    depth = 8 * pixels.dtype.itemsize
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    up = rows.copy()
    up[1:] -= rows[:-1]  # PNG filter 2 ("Up"): each byte minus the one above, modulo 256
    raw = np.concatenate([np.full((height, 1), 2, np.uint8), up], axis=1)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


def encode_tiff(
    pixels: np.ndarray,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> bytes:
    """Encode (H, W, C) uint8/uint16/float32 pixels as a deflate-compressed little-endian TIFF.

    C is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA; alpha unassociated). EXIF tags that do not
    fit a TIFF directory are left out rather than failing the image.

    Shape:
        pixels (H, W, C) -> TIFF bytes.
    """
    from PIL import Image, TiffImagePlugin

    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (H, W, C) pixels with C in 1..4, got shape {pixels.shape}")
    kinds = {np.dtype(np.uint8): ("u1", 1), np.dtype(np.uint16): ("<u2", 1), np.dtype(np.float32): ("<f4", 3)}
    if pixels.dtype not in kinds:
        raise ValueError(f"expected uint8, uint16 or float32 pixels, got {pixels.dtype}")
    layout, sample_format = kinds[pixels.dtype]
    height, width, channels = pixels.shape
    data = np.ascontiguousarray(pixels.astype(layout)).reshape(height, -1).view(np.uint8)
    rows_per_strip = max(1, min(height, _TIFF_STRIP_BYTES // max(1, data.shape[1])))
    strips = [zlib.compress(data[y : y + rows_per_strip].tobytes(), 6) for y in range(0, height, rows_per_strip)]
    offsets = tuple(int(v) for v in np.cumsum([0] + [len(s) for s in strips[:-1]]))

    def directory(with_exif: bool) -> bytes:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(b"II*\0\0\0\0\0")
        if with_exif and exif:
            source = Image.Exif()
            source.load(exif)
            for tag, value in source.items():
                if tag in (0x8769, 0x8825):
                    sub = source.get_ifd(tag)
                    if sub:
                        ifd[tag] = dict(sub)
                else:
                    ifd[tag] = value
        ifd[256] = width
        ifd[257] = height
        ifd[258] = (8 * pixels.dtype.itemsize,) * channels
        ifd[259] = 8  # Adobe deflate
        ifd[262] = 1 if channels < 3 else 2  # min-is-black or RGB
        ifd[277] = channels
        ifd[278] = rows_per_strip
        ifd[273] = offsets
        ifd[279] = tuple(len(s) for s in strips)
        ifd[284] = 1
        ifd[339] = (sample_format,) * channels
        if channels in (2, 4):
            ifd[338] = (2,)  # unassociated alpha
        if dpi:
            ifd[282], ifd[283], ifd[296] = float(dpi[0]), float(dpi[1]), 2
        if icc_profile:
            ifd[34675] = icc_profile
        return ifd.tobytes(8)

    try:
        body = directory(with_exif=True)
    except Exception:  # noqa: BLE001 - an EXIF tag Pillow cannot write into a TIFF directory
        body = directory(with_exif=False)
    return b"II*\0" + struct.pack("<I", 8) + body + b"".join(strips)


def decode_simple_tiff(data: bytes) -> np.ndarray | None:
    """Decode the first image of a strip-based, interleaved TIFF (uncompressed or deflate).

    This covers what :func:`encode_tiff` writes and what OpenCV misreads (gray + alpha at 16 bits or
    float). Returns None for any other layout (tiles, LZW, planar...), which OpenCV then reads.

    Shape:
        TIFF bytes -> (H, W, C) uint8/uint16/float32.
    """
    import io

    from PIL import TiffImagePlugin

    fp = io.BytesIO(data)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
    fp.seek(ifd.next)
    ifd.load(fp)
    width, height = int(ifd.get(256, 0)), int(ifd.get(257, 0))
    channels = int(ifd.get(277, 1))
    bits = set(ifd.get(258, (1,)))
    formats = set(ifd.get(339, (1,)))
    compression, predictor = int(ifd.get(259, 1)), int(ifd.get(317, 1))
    if len(bits) != 1 or len(formats) != 1 or 273 not in ifd or 279 not in ifd or int(ifd.get(284, 1)) != 1:
        return None
    kind = {(8, 1): "u1", (16, 1): "u2", (32, 3): "f4"}.get((bits.pop(), formats.pop()))
    if kind is None or compression not in (1, 8, 32946) or predictor != 1 or not 1 <= channels <= 4:
        return None
    dtype = np.dtype(kind).newbyteorder("<" if data[:2] == b"II" else ">")
    raw = b"".join(
        zlib.decompress(data[o : o + n]) if compression != 1 else data[o : o + n]
        for o, n in zip(ifd[273], ifd[279], strict=True)
    )
    need = width * height * channels * dtype.itemsize
    if len(raw) < need:
        raise ValueError(f"truncated TIFF data ({len(raw)} of {need} bytes)")
    return np.frombuffer(raw[:need], dtype).reshape(height, width, channels).astype(dtype.newbyteorder("="))


def png_damage(data: bytes) -> str | None:
    """What is wrong with a PNG's chunk structure (a checksum, a cut chunk), or None when it is whole.

    Example:
        >>> good = encode_png(np.zeros((1, 1, 1), np.uint8))
        >>> png_damage(good) is None, png_damage(good[:-20] + b"x" * 20)
        (True, 'chunk IDAT fails its checksum')
    """
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return f"chunk {kind.decode('latin-1')} is cut off"
        if zlib.crc32(data[pos + 4 : end - 4]) & 0xFFFFFFFF != struct.unpack(">I", data[end - 4 : end])[0]:
            return f"chunk {kind.decode('latin-1')} fails its checksum"
        if kind == b"IEND":
            return None
        pos = end
    return "no IEND chunk (the file is cut off)"
