"""`facedeblur export`: checkpoint -> safetensors with metadata, round trip, and refusal of mismatches."""

from __future__ import annotations

import json

import pytest
import torch

from _train_helpers import tiny_recipe, write_faces
from facedeblur.cli import main
from facedeblur.errors import ModelMismatchError
from facedeblur.face.align import template
from facedeblur.models.hub import WeightsMetadata, load_weights, read_metadata, save_weights
from facedeblur.models.registry import build_model
from facedeblur.train.checkpoint import load_checkpoint
from facedeblur.train.engine import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    write_faces(root / "faces" / "train", 8, seed=0)
    write_faces(root / "faces" / "val", 4, seed=1)
    recipe = tiny_recipe(root / "faces" / "train", root / "faces" / "val", steps=2, val_every=2)
    train(recipe, root / "run")
    return root / "run"


def test_export_round_trip_keeps_weights_and_metadata(run_dir, tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    assert main(["export", str(ckpt), "-o", str(out), "--name", "tiny"]) == 0
    assert "wrote" in capsys.readouterr().out
    model, meta = load_weights(out, architecture="chrysos")
    state = load_checkpoint(ckpt)
    assert meta.name == "tiny" and meta.architecture == "chrysos"
    assert meta.config == {"width": 6, "blocks": 2, "skip_every": 1, "residual": True}
    assert meta.face_size == 24
    assert torch.allclose(torch.tensor(meta.template), torch.from_numpy(template(24)), atol=1e-3)
    assert meta.trained_on == "cpu"
    assert meta.data_license == "unknown (set --data-license)"  # not UTKFace: the user must say
    assert meta.metrics["psnr"] == pytest.approx(state["val"]["psnr"], abs=1e-3)
    assert "2 steps x 4 faces" in meta.training_data
    # the exported weights are the EMA generator's, and give the same restorations
    reference = build_model("chrysos", **meta.config)
    reference.load_state_dict(state["ema"]["generator"])
    x = torch.rand(2, 3, 24, 24)
    assert torch.equal(model(x), reference.eval()(x))


def test_export_records_license_and_metrics_given(run_dir, tmp_path):
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"metrics": {"psnr": 30.5, "ssim": 0.91}}))
    out = tmp_path / "m.safetensors"
    args = ["export", str(run_dir / "checkpoints" / "last.ckpt"), "-o", str(out)]
    assert main(args + ["--data-license", "CC0", "--metrics", str(metrics)]) == 0
    meta = read_metadata(out)
    assert meta.data_license == "CC0" and meta.metrics == {"psnr": 30.5, "ssim": 0.91}
    assert meta.name == "run"
    # re-exporting a weights file keeps its metadata
    again = tmp_path / "again.safetensors"
    assert main(["export", str(out), "-o", str(again), "--name", "renamed"]) == 0
    assert read_metadata(again).data_license == "CC0" and read_metadata(again).name == "renamed"


def test_loading_refuses_mismatched_metadata(run_dir, tmp_path):
    out = tmp_path / "model.safetensors"
    assert main(["export", str(run_dir / "checkpoints" / "last.ckpt"), "-o", str(out)]) == 0
    model, meta = load_weights(out)
    with pytest.raises(ModelMismatchError, match="expected 'dfpgnet'"):
        load_weights(out, architecture="dfpgnet")
    lying = tmp_path / "lying.safetensors"
    save_weights(model, lying, WeightsMetadata(**{**meta.__dict__, "config": {**meta.config, "width": 7}}))
    with pytest.raises(ModelMismatchError, match="do not match"):
        load_weights(lying)
    unknown = tmp_path / "unknown.safetensors"
    save_weights(model, unknown, WeightsMetadata(**{**meta.__dict__, "config": {"depth": 3}}))
    with pytest.raises(ModelMismatchError, match="buildable"):
        load_weights(unknown)
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(bare))
    with pytest.raises(ModelMismatchError, match="no facedeblur metadata"):
        load_weights(bare)


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["export", str(junk), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "not a facedeblur training checkpoint" in capsys.readouterr().err
    assert main(["export", "no-such-model", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_bundled_default_model_is_described_and_deblurs(utkface_val):
    from facedeblur.models.hub import bundled_models
    from facedeblur.train.data import validation_set
    from facedeblur.train.validate import evaluate

    path = bundled_models().get("chrysos")
    if path is None:
        pytest.skip("the bundled chrysos model is not in this checkout")
    assert path.stat().st_size <= 20 * 1024 * 1024
    model, meta = load_weights(path, architecture="chrysos")
    assert meta.face_size == 128 and meta.trained_on == "cpu"
    assert meta.data_license == "UTKFace: non-commercial research only"
    assert {"psnr", "ssim"} <= set(meta.metrics)
    faces = validation_set(utkface_val, 128, "deblur", seed=0, limit=8)
    batch = {k: torch.stack([faces[i][k] for i in range(8)]) for k in ("lq", "gt")}
    result = evaluate(model, [batch])
    assert result.metrics["psnr"] > result.metrics["psnr_input"] + 0.2
