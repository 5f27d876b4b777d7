"""Checkpoints written on a GPU continue on the CPU: ``--init-from`` and ``--resume`` map every tensor to the
CPU and skip the CUDA random states (the GPU phases of the default's campaign, docs/gpu-campaign.md)."""

from __future__ import annotations

import shutil

import pytest
import torch

from _train_helpers import tiny_recipe, write_faces
from facedeblur.config import to_dict
from facedeblur.train.config import RecipeConfig
from facedeblur.train.engine import train


def _as_if_written_on_cuda(src, dst, monkeypatch) -> None:
    """Re-save a CPU checkpoint with every storage tagged ``cuda:0`` and a CUDA random state, as a GPU run writes."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    state["rng"][0]["cuda"] = [torch.zeros(16, dtype=torch.uint8)]
    state["export"]["trained_on"] = "gpu"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(state, dst)


def test_a_checkpoint_written_on_cuda_starts_and_resumes_runs_on_the_cpu(tmp_path, monkeypatch):
    train_dir, val_dir = write_faces(tmp_path / "train", 8), write_faces(tmp_path / "val", 4, seed=1)
    recipe = tiny_recipe(train_dir, val_dir, steps=3)
    train(recipe, tmp_path / "gpu")
    gpu_ckpt = tmp_path / "gpu.ckpt"
    _as_if_written_on_cuda(tmp_path / "gpu" / "checkpoints" / "last.ckpt", gpu_ckpt, monkeypatch)
    if not torch.cuda.is_available():  # the tags are real: without a map_location torch wants a GPU
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(gpu_ckpt, weights_only=True)

    more = RecipeConfig.from_mapping({**to_dict(recipe), "engine": {**to_dict(recipe)["engine"], "steps": 5}})
    phase = train(more, tmp_path / "cpu", init_from=gpu_ckpt)
    assert phase.step == 5 and phase.val is not None
    after = torch.load(tmp_path / "cpu" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert after["phases"][-1]["step"] == 3 and after["export"]["trained_on"] == "cpu"
    assert all(t.device.type == "cpu" for t in after["models"]["generator"].values())

    (tmp_path / "resumed" / "checkpoints").mkdir(parents=True)
    shutil.copyfile(gpu_ckpt, tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    resumed = train(more, tmp_path / "resumed", resume=True)
    assert resumed.step == 5
