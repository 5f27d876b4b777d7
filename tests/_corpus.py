"""The hostile corpus: bad and odd inputs of every kind a user brings, built small in a temporary folder.

:func:`build_corpus` writes them under ``root`` in four folders (``images/``, ``videos/``, ``pairs/``
for ``evaluate``, ``configs/`` for ``train``/``degrade``/``export``) and returns a :class:`Corpus`
that says, per file, whether a command must process it (``good``: a faithful output) or name it in
one line (``bad``). Good images carry ICC, EXIF and DPI where their format can, so outputs can be
checked for them.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import facedeblur
from facedeblur.image_metadata import ImageInfo
from facedeblur.images import write_image

SRC = str(Path(facedeblur.__file__).resolve().parents[1])  # the package under test, for CLI subprocesses
CRASH_WORDS = ("Traceback", "internal error")  # in a command's output: it crashed


def cli_env() -> dict[str, str]:
    """Environment of a CLI subprocess: this package, one thread, no --debug tracebacks."""
    env = {k: v for k, v in os.environ.items() if k != "FACEDEBLUR_DEBUG"}
    env.update(PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    return env


@dataclass
class Item:
    path: Path
    kind: str  # what it is, one short phrase
    good: bool  # True: must be processed; False: must be named in one line


@dataclass
class Corpus:
    root: Path
    images: list[Item] = field(default_factory=list)
    videos: list[Item] = field(default_factory=list)
    pairs: list[Item] = field(default_factory=list)  # evaluate: one item per pair name (the blurred file)
    configs: dict[str, Path] = field(default_factory=dict)
    specials: list[Item] = field(default_factory=list)  # links, FIFOs, folders: not hashable as files

    @property
    def kinds(self) -> int:
        return len(self.images) + len(self.videos) + len(self.pairs) + len(self.configs) + len(self.specials)

    def all_items(self) -> list[Item]:
        return self.images + self.videos + self.pairs + self.specials


def _exif(orientation: int = 1) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "CorpusCam"
    exif[0x0112] = orientation
    exif[0x8769] = {0x9003: "2024:01:02 03:04:05"}
    return exif.tobytes()


def _srgb() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _header_only_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _header_only_tiff(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, width * height)]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += (
            struct.pack("<HHII", tag, typ, count, value)
            if typ == 4
            else struct.pack("<HHIHH", tag, typ, count, value, 0)
        )
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + b"\0" * 64


def _pil_bytes(image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def build_corpus(root: Path, face: np.ndarray | None = None) -> Corpus:
    """Write the corpus under ``root``; ``face`` (uint8 RGB), when given, is placed in the photos."""
    import cv2
    from PIL import Image

    from _face_helpers import canvas, place

    corpus = Corpus(root)
    images = root / "images"
    images.mkdir(parents=True)
    srgb, meta = _srgb(), ImageInfo(icc_profile=_srgb(), exif=_exif(), dpi=(300.0, 300.0))

    def photo(height=96, width=112, seed=0) -> np.ndarray:
        image = canvas(height, width, seed=seed)
        if face is not None and min(height, width) >= 48:
            side = min(height, width) - 8
            place(image, face, (width - side) // 2, (height - side) // 2, side)
        return image

    rgb = photo()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    alpha = np.full(rgb.shape[:2] + (1,), 180, np.uint8)
    alpha[:8] = 0

    def good(name: str, kind: str, pixels=None, data: bytes | None = None, info=meta) -> None:
        path = images / os.fsdecode(name) if isinstance(name, bytes) else images / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        else:
            write_image(path, pixels, info=info)
        corpus.images.append(Item(path, kind, True))

    def bad(name, kind: str, data: bytes) -> None:
        path = images / (os.fsdecode(name) if isinstance(name, bytes) else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        corpus.images.append(Item(path, kind, False))

    # -- good and odd images: every format, depth and mode -----------------------------------------
    good("photo.jpg", "RGB JPEG with ICC, EXIF, DPI", rgb)
    good("photo.png", "RGB PNG with ICC, EXIF, DPI", rgb)
    good("gray.png", "8-bit gray PNG", gray)
    good("gray16.png", "16-bit gray PNG", gray.astype(np.uint16) * 257)
    good("la.png", "gray + alpha PNG", np.concatenate([gray, alpha], axis=2))
    good("la16.png", "16-bit gray + alpha PNG", np.concatenate([gray, alpha], axis=2).astype(np.uint16) * 257)
    good("rgba.png", "RGBA PNG", np.concatenate([rgb, alpha], axis=2))
    good("rgb16.png", "16-bit RGB PNG", rgb.astype(np.uint16) * 257)
    good("rgba16.png", "16-bit RGBA PNG", np.concatenate([rgb, alpha], axis=2).astype(np.uint16) * 257)
    pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=64)
    good("palette.png", "palette PNG", data=_pil_bytes(pal, "PNG"))
    good("palette_alpha.png", "palette PNG with transparency", data=_pil_bytes(pal, "PNG", transparency=0))
    good("onebit.png", "1-bit PNG", data=_pil_bytes(Image.fromarray(gray[:, :, 0] > 128), "PNG"))
    good("cmyk.jpg", "CMYK JPEG", data=_pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=90))
    good("gray.jpg", "gray JPEG", data=_pil_bytes(Image.fromarray(gray[:, :, 0]), "JPEG", quality=85, exif=_exif()))
    good("progressive.jpg", "progressive JPEG", data=_pil_bytes(Image.fromarray(rgb), "JPEG", progressive=True))
    turned = np.ascontiguousarray(np.rot90(rgb, 1))  # stored turned; EXIF 6 turns it upright
    good("rotated6.jpg", "EXIF-rotated JPEG (6)", data=_pil_bytes(Image.fromarray(turned), "JPEG", exif=_exif(6)))
    good(
        "rotated3.png", "EXIF-rotated PNG (3)", data=_pil_bytes(Image.fromarray(rgb[::-1, ::-1]), "PNG", exif=_exif(3))
    )
    good("q40_420.jpg", "low-quality 4:2:0 JPEG", data=_pil_bytes(Image.fromarray(rgb), "JPEG", quality=40))
    good("photo.tif", "8-bit RGB TIFF", rgb)
    good("deep16.tif", "16-bit RGB TIFF", rgb.astype(np.uint16) * 257)
    good("float.tif", "float RGB TIFF", rgb.astype(np.float32) / 255)
    good("float_gray.tif", "float gray TIFF", gray.astype(np.float32) / 255)
    good("la16.tif", "16-bit gray + alpha TIFF", np.concatenate([gray, alpha], axis=2).astype(np.uint16) * 257)
    ok, lzw = cv2.imencode(".tif", (rgb.astype(np.uint16) * 257)[:, :, ::-1])
    good("lzw16.tiff", "16-bit LZW TIFF from OpenCV", data=lzw.tobytes())
    good("lossy.webp", "lossy WebP", data=_pil_bytes(Image.fromarray(rgb), "WEBP", quality=80, icc_profile=srgb))
    good("alpha.webp", "RGBA WebP", np.concatenate([rgb, alpha], axis=2))
    good("photo.bmp", "BMP", rgb)
    good("strip_5000x1.png", "5000 x 1 strip", photo(1, 5000))
    good("strip_1x5000.jpg", "1 x 5000 strip", photo(5000, 1))
    good("one_pixel.png", "1 x 1 image", rgb[:1, :1])
    good("tiny_3x2.jpg", "3 x 2 JPEG", rgb[:2, :3])
    good("UPPER.JPG", "upper-case extension", rgb)
    good("png_named.jpg", "PNG content named .jpg", data=(images / "photo.png").read_bytes())
    good("unicode_fåcé_名前.png", "unicode name", rgb)
    good("-leading-dash.png", "leading-dash name", rgb)
    good("with space.png", "name with spaces", rgb)
    good(b"latin1_caf\xe9.png", "non-UTF-8 name", rgb)
    good("deep/er/nested.png", "nested folders", rgb)
    broken_exif = _pil_bytes(Image.fromarray(rgb), "JPEG")
    app1 = b"\xff\xe1" + struct.pack(">H", 20) + b"Exif\0\0II*\0\xff\xff\xff\x7f" + b"\0" * 6
    good("broken_exif.jpg", "JPEG with a broken EXIF block", data=broken_exif[:2] + app1 + broken_exif[2:])
    (images / ".hidden.png").write_bytes((images / "photo.png").read_bytes())  # skipped by folder search

    # -- bad images: one line each --------------------------------------------------------------
    whole_png, whole_jpg = (images / "photo.png").read_bytes(), (images / "photo.jpg").read_bytes()
    bad("zero_byte.png", "zero-byte file", b"")
    bad("truncated.jpg", "truncated JPEG", whole_jpg[: len(whole_jpg) // 3])
    bad("truncated.png", "truncated PNG", whole_png[: len(whole_png) // 2])
    bad("truncated16.png", "truncated 16-bit PNG", (images / "rgb16.png").read_bytes()[:300])
    bad("truncated.tif", "truncated TIFF", (images / "deep16.tif").read_bytes()[:150])
    bad("truncated.webp", "truncated WebP", (images / "lossy.webp").read_bytes()[:60])
    bad("truncated.bmp", "truncated BMP", (images / "photo.bmp").read_bytes()[:40])
    bad("notes.png", "text file named .png", b"shopping list: milk, eggs\n" * 4)
    bad("page.webp", "HTML named .webp", b"<html><body>not an image</body></html>")
    bad("soi_only.jpg", "JPEG marker and nothing else", b"\xff\xd8\xff")
    bad("bad_crc.png", "PNG with a broken IHDR checksum", whole_png[:29] + b"\0\0\0\0" + whole_png[33:])
    bad("zero_size.png", "PNG header of 0 x 0 px", _header_only_png(0, 0))
    bad("bomb_400mp.png", "400 MP header-only PNG", _header_only_png(20_000, 20_000))
    bad("bomb_400mp.tif", "400 MP header-only TIFF", _header_only_tiff(20_000, 20_000))
    bad("random.jpg", "random bytes named .jpg", np.random.default_rng(1).bytes(2048))
    bad(b"bad_\xff\xfe.png", "non-UTF-8 name of a broken file", b"\x89PNG\r\n\x1a\n garbage")

    # -- special files -------------------------------------------------------------------------
    def special(name: str, kind: str, make) -> None:
        path = images / name
        make(path)
        corpus.specials.append(Item(path, kind, False))

    special("dangling.png", "dangling symbolic link", lambda p: p.symlink_to(images / "gone.png"))
    special("loop.png", "symbolic link loop", lambda p: p.symlink_to(p))
    special("fifo.png", "FIFO named .png", os.mkfifo)
    good_link = images / "link_to_photo.png"
    good_link.symlink_to(images / "photo.png")  # a good link: processed, never hashed as its own file

    # -- videos --------------------------------------------------------------------------------
    videos = root / "videos"
    videos.mkdir()
    _video(videos / "clip.mp4", frames=6)
    corpus.videos.append(Item(videos / "clip.mp4", "tiny H.264 clip", True))
    for name, kind, maker in [
        ("zero_frames.mp4", "video with a stream and no frames", lambda p: _video(p, frames=0)),
        ("audio_only.mp4", "audio-only MP4", _audio_only),
        ("truncated.mp4", "truncated MP4", lambda p: p.write_bytes((videos / "clip.mp4").read_bytes()[:900])),
        ("text.mov", "text named .mov", lambda p: p.write_bytes(b"not a movie\n")),
        ("zero_byte.avi", "zero-byte AVI", lambda p: p.write_bytes(b"")),
    ]:
        maker(videos / name)
        corpus.videos.append(Item(videos / name, kind, False))

    # -- evaluate pairs ------------------------------------------------------------------------
    pairs = root / "pairs"
    for side in ("blurred", "gt"):
        (pairs / side).mkdir(parents=True)

    def pair(name: str, kind: str, ok: bool, lq, gt, named: str = "blurred") -> None:
        for side, pixels in (("blurred", lq), ("gt", gt)):
            if pixels is None:
                continue
            target = pairs / side / name
            if isinstance(pixels, bytes):
                target.write_bytes(pixels)
            else:
                write_image(target, pixels)
        corpus.pairs.append(Item(pairs / named / name, kind, ok))  # the file a message must name

    sharp = photo(64, 64, seed=3)
    soft = cv2.GaussianBlur(sharp, (0, 0), 1.5)
    pair("good1.png", "good pair", True, soft, sharp)
    pair("good2.png", "second good pair", True, cv2.GaussianBlur(sharp, (0, 0), 2.5), sharp)
    pair("wide.png", "non-square pair", True, photo(48, 80)[:, ::-1], photo(48, 80))
    pair("tiny.png", "8 x 8 pair (too small for SSIM)", False, soft[:8, :8], sharp[:8, :8])
    pair("gray_pair.png", "gray pair", True, soft[:, :, :1].copy(), sharp[:, :, :1].copy())
    pair("mismatch.png", "pair of different sizes", False, soft[:40], sharp)
    pair("lq_broken.png", "broken blurred file", False, b"broken", sharp)
    pair("gt_broken.png", "broken ground truth", False, soft, b"\x89PNG\r\n\x1a\n", named="gt")
    pair("no_gt.png", "blurred file without ground truth", False, soft, None)
    pair(os.fsdecode(b"caf\xe9.png"), "non-UTF-8 pair name", True, soft, sharp)

    # -- configs and weights -------------------------------------------------------------------
    configs = root / "configs"
    configs.mkdir()
    (configs / "syntax.yaml").write_text("model: [chrysos\nsteps: 10\n  bad indent: {\n")
    (configs / "unknown_key.yaml").write_text("blur_kernel: gaussian\nnot_a_field: 3\n")
    (configs / "not_a_mapping.yaml").write_text("- just\n- a list\n")
    (configs / "weights.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    (configs / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a torch checkpoint")
    corpus.configs = {p.stem: p for p in sorted(configs.iterdir())}
    return corpus


def _video(path: Path, frames: int, size: int = 64) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()  # writes the header even when no frame follows
        rng = np.random.default_rng(0)
        for i in range(frames):
            pixels = (rng.random((size, size, 3)) * 60 + 80 + 10 * i).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        stream.layout = "mono"
        samples = np.zeros((1, 1024), np.float32)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.rate = 8000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
