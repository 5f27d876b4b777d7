"""The Python API of the restoration pipeline on real UTKFace faces pasted on synthetic canvases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from _face_helpers import canvas, place
from _restore_helpers import cached_val_faces, make_tiny_model
from facedeblur.errors import UserError
from facedeblur.face.align import template
from facedeblur.models.hub import bundled_models
from facedeblur.restore import FaceModel, Restorer, resolve_device


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def restorer(tiny_model):
    return Restorer(str(tiny_model), device="cpu")


@pytest.fixture(scope="module")
def photo(utkface_val):
    """A 360x560 photo with two real faces; returns (pixels, boxes)."""
    faces = cached_val_faces(utkface_val, 2)
    image = canvas(360, 560, seed=3)
    boxes = [place(image, faces[0], 30, 60, 220), place(image, faces[1], 300, 90, 200)]
    return image, boxes


@pytest.fixture(scope="module")
def restored(restorer, photo):
    return restorer.restore(photo[0])


def test_finds_and_restores_every_face(restored, photo):
    image, boxes = photo
    assert len(restored.faces) == 2
    assert restored.image.shape == image.shape and restored.image.dtype == np.uint8
    for face, (x0, y0, x1, y1) in zip(sorted(restored.faces, key=lambda f: f.box[0]), boxes, strict=True):
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert x0 < cx < x1 and y0 < cy < y1
        assert face.landmarks5.shape == (5, 2)
        assert face.input_face.shape == face.restored_face.shape == (128, 128, 3)
        assert np.abs(face.restored_face - face.input_face).mean() > 1e-3  # the model did change the face
        assert set(face.to_dict()) == {"box", "score", "landmarks5"}
    changed = np.abs(restored.image.astype(int) - image.astype(int)).max(axis=2) > 0
    assert changed.sum() > 1000
    for key in ("detect", "align", "model", "paste", "total"):
        assert restored.timings[key] >= 0


def test_background_pixels_are_untouched(restored, photo):
    image, _ = photo
    changed = (restored.image != image).any(axis=2)
    ys, xs = np.nonzero(changed)
    # Every changed pixel lies inside a pasted face's region (its crop mapped back to the image).
    inside = np.zeros(changed.shape, bool)
    for face in restored.faces:
        inv = np.linalg.inv(np.vstack([face.matrix, [0, 0, 1]]))[:2]
        corners = np.array([[0, 0], [127, 0], [0, 127], [127, 127]], float) @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 3
        inside[max(y0, 0) : y1, max(x0, 0) : x1] = True
    assert inside[ys, xs].all()
    assert (restored.image[~inside] == image[~inside]).all()
    assert (~inside).sum() > image.shape[0] * image.shape[1] // 3  # a real background remains


def test_fidelity_zero_returns_input_exactly_and_blends_monotonically(restorer, photo, restored):
    image, _ = photo
    zero = restorer.restore(image, fidelity=0.0)
    assert np.array_equal(zero.image, image) and len(zero.faces) == 2
    faces = restored.faces
    half = restorer.restore(image, fidelity=0.5, faces=faces).image.astype(float)
    full = restored.image.astype(float)
    base = image.astype(float)
    # halfway blend: on average half the change of the full restoration
    assert np.abs(half - base).sum() == pytest.approx(0.5 * np.abs(full - base).sum(), rel=0.05)
    with pytest.raises(ValueError, match="fidelity"):
        restorer.restore(image, fidelity=1.5)


def test_keeps_dtype_channels_and_alpha(restorer, photo):
    from PIL import Image

    image, _ = photo
    gray16 = (image.mean(axis=2) * 257).astype(np.uint16)
    out = restorer.restore(gray16)
    assert out.image.shape == gray16.shape and out.image.dtype == np.uint16 and len(out.faces) == 2
    assert np.abs(out.image.astype(int) - gray16).max() > 0
    rgba = np.dstack([image, np.full(image.shape[:2], 77, np.uint8)])
    out = restorer.restore(rgba)
    assert out.image.shape == rgba.shape and (out.image[:, :, 3] == 77).all()
    pil = restorer.restore(Image.fromarray(image).convert("L")).image
    assert isinstance(pil, Image.Image) and pil.mode == "L" and pil.size == (image.shape[1], image.shape[0])
    floats = restorer.restore(image.astype(np.float32) / 255, fidelity=0).image
    assert floats.dtype == np.float32 and np.allclose(floats, image / 255, atol=1e-6)


def test_no_face_returns_the_image_unchanged(restorer):
    blank = canvas(120, 160, seed=1)
    result = restorer.restore(blank)
    assert result.faces == [] and np.array_equal(result.image, blank)


def test_only_center_face_and_min_face_size(tiny_model, photo):
    image, boxes = photo
    center = Restorer(str(tiny_model), device="cpu", only_center_face=True).detect(image)
    assert len(center) == 1
    # searched at full resolution anyway (upsample=0): the faces are found and left alone as too small
    big = Restorer(str(tiny_model), device="cpu", min_face_size=1000, upsample=0).restore(image)
    assert big.faces == [] and big.skipped == 2 and np.array_equal(big.image, image)


def test_aligned_faces_keep_their_size(restorer, utkface_val):
    face200 = cached_val_faces(utkface_val, 2)[0]
    import cv2

    face128 = cv2.resize(face200, (128, 128), interpolation=cv2.INTER_AREA)
    out128 = restorer.restore_aligned(face128)
    assert out128.shape == (128, 128, 3) and out128.dtype == np.uint8
    direct = restorer.model(face128.transpose(2, 0, 1)[None].astype(np.float32) / 255)[0].transpose(1, 2, 0)
    assert np.abs(out128.astype(float) / 255 - direct).max() <= 1 / 255 + 1e-6  # 128 in: the network's output
    out200 = restorer.restore_aligned(face200)
    assert out200.shape == (200, 200, 3) and not np.array_equal(out200, face200)
    assert np.array_equal(restorer.restore_aligned(face200, fidelity=0), face200)


def test_thread_safe(restorer, photo, restored):
    image, _ = photo
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: restorer.restore(image).image, range(3)))
    for result in results:
        assert np.array_equal(result, restored.image)


class HalfBrightModel:
    """A FaceModel without torch: darkens faces (what an onnxruntime backend would plug in as)."""

    name = "half"
    face_size = 64
    template = template(64)
    metadata = None
    device = "cpu"

    def __call__(self, batch):
        return batch * 0.5


def test_any_face_model_plugs_in(photo):
    image, _ = photo
    model = HalfBrightModel()
    assert isinstance(model, FaceModel)
    result = Restorer(model).restore(image)
    assert len(result.faces) == 2 and result.faces[0].input_face.shape == (64, 64, 3)
    assert result.image.astype(int).sum() < image.astype(int).sum()


def test_devices_and_unknown_models():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(UserError, match="known models"):
        Restorer("no-such-model", device="cpu")


def test_default_model_loads_when_bundled_and_sharpens_blurred_faces(photo):
    import cv2

    if "default" not in bundled_models():
        pytest.skip("the default weights are not bundled in this checkout")
    restorer = Restorer("default", device="cpu")
    assert restorer.model.name == "default" and restorer.face_size == 128
    image, boxes = photo
    sharp = image.astype(np.float32) / 255
    blurred = (cv2.GaussianBlur(sharp, (0, 0), 2.5) * 255 + 0.5).astype(np.uint8)
    result = restorer.restore(blurred)
    assert len(result.faces) == 2
    inner = np.zeros(image.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        m = (x1 - x0) // 6
        inner[y0 + m : y1 - m, x0 + m : x1 - m] = True

    def psnr(pixels):
        return 10 * np.log10(1 / np.mean((pixels.astype(np.float32)[inner] / 255 - sharp[inner]) ** 2))

    assert psnr(result.image) > psnr(blurred) + 0.2
