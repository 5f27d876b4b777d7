"""`facedeblur export MODEL --format onnx|torchscript`: parity with PyTorch, dynamic batch, metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _deploy_helpers import ARCHITECTURES, SIZE, make_model, save_tiny
from facedeblur.cli import main
from facedeblur.deploy.export import (
    ExportParityError,
    export_model,
    load_torchscript,
    onnx_bytes,
    prepare_for_export,
    torchscript_bytes,
)
from facedeblur.deploy.onnx_backend import METADATA_KEY, SOURCE_SHA256_KEY, OnnxFaceModel, file_sha256
from facedeblur.face.align import template
from facedeblur.models.hub import bundled_models, load_weights, read_metadata

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy_weights")
    return {arch: save_tiny(arch, root / f"{arch}.safetensors") for arch in ARCHITECTURES}


@pytest.fixture(scope="module")
def exports(weights, tmp_path_factory):
    """Every tiny model exported through the CLI to ONNX and (by the .pt suffix) to TorchScript."""
    root = tmp_path_factory.mktemp("deploy_exports")
    out = {}
    for arch, path in weights.items():
        onnx_path, ts_path = root / f"{arch}.onnx", root / f"{arch}.pt"
        assert main(["export", str(path), "--format", "onnx", "-o", str(onnx_path)]) == 0
        assert main(["export", str(path), "-o", str(ts_path)]) == 0  # format from the extension
        out[arch] = (onnx_path, ts_path)
    return out


def _faces(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, SIZE, SIZE), dtype=np.float32)


def _reference(weights_path, batch: np.ndarray) -> np.ndarray:
    model, _ = load_weights(weights_path)
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_onnx_export_matches_pytorch_at_any_batch_size(arch, weights, exports):
    session = ort.InferenceSession(str(exports[arch][0]), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [3, SIZE, SIZE]  # dynamic batch axis
    for n in (1, 3):
        batch = _faces(n, seed=n)
        expected = _reference(weights[arch], batch)
        got = session.run(None, {inp.name: batch})[0]
        assert got.shape == (n, 3, SIZE, SIZE)
        assert np.abs(got - expected).max() < 1e-3
        assert np.abs(expected - batch).max() > 0.01  # the model really changes faces: parity means something


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_onnx_export_carries_the_metadata(arch, weights, exports):
    proto = onnx.load(str(exports[arch][0]))
    props = {p.key: p.value for p in proto.metadata_props}
    assert proto.opset_import[0].version >= 17
    meta = read_metadata(weights[arch])
    assert json.loads(props[METADATA_KEY]) == json.loads(meta.to_json())
    assert props["model_name"] == f"tiny-{arch}" and props["architecture"] == arch
    assert props["face_size"] == str(SIZE)
    assert np.allclose(json.loads(props["template"]), template(SIZE), atol=1e-3)
    assert props[SOURCE_SHA256_KEY] == file_sha256(weights[arch])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_torchscript_export_loads_and_runs_at_any_batch_size(arch, weights, exports):
    module, meta = load_torchscript(exports[arch][1])
    assert meta == read_metadata(weights[arch])
    for n in (1, 3):
        batch = _faces(n, seed=10 + n)
        with torch.no_grad():
            got = module(torch.from_numpy(batch)).numpy()
        assert np.abs(got - _reference(weights[arch], batch)).max() < 1e-3


def test_export_prints_the_parity_and_keeps_safetensors_export(weights, tmp_path, capsys):
    out = tmp_path / "copy.safetensors"
    assert main(["export", str(weights["chrysos"]), "-o", str(out)]) == 0
    assert read_metadata(out) == read_metadata(weights["chrysos"])
    assert main(["export", str(weights["chrysos"]), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    text = capsys.readouterr().out
    assert "onnx export matches PyTorch: max abs difference" in text and "batches of 1 and 3 faces" in text


def test_spectral_norm_is_baked_without_touching_the_original():
    model = make_model("psfrgan")
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        before = model(x)
        plain = prepare_for_export(model)
        assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.modules())
        assert torch.allclose(plain(x), before, atol=1e-5)
        assert torch.equal(model(x), before)  # the original still works (and still carries spectral norm)
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.modules())


def test_exporting_leaves_batch_norm_statistics_alone(weights):
    model, meta = load_weights(weights["chrysos"])
    plain = prepare_for_export(model)
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    onnx_bytes(plain, meta)
    torchscript_bytes(plain, meta)
    assert not plain.training
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())


def test_a_failed_parity_check_writes_nothing(weights, tmp_path):
    model, meta = load_weights(weights["chrysos"])
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportParityError, match="nothing written"):
        export_model(model, meta, out, "onnx", tolerance=-1.0)
    assert not out.exists()
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(model, meta, out, "tflite")


def test_export_refuses_unknown_models_and_formats(tmp_path, capsys):
    assert main(["export", "no-such-model", "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    assert "unknown model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "default", "--format", "tflite", "-o", str(tmp_path / "m.tflite")])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_every_bundled_model_exports_to_onnx_within_tolerance(name, tmp_path):
    model, meta = load_weights(bundled_models()[name])
    report = export_model(model, meta, tmp_path / f"{name}.onnx", "onnx")
    assert report.max_abs_diff < 1e-3 and report.path.stat().st_size == report.size_bytes
    served = OnnxFaceModel(report.path, device="cpu")
    assert (served.name, served.face_size) == (meta.name, meta.face_size)


@pytest.mark.parametrize("name", ["facedeblur.deploy.export", "facedeblur.deploy.onnx_backend"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
