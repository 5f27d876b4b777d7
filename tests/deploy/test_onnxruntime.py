"""`Restorer(..., backend="onnxruntime")` and `facedeblur restore --backend onnxruntime`, torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _deploy_helpers import ARCHITECTURES, SIZE, save_tiny
from _face_helpers import canvas, place
from _restore_helpers import cached_val_faces
from facedeblur.cli import main
from facedeblur.commands.restore import REPORT_NAME
from facedeblur.deploy.export import export_model
from facedeblur.deploy.onnx_backend import OnnxFaceModel, cached_onnx_path, resolve_onnx_model
from facedeblur.errors import ModelMismatchError, UserError
from facedeblur.images import write_image
from facedeblur.models import hub
from facedeblur.restore import Restorer

pytestmark = pytest.mark.slow  # its module fixture exports every architecture to ONNX

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """arch -> (weights file, its ONNX export)."""
    root = tmp_path_factory.mktemp("ort_models")
    out = {}
    for arch in ARCHITECTURES:
        weights = save_tiny(arch, root / f"{arch}.safetensors")
        model, meta = hub.load_weights(weights)
        export_model(model, meta, root / f"{arch}.onnx", "onnx")
        out[arch] = (weights, root / f"{arch}.onnx")
    return out


@pytest.fixture(scope="module")
def photo(utkface_val):
    faces = cached_val_faces(utkface_val, 2)
    image = canvas(300, 460, seed=5)
    place(image, faces[0], 20, 50, 200)
    place(image, faces[1], 250, 70, 180)
    return image


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_onnxruntime_restores_photos_like_torch(arch, models, photo):
    weights, onnx_path = models[arch]
    ort_restorer = Restorer(str(onnx_path), device="cpu", backend="onnxruntime")
    torch_restorer = Restorer(str(weights), device="cpu", backend="torch")
    assert isinstance(ort_restorer.model, OnnxFaceModel) and ort_restorer.device == "cpu"
    assert ort_restorer.face_size == SIZE and ort_restorer.model.name == f"tiny-{arch}"
    assert np.allclose(ort_restorer.model.template, torch_restorer.model.template)
    faces = ort_restorer.detect(photo)
    got = ort_restorer.restore(photo, faces=faces)
    expected = torch_restorer.restore(photo, faces=faces)
    assert len(got.faces) == 2
    for a, b in zip(got.faces, expected.faces, strict=True):
        assert np.abs(a.restored_face - b.restored_face).max() < 1e-3
    assert got.image.dtype == np.uint8 and got.image.shape == photo.shape
    assert np.abs(got.image.astype(int) - expected.image.astype(int)).max() <= 1
    assert np.abs(got.image.astype(int) - photo.astype(int)).max() > 5  # the faces were really changed


def test_batches_are_split_and_outputs_clamped(models):
    model = OnnxFaceModel(models["chrysos"][1], device="cpu", batch_size=2)
    batch = np.random.default_rng(0).random((5, 3, SIZE, SIZE), dtype=np.float32)
    out = model(batch)
    assert out.shape == batch.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.array_equal(out[4:], OnnxFaceModel(models["chrysos"][1], device="cpu")(batch[4:]))
    with pytest.raises(ValueError, match=r"\(N, 3, 128, 128\)"):
        model(batch[:, :, :64])
    assert model(batch[:0]).shape == (0, 3, SIZE, SIZE)


def test_onnxruntime_restore_imports_no_torch(models, photo, tmp_path):
    """The whole CLI run (detect, align, ONNX Runtime, paste, write) in a fresh interpreter."""
    src = tmp_path / "photo.png"
    write_image(src, photo)
    script = textwrap.dedent(
        f"""
        import sys
        from facedeblur.cli import main
        code = main(["restore", {str(src)!r}, "-o", {str(tmp_path / "out")!r}, "--backend", "onnxruntime",
                     "--model", {str(models["psfrgan"][1])!r}, "--device", "cpu", "--quiet"])
        heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print("RESULT", code, len(heavy))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert "RESULT 0 0" in run.stdout, run.stdout + run.stderr
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["summary"]["restored"] == 1 and report["summary"]["faces"] == 2
    assert report["model"] == "tiny-psfrgan"


def test_bundled_names_use_the_export_cache(models, tmp_path, monkeypatch, capsys):
    weights = tmp_path / "bundled" / "tiny.safetensors"
    save_tiny("chrysos", weights, name="tiny")
    monkeypatch.setattr(hub, "bundled_models", lambda: {"tiny": weights})
    monkeypatch.setenv("FACEDEBLUR_CACHE", str(tmp_path / "cache"))
    cached = cached_onnx_path("tiny")
    assert cached == tmp_path / "cache" / "onnx" / "tiny.onnx"
    with pytest.raises(UserError) as missing:
        resolve_onnx_model("tiny")
    command = f"facedeblur export tiny --format onnx -o {cached}"
    assert command in str(missing.value)
    assert main(command.split()[1:]) == 0  # the command the message gives works as given
    assert resolve_onnx_model("tiny") == cached
    assert Restorer("tiny", device="cpu", backend="onnxruntime").model.name == "tiny"
    save_tiny("chrysos", weights, seed=1, name="tiny")  # the bundled weights change: the export is stale
    with pytest.raises(UserError, match="re-export with: facedeblur export tiny --format onnx"):
        resolve_onnx_model("tiny")


def test_clear_errors(models, tmp_path, capsys):
    weights, _ = models["chrysos"]
    with pytest.raises(UserError, match=r"export it first: facedeblur export .*chrysos.safetensors --format onnx"):
        resolve_onnx_model(str(weights))
    with pytest.raises(UserError, match="no such ONNX file"):
        resolve_onnx_model(str(tmp_path / "missing.onnx"))
    with pytest.raises(UserError, match="unknown model 'nope' for the onnxruntime backend"):
        resolve_onnx_model("nope")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(UserError, match="no CUDA provider"):
            OnnxFaceModel(models["chrysos"][1], device="cuda")
    write_image(tmp_path / "in" / "a.png", np.zeros((32, 32, 3), np.uint8))
    args = ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--backend", "onnxruntime"]
    assert main(args + ["--model", str(weights)]) == 2
    assert "export it first" in capsys.readouterr().err


def test_onnx_files_without_facedeblur_metadata_are_refused(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["lq"], ["restored"])],
        "plain",
        [helper.make_tensor_value_info("lq", TensorProto.FLOAT, ["n", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, ["n", 3, SIZE, SIZE])],
    )
    path = tmp_path / "plain.onnx"
    path.write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    )
    with pytest.raises(ModelMismatchError, match="no facedeblur metadata"):
        OnnxFaceModel(path, device="cpu")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelMismatchError, match="not an ONNX model"):
        OnnxFaceModel(tmp_path / "junk.onnx", device="cpu")
