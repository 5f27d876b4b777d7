"""Round trips for every image format: pixels, depth, mode, ICC profile, EXIF and DPI survive."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from facedeblur import images
from facedeblur.errors import InputError
from facedeblur.image_codecs import encode_tiff
from facedeblur.image_metadata import ImageInfo, apply_orientation
from facedeblur.images import read_image, read_image_with_info, write_image, write_result

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "FaceCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[0x0112] = orientation
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09"}  # DateTimeOriginal in the Exif sub-IFD
    return exif.tobytes()


def _tags(info: ImageInfo) -> dict:
    assert info.exif, "EXIF lost"
    exif = Image.Exif()
    exif.load(info.exif)
    return {"make": exif.get(0x010F), "orientation": exif.get(0x0112), "taken": exif.get_ifd(0x8769).get(0x9003)}


def _pixels(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape, dtype=np.float32) * 1.5 - 0.2  # HDR values outside [0, 1] too
    return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)


FULL = ImageInfo(icc_profile=SRGB, exif=_exif(), dpi=(300.0, 240.0))

LOSSLESS = [
    (".png", np.uint8, 1), (".png", np.uint8, 2), (".png", np.uint8, 3), (".png", np.uint8, 4),
    (".png", np.uint16, 1), (".png", np.uint16, 2), (".png", np.uint16, 3), (".png", np.uint16, 4),
    (".tif", np.uint8, 1), (".tif", np.uint8, 2), (".tiff", np.uint8, 3), (".tif", np.uint8, 4),
    (".tif", np.uint16, 1), (".tif", np.uint16, 2), (".tif", np.uint16, 3), (".tif", np.uint16, 4),
    (".tif", np.float32, 1), (".tif", np.float32, 2), (".tif", np.float32, 3), (".tif", np.float32, 4),
    (".webp", np.uint8, 3), (".webp", np.uint8, 4), (".bmp", np.uint8, 1), (".bmp", np.uint8, 3),
]  # fmt: skip


@pytest.mark.parametrize(("ext", "dtype", "channels"), LOSSLESS)
def test_lossless_formats_keep_pixels_depth_mode_and_metadata(tmp_path, ext, dtype, channels):
    pixels = _pixels((13, 17, channels), dtype)
    path = tmp_path / f"x{ext}"
    write_image(path, pixels, info=FULL)
    back, info = read_image_with_info(path)
    assert back.dtype == pixels.dtype and back.shape == pixels.shape
    assert np.array_equal(back, pixels)
    if ext != ".bmp":  # BMP holds DPI only
        assert _tags(info) == {"make": "FaceCam", "orientation": 1, "taken": "2024:05:06 07:08:09"}
        assert info.icc_profile == (SRGB if channels >= 3 else None)  # an RGB profile never on gray
    if ext != ".webp":  # WebP holds no DPI
        assert info.dpi == pytest.approx((300.0, 240.0), abs=0.01)


def test_other_tools_read_our_deep_files_the_same(tmp_path):
    pixels = _pixels((9, 11, 3), np.uint16)
    write_image(tmp_path / "a.tif", pixels, info=FULL)
    write_image(tmp_path / "a.png", pixels, info=FULL)
    for name in ("a.tif", "a.png"):
        assert np.array_equal(cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)[:, :, ::-1], pixels)
    with Image.open(tmp_path / "a.png") as im:  # Pillow reads the chunks we added to OpenCV's PNG
        assert im.info["icc_profile"] == SRGB and im.getexif()[0x010F] == "FaceCam"
    with Image.open(tmp_path / "a.tif") as im:
        assert im.info["icc_profile"] == SRGB and im.getexif()[0x010F] == "FaceCam"


def test_float_tiff_is_not_black_and_keeps_values_outside_0_1(tmp_path):
    pixels = np.linspace(-0.5, 2.0, 5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    write_image(tmp_path / "f.tif", pixels)
    back = read_image(tmp_path / "f.tif")
    assert back.dtype == np.float32 and np.array_equal(back, pixels)
    rgb, _, fmt = images.to_float_rgb(back)
    assert fmt.dtype == "float32" and rgb.max() == 1.0 and rgb.min() == 0.0
    assert images.from_float_rgb(rgb, None, fmt).dtype == np.float32


def test_16bit_tiff_from_other_tools_stays_16bit(tmp_path):
    pixels = _pixels((12, 10, 3), np.uint16, seed=3)
    cv2.imwrite(str(tmp_path / "lzw.tif"), pixels[:, :, ::-1])  # OpenCV writes LZW
    back = read_image(tmp_path / "lzw.tif")
    assert back.dtype == np.uint16 and np.array_equal(back, pixels)
    cv2.imwrite(str(tmp_path / "f.tif"), pixels[:, :, ::-1].astype(np.float32) / 65535)
    assert np.allclose(read_image(tmp_path / "f.tif"), pixels / 65535, atol=1e-6)


def test_gray_alpha_png_from_pillow_reads_and_writes_as_la(tmp_path):
    la = _pixels((6, 9, 2), np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    back = read_image(tmp_path / "la.png")
    assert back.shape == (6, 9, 2) and np.array_equal(back, la)
    write_image(tmp_path / "out.png", back)
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "LA"


def test_jpeg_keeps_tables_subsampling_and_metadata(tmp_path):
    rgb = cv2.GaussianBlur(_pixels((64, 80, 3), np.uint8), (0, 0), 2)
    src = tmp_path / "in.jpg"
    Image.fromarray(rgb).save(src, quality=71, subsampling=1, icc_profile=SRGB, exif=_exif(), dpi=(200, 200))
    pixels, info = read_image_with_info(src)
    out = tmp_path / "out.jpg"
    write_image(out, pixels, info=info)
    with Image.open(src) as a, Image.open(out) as b:
        assert a.quantization == b.quantization
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(b) == 1
        assert b.info["icc_profile"] == SRGB and b.info["dpi"] == pytest.approx((200, 200))
    assert _tags(read_image_with_info(out)[1])["make"] == "FaceCam"
    # re-encoding with the input's own tables changes pixels far less than a fresh quality-95 encode
    again = read_image(out).astype(int)
    write_image(tmp_path / "fresh.jpg", pixels)
    fresh = read_image(tmp_path / "fresh.jpg").astype(int)
    base = pixels.astype(int)
    assert np.abs(again - base).mean() < np.abs(fresh - base).mean()


def test_gray_jpeg_stays_gray(tmp_path):
    Image.fromarray(_pixels((20, 30), np.uint8)).save(tmp_path / "g.jpg", quality=80)
    pixels, info = read_image_with_info(tmp_path / "g.jpg")
    assert pixels.shape == (20, 30, 1) and info.jpeg_mode == "L"
    write_image(tmp_path / "o.jpg", pixels, info=info)
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.mode == "L"


def test_cmyk_jpeg_becomes_rgb_through_its_profile(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = (200, 30, 30)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "plain.jpg", quality=95)
    pixels, info = read_image_with_info(tmp_path / "plain.jpg")
    assert pixels.shape == (16, 16, 3) and info.icc_profile is None and info.jpeg_qtables is None
    assert np.abs(pixels[4, 2].astype(int) - (200, 30, 30)).max() < 12
    write_image(tmp_path / "o.jpg", pixels, info=info)
    assert read_image(tmp_path / "o.jpg").shape == (16, 16, 3)


def test_palette_and_one_bit_images(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4] = (10, 200, 30)
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.png"), rgb)
    pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").shape == (8, 8, 4)
    bits = np.zeros((8, 8), bool)
    bits[::2] = True
    Image.fromarray(bits).save(tmp_path / "one.png")
    Image.fromarray(bits).save(tmp_path / "one.tif")
    for name in ("one.png", "one.tif"):  # 1-bit becomes 8-bit gray: 0 and 255
        back = read_image(tmp_path / name)
        assert back.shape == (8, 8, 1) and back.dtype == np.uint8 and set(np.unique(back)) == {0, 255}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_on_read_and_reset_on_write(tmp_path, orientation):
    rgb = _pixels((6, 10, 3), np.uint8)
    src = tmp_path / "o.png"
    Image.fromarray(rgb).save(src, exif=_exif(orientation), dpi=(100, 50))
    pixels, info = read_image_with_info(src)
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(pixels, expected)
    assert _tags(info)["orientation"] == 1
    assert info.dpi == pytest.approx((50, 100) if orientation >= 5 else (100, 50), abs=0.01)
    write_image(tmp_path / "out.jpg", pixels, info=info)
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.getexif()[0x0112] == 1 and im.size == (pixels.shape[1], pixels.shape[0])


def test_orientation_also_turns_16bit_pixels(tmp_path):
    deep = _pixels((4, 6, 3), np.uint16)
    write_image(tmp_path / "d.png", deep, info=ImageInfo(exif=_exif(1)))
    # set orientation 6 in the written file's eXIf chunk
    exif = Image.Exif()
    exif.load(_exif(6))
    from facedeblur.image_codecs import add_png_chunks

    data = add_png_chunks((tmp_path / "d.png").read_bytes(), exif=exif.tobytes())
    (tmp_path / "d6.png").write_bytes(data)
    back = read_image(tmp_path / "d6.png")
    assert back.dtype == np.uint16 and np.array_equal(back, apply_orientation(deep, 6))


def test_header_only_400_megapixel_png_is_refused_before_decoding(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)))
    with pytest.raises(InputError) as err:
        read_image(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "400 MP" in message and "250 MP" in message


def test_pixel_limit_is_one_constant(tmp_path, monkeypatch):
    write_image(tmp_path / "a.png", np.zeros((10, 10, 3), np.uint8))
    write_image(tmp_path / "f.tif", np.zeros((10, 10, 3), np.float32))  # read without Pillow
    monkeypatch.setattr(images, "MAX_PIXELS", 99)
    for name in ("a.png", "f.tif"):
        with pytest.raises(InputError, match="limit"):
            read_image(tmp_path / name)
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    assert read_image(tmp_path / "a.png").shape == (10, 10, 3)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 5000, 3), (5000, 1, 1), (2, 3, 2), (1, 1, 4)])
@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp", ".bmp"])
def test_odd_sizes_round_trip(tmp_path, shape, ext):
    pixels = _pixels(shape, np.uint8)
    if ext == ".webp" and max(shape) > 16_383:
        pytest.skip("WebP holds 16,383 px a side")
    write_image(tmp_path / f"s{ext}", pixels)
    back = read_image(tmp_path / f"s{ext}")
    assert back.shape[:2] == shape[:2]


def test_format_limits_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="16,383 px a side"):
        write_image(tmp_path / "wide.webp", np.zeros((1, 20_000, 3), np.uint8))


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.png", b"", "empty file"),
        ("text.jpg", b"this is not an image at all", "not a readable image"),
        ("cut.png", None, "truncated"),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path, name, data, words):
    path = tmp_path / name
    if data is None:
        write_image(path, _pixels((64, 64, 3), np.uint8))
        data = path.read_bytes()[:200]
    path.write_bytes(data)
    with pytest.raises(InputError, match=words) as err:
        read_image(path)
    assert "\n" not in str(err.value) and name in str(err.value)


def test_special_files_are_named(tmp_path):
    import os

    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "dir.png").mkdir()
    expected = {
        "dangling.png": "missing file",
        "loop.png": "cannot open",
        "fifo.png": "not a regular file",
        "dir.png": "folder",
    }
    for name, words in expected.items():
        with pytest.raises(InputError, match=words):
            read_image(tmp_path / name)


def test_non_utf8_names_are_named_in_messages(tmp_path):
    import os

    path = tmp_path / os.fsdecode(b"caf\xe9.png")
    path.write_bytes(b"junk")
    with pytest.raises(InputError) as err:
        read_image(path)
    assert str(path) in str(err.value)


def test_write_result_copies_unchanged_inputs_bit_for_bit(tmp_path):
    src = tmp_path / "in.jpg"
    Image.fromarray(_pixels((16, 16, 3), np.uint8)).save(src, quality=60, exif=_exif(6))
    pixels, info = read_image_with_info(src)
    assert write_result(tmp_path / "same.jpg", pixels, src, pixels, info) is True
    assert (tmp_path / "same.jpg").read_bytes() == src.read_bytes()
    changed = pixels.copy()
    changed[0, 0] = 255 - changed[0, 0]
    assert write_result(tmp_path / "new.jpg", changed, src, pixels, info) is False
    assert write_result(tmp_path / "other.png", pixels, src, pixels, info) is False  # format changes
    assert np.array_equal(read_image(tmp_path / "other.png"), pixels)


def test_written_files_get_the_usual_mode(tmp_path):
    import os

    write_image(tmp_path / "m.tif", np.zeros((2, 2, 3), np.uint16))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.tif").stat().st_mode & 0o777 == 0o666 & ~umask
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".")]  # no temp file left


def test_importing_the_package_leaves_the_umask_alone():
    import subprocess
    import sys

    code = (
        "import os; calls = []; real = os.umask\n"
        "os.umask = lambda mask: (calls.append(mask), real(mask))[1]\n"
        "import facedeblur.images, facedeblur.restore, facedeblur.cli\n"
        "assert not calls, calls"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_tiff_encoder_survives_exif_it_cannot_place(tmp_path):
    exif = Image.Exif()
    exif[0x9286] = b"\x00" * 10  # UserComment in IFD0: an odd place, any type
    exif[0x010F] = "FaceCam"
    data = encode_tiff(np.zeros((3, 3, 3), np.uint8), exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (3, 3)
