"""The default restorer's training: the `photo` recipe, the `restorer` task through the real engine (task-side
degradation with kernel targets, real pairs mixed in, channels_last), CPU precision choice and the CPU-time
budget that equalises search runs and carries over a resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _train_helpers import write_faces
from facedeblur.degrade.recipes import PhotoRecipe, load_recipe, sample_params_batch
from facedeblur.train.config import RecipeConfig
from facedeblur.train.engine import cpu_has_native_bf16, resolve_channels_last, resolve_precision, train
from facedeblur.train.tasks.restorer import kernel_targets


def test_photo_recipe_draws_what_users_bring_reproducibly():
    recipe = PhotoRecipe()
    params = sample_params_batch(recipe, np.random.default_rng(0), 2000, 128, 128)
    families = [p["kernel_info"]["family"] for p in params]
    assert families.count("shake") / 2000 >= 0.5
    assert {"shake", "gaussian", "defocus", "none"} <= set(families)
    sizes = [p["kernel"].shape[0] for p in params if p["kernel_info"]["family"] == "shake"]
    assert max(sizes) == 31 and min(sizes) >= 7
    scales = [p["scale"] for p in params]
    assert 0.2 < np.mean([s > 1 for s in scales]) < 0.4 and max(scales) <= 4.0
    assert any(p["jpeg_quality"] is not None for p in params) and any(p["noise_sigma"] > 0 for p in params)
    again = sample_params_batch(recipe, np.random.default_rng(0), 2000, 128, 128)
    assert all(
        np.array_equal(a["kernel"], b["kernel"]) for a, b in zip(params, again, strict=True) if a["kernel"] is not None
    )
    assert load_recipe("photo", ["scale=[1.0, 2.0]"]).scale == (1.0, 2.0)
    with pytest.raises(ValueError, match="must be <= 1"):
        PhotoRecipe(shake_probability=0.9, defocus_probability=0.2)


def test_kernel_targets_are_centred_and_skip_rescaled_samples():
    k = np.zeros((3, 3), np.float32)
    k[1, 2] = 1.0
    targets, mask = kernel_targets(
        [
            {"kernel": k, "scale": 1.0},
            {"kernel": None, "scale": 1.0},
            {"kernel": k, "scale": 2.0},
            {"kernel": k, "scale": 1.0, "real_pair": True},
        ],
        7,
    )
    assert mask.tolist() == [True, True, False, False]
    assert targets[0, 3, 4] == 1 and targets[1, 3, 3] == 1 and targets[2].sum() == 0 and targets[3].sum() == 0


def test_cpu_precision_is_bf16_only_where_the_cpu_computes_it_natively():
    expected = "bf16-mixed" if cpu_has_native_bf16() else "32-true"
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("32-true", "cpu") == "32-true"
    assert resolve_channels_last("auto", "cpu", "32-true") is False
    assert resolve_channels_last("auto", "cpu", "bf16-mixed") is True
    assert resolve_channels_last(True, "cpu", "32-true") is True


def _recipe(tmp_path, architecture="unet", **engine):
    train_dir = write_faces(tmp_path / "train", 12, size=40)
    val_dir = write_faces(tmp_path / "val", 4, size=40, seed=1)
    pairs = tmp_path / "pairs"
    write_faces(pairs / "blurred", 3, size=32, seed=2)
    write_faces(pairs / "gt", 3, size=32, seed=2)
    net = {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1], "stem": "unshuffle"}
    if architecture == "wiener_unet":
        net = {"kernel_size": 15, "estimator_width": 4, "refine": net}
    eng = {
        "steps": 4,
        "batch_size": 4,
        "accelerator": "cpu",
        "precision": "32-true",
        "channels_last": True,
        "log_every": 1,
        "val_every": 4,
        "ckpt_every": 2,
        "progress": False,
        "threads": 1,
        **engine,
    }
    return RecipeConfig.from_mapping(
        {
            "task": "restorer",
            "options": {"architecture": architecture, "net": net, "pairs": str(pairs), "pairs_fraction": 0.5},
            "data": {
                "train": str(train_dir),
                "val": str(val_dir),
                "size": 32,
                "recipe": "photo",
                "degrade_in": "task",
                "val_limit": 4,
            },
            "engine": eng,
        }
    )


@pytest.mark.parametrize("architecture", ["unet", "wiener_unet"])
def test_restorer_trains_through_the_engine_and_exports(tmp_path, architecture):
    from facedeblur.cli import main

    result = train(_recipe(tmp_path, architecture), tmp_path / "run")
    assert result.step == 4 and result.val is not None
    last = result.history[-1]
    assert last["charbonnier"] > 0 and last["frequency"] > 0 and 0 <= last["data_s"] < 5
    if architecture == "wiener_unet":
        assert any("kernel_l1" in h for h in result.history)
    out = tmp_path / "model.safetensors"
    assert main(["export", str(tmp_path / "run" / "checkpoints" / "last.ckpt"), "-o", str(out)]) == 0
    from facedeblur.models.hub import load_weights

    model, meta = load_weights(out)
    assert meta.architecture == architecture
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_cpu_time_budget_stops_the_run_and_carries_over_a_resume(tmp_path):
    recipe = _recipe(tmp_path, steps=10_000, cpu_time_limit=0.002)
    first = train(recipe, tmp_path / "run")
    assert 1 <= first.step < 10_000
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["cpu_minutes"] >= 0.002
    more = RecipeConfig.from_mapping(
        {
            **json.loads(json.dumps(_as_dict(recipe))),
            "engine": {**_as_dict(recipe)["engine"], "cpu_time_limit": state["cpu_minutes"] + 0.002},
        }
    )
    second = train(more, tmp_path / "run", resume=True)
    assert second.step > first.step


def _as_dict(recipe):
    from facedeblur.config import to_dict

    return to_dict(recipe)


def test_a_new_phase_starts_from_another_runs_checkpoint_with_its_state(tmp_path):
    from facedeblur.errors import UserError

    first = train(_recipe(tmp_path, steps=3), tmp_path / "p1")
    ckpt = tmp_path / "p1" / "checkpoints" / "last.ckpt"
    before = torch.load(ckpt, map_location="cpu", weights_only=False)
    milder = _as_dict(_recipe(tmp_path, steps=5))
    milder["data"]["recipe_options"] = {"no_blur_probability": 0.3, "shake_sizes": [3, 9]}
    second = train(RecipeConfig.from_mapping(milder), tmp_path / "p2", init_from=ckpt)
    assert first.step == 3 and second.step == 5  # the step count (schedule, EMA) carries on
    after = torch.load(tmp_path / "p2" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert after["cpu_minutes"] > before["cpu_minutes"]
    (phase,) = after["phases"]
    assert phase["step"] == 3 and phase["from"] == str(ckpt) and phase["recipe"]["data"]["recipe_options"] == {}
    assert after["recipe"]["data"]["recipe_options"]["no_blur_probability"] == 0.3
    # the optimizer carried on too: Adam counts 3 + 2 steps, not 2
    adam = after["optimizers"]["generator"]["state"]
    assert {float(v["step"]) for v in adam.values()} == {5.0}
    resumed = train(
        RecipeConfig.from_mapping({**milder, "engine": {**milder["engine"], "steps": 6}}), tmp_path / "p2", resume=True
    )
    assert resumed.step == 6
    state = torch.load(tmp_path / "p2" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["phases"] == after["phases"]
    wider = _as_dict(_recipe(tmp_path, steps=5))
    wider["options"]["net"] = {**wider["options"]["net"], "width": 8}
    with pytest.raises(UserError, match="does not match"):
        train(RecipeConfig.from_mapping(wider), tmp_path / "p3", init_from=ckpt)
    with pytest.raises(UserError, match="cannot be combined"):
        train(RecipeConfig.from_mapping(milder), tmp_path / "p2", resume=True, init_from=ckpt)
    with pytest.raises(UserError, match="already holds a run"):
        train(RecipeConfig.from_mapping(milder), tmp_path / "p2", init_from=ckpt)


def test_a_warm_restart_starts_from_a_weights_file_with_a_fresh_optimizer(tmp_path):
    from facedeblur.cli import main
    from facedeblur.errors import UserError
    from facedeblur.models.hub import load_weights, read_metadata, save_weights

    train(_recipe(tmp_path, steps=3), tmp_path / "p1")
    weights = tmp_path / "shipped.safetensors"
    assert main(["export", str(tmp_path / "p1" / "checkpoints" / "last.ckpt"), "-o", str(weights)]) == 0
    model, meta = load_weights(weights)
    meta.metrics.update(steps=3, cpu_hours=0.5)
    save_weights(model, weights, meta)
    recipe = _as_dict(_recipe(tmp_path, steps=5))
    recipe["options"]["scheduler"] = {"name": "constant", "warmup": 10}
    warm = train(RecipeConfig.from_mapping(recipe), tmp_path / "warm", init_from=weights)
    assert warm.step == 5  # continues the shipped model's step count
    state = torch.load(tmp_path / "warm" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["cpu_minutes"] > 30.0  # 0.5 CPU-hours carried over
    (phase,) = state["phases"]
    assert phase["from"] == str(weights) and phase["step"] == 3 and phase["cpu_minutes"] == 30.0
    adam = state["optimizers"]["generator"]["state"]
    assert {float(v["step"]) for v in adam.values()} == {2.0}  # a fresh optimizer: 2 steps, not 5
    assert state["schedulers"]["generator"]["last_epoch"] == 2  # the warm-up runs again from 0
    # the weights really were the start: one step at a warm-up rate of 1/10 stays close to them
    start = dict(model.state_dict())
    moved = max(float((state["models"]["generator"][k] - v).abs().max()) for k, v in start.items())
    assert moved < 0.05
    assert read_metadata(weights).metrics["steps"] == 3
    wider = _as_dict(_recipe(tmp_path, steps=5))
    wider["options"]["net"] = {**wider["options"]["net"], "width": 8}
    with pytest.raises(UserError, match="does not match"):
        train(RecipeConfig.from_mapping(wider), tmp_path / "wider", init_from=weights)
