"""The training engine end to end on tiny synthetic data: CLI smoke run, logging, resume, GAN steps, config errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from _train_helpers import tiny_recipe, write_faces
from facedeblur.cli import main
from facedeblur.config import ConfigError
from facedeblur.errors import UserError
from facedeblur.train.checkpoint import load_checkpoint
from facedeblur.train.config import load_recipe
from facedeblur.train.engine import train
from facedeblur.train.optim import OptimizerConfig, build_optimizer
from facedeblur.train.recipes import CONFIG_DIRS
from facedeblur.train.task import TrainTask

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    write_faces(root / "train", 12, seed=0)
    write_faces(root / "val", 4, seed=1)
    return root


def _events(path: Path, kind: str) -> list[dict]:
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_cli_smoke_recipe_trains_and_loss_falls(faces, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", str(CONFIG_DIRS[0] / "chrysos-smoke.yaml"), "--data", str(faces), "--out", str(out)]
        + ["--set", "data.limit=null", "engine.steps=24", "engine.val_every=12", "engine.threads=1"]
    )
    assert code == 0
    assert "trained 24 steps" in capsys.readouterr().out
    losses = [e["loss_g"] for e in _events(out, "train")]
    assert len(losses) == 24
    assert sum(losses[-6:]) / 6 < 0.8 * sum(losses[:6]) / 6, losses
    vals = _events(out, "val")
    assert [v["step"] for v in vals] == [12, 24]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 24 and summary["best"]["psnr"] >= max(v["psnr"] for v in vals) - 1e-9
    for name in ("last.ckpt", "best.ckpt", "../recipe.yaml"):
        assert (out / "checkpoints" / name).is_file()
    # TensorBoard got scalars and the validation image grid
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    assert "train/loss_g" in acc.Tags()["scalars"] and "val/psnr" in acc.Tags()["scalars"]
    assert "val/lq_restored_gt" in acc.Tags()["images"]


def test_unknown_keys_are_rejected_with_their_name(tmp_path, capsys):
    recipe = CONFIG_DIRS[0] / "chrysos-smoke.yaml"
    with pytest.raises(ConfigError, match="engine.stepz"):
        load_recipe(recipe, ["engine.stepz=3"])
    with pytest.raises(ConfigError, match="options.net.widht"):
        load_recipe(recipe, ["options.net.widht=3"])
    assert main(["train", str(recipe), "--set", "data.foo=1", "--out", str(tmp_path)]) == 2
    assert "data.foo" in capsys.readouterr().err


def test_shipped_recipes_load():
    for path in sorted((CONFIG_DIRS[0]).glob("chrysos*.yaml")):
        cfg = load_recipe(path)
        assert cfg.task == "chrysos"


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_continues_the_same_run_exactly(faces, tmp_path, workers):
    recipe = tiny_recipe(faces / "train", faces / "val", steps=7)
    recipe.data.workers = workers  # the data a step sees does not depend on the worker processes
    full = train(recipe, tmp_path / "full")
    first = train(recipe, tmp_path / "cut", stop_after=4)  # interrupted mid-epoch (12 faces = 3 batches)
    assert first.step == 4
    rest = train(recipe, tmp_path / "cut", resume=True)
    assert rest.step == 7
    assert [h["loss_g"] for h in full.history[4:]] == [h["loss_g"] for h in rest.history]
    assert full.history[:4] == first.history
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.ckpt")
    for group in ("models", "ema"):
        for key, tensor in a[group]["generator"].items():
            assert torch.equal(tensor, b[group]["generator"][key]), (group, key)
    assert a["optimizers"]["generator"]["state"][0]["step"] == b["optimizers"]["generator"]["state"][0]["step"]
    assert full.best == rest.best


def test_resume_refuses_another_recipe_and_missing_run(faces, tmp_path):
    recipe = tiny_recipe(faces / "train", faces / "val", steps=2)
    train(recipe, tmp_path / "run")
    other = tiny_recipe(faces / "train", faces / "val", steps=4)
    other.options["net"] = {"width": 8, "blocks": 2}
    with pytest.raises(UserError, match="options"):
        train(other, tmp_path / "run", resume=True)
    with pytest.raises(UserError, match="nothing to resume"):
        train(recipe, tmp_path / "empty", resume=True)


@dataclass
class TinyGanConfig:
    adv_weight: float = 0.1
    optim_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-3))


class TinyGan(TrainTask):
    """The GAN plug-in path of the engine: generator + discriminator, alternating steps."""

    Config = TinyGanConfig
    architecture = "chrysos"
    discriminator_modules = ("discriminator",)

    def generator_config(self):
        return {"width": 4, "blocks": 1}

    def build_models(self):
        from facedeblur.models.registry import build_model

        disc = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 4, 2, 1), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(4, 1, 3))
        return {"generator": build_model("chrysos", **self.generator_config()), "discriminator": disc}

    def build_optimizers(self, models):
        return {
            "generator": build_optimizer(models["generator"].parameters(), OptimizerConfig(lr=1e-3)),
            "discriminator": build_optimizer(models["discriminator"].parameters(), self.options.optim_d),
        }

    def generator_step(self, batch, step):
        fake = self.models["generator"](batch["lq"])
        self._fake = fake.detach()
        l1 = (fake - batch["gt"]).abs().mean()
        adv = torch.nn.functional.softplus(-self.models["discriminator"](fake)).mean()
        weight = self.options.adv_weight * float(torch.rand(1, generator=self.rng))  # the task's own RNG
        return l1 + weight * adv, {"l1": l1.item(), "adv_weight": weight}

    def discriminator_step(self, batch, step):
        d = self.models["discriminator"]
        loss = torch.nn.functional.softplus(-d(batch["gt"])).mean()
        loss = loss + torch.nn.functional.softplus(d(self._fake)).mean()
        return loss, {"d": loss.item()}


def test_gan_task_alternates_generator_and_discriminator_and_resumes(faces, tmp_path, monkeypatch):
    from facedeblur.train import recipes

    monkeypatch.setitem(recipes.TASKS, "tinygan", f"{__name__}:TinyGan")
    recipe = tiny_recipe(faces / "train", faces / "val", steps=5)
    recipe.task, recipe.options = "tinygan", {"adv_weight": 0.2}
    full = train(recipe, tmp_path / "full")
    assert all("loss_d" in h and "l1" in h for h in full.history)
    state = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.ckpt")
    assert state["optimizers"]["discriminator"]["state"][0]["step"] == 5
    assert state["optimizers"]["generator"]["state"][0]["step"] == 5
    train(recipe, tmp_path / "cut", stop_after=2)
    rest = train(recipe, tmp_path / "cut", resume=True)
    assert full.history[2:] == rest.history


class FreezeProbe(TinyGan):
    """TinyGan that records whether the discriminator's parameters train during each step."""

    seen: list[tuple[str, bool]] = []

    def _disc_trains(self) -> bool:
        return any(p.requires_grad for p in self.models["discriminator"].parameters())

    def generator_step(self, batch, step):
        FreezeProbe.seen.append(("generator", self._disc_trains()))
        return super().generator_step(batch, step)

    def discriminator_step(self, batch, step):
        FreezeProbe.seen.append(("discriminator", self._disc_trains()))
        return super().discriminator_step(batch, step)


def test_discriminators_are_frozen_in_the_generator_step_only(faces, tmp_path, monkeypatch):
    from facedeblur.train import recipes

    monkeypatch.setitem(recipes.TASKS, "freezeprobe", f"{__name__}:FreezeProbe")
    monkeypatch.setattr(FreezeProbe, "seen", [])
    recipe = tiny_recipe(faces / "train", faces / "val", steps=3)
    recipe.task, recipe.options = "freezeprobe", {"adv_weight": 0.2}
    result = train(recipe, tmp_path / "run")
    assert FreezeProbe.seen == [("generator", False), ("discriminator", True)] * 3
    assert all(h["loss_d"] > 0 for h in result.history)  # the discriminator still trained
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert state["optimizers"]["discriminator"]["state"][0]["step"] == 3


def test_time_limit_stops_with_a_checkpoint(faces, tmp_path):
    recipe = tiny_recipe(faces / "train", faces / "val", steps=1000, time_limit=1e-6)
    result = train(recipe, tmp_path / "run")
    assert result.step == 1
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["step"] == 1
    assert result.val is not None


def test_mixed_precision_path_runs(faces, tmp_path):
    # bf16 autocast is what GPUs get with precision auto; Fabric also supports it on CPU, so the path is tested here
    recipe = tiny_recipe(faces / "train", faces / "val", steps=2, precision="bf16-mixed", val_every=2)
    result = train(recipe, tmp_path / "run")
    assert result.step == 2 and all(h["loss_g"] == h["loss_g"] for h in result.history)  # finite, not NaN
    assert result.val is not None and result.val["psnr"] > 10
