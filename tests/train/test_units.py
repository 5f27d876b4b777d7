"""Engine parts in isolation: sampler, EMA, schedules, recipe registry, precision choice, checkpoint RNG."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from facedeblur.config import ConfigError
from facedeblur.train.checkpoint import rng_state, set_rng_state
from facedeblur.train.config import RecipeConfig
from facedeblur.train.data import ResumableSampler
from facedeblur.train.ema import EMA
from facedeblur.train.engine import resolve_accelerator, resolve_precision
from facedeblur.train.optim import SchedulerConfig, build_scheduler, lr_factor
from facedeblur.train.recipes import TASKS, find_recipe, task_class
from facedeblur.train.task import TrainTask


def test_sampler_splits_ranks_and_resumes_mid_epoch():
    full = list(ResumableSampler(10, seed=3))
    assert sorted(full) == list(range(10))
    s = ResumableSampler(10, seed=3)
    s.set_epoch(0, start=4)
    assert list(s) == full[4:]
    s.set_epoch(1)
    assert list(s) != full  # a new order each epoch
    r0, r1 = ResumableSampler(11, 0, 0, 2), ResumableSampler(11, 0, 1, 2)
    assert len(r0) == len(r1) == 5 and not set(r0) & set(r1)
    with pytest.raises(ValueError, match="cannot be split"):
        ResumableSampler(1, world_size=2)


def test_ema_averages_parameters_and_copies_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.5, start=1)
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[1].running_mean.fill_(3.0)
    ema.update(net, step=0)  # before start: copy
    assert torch.equal(ema.module[0].weight, net[0].weight)
    with torch.no_grad():
        net[0].weight.fill_(3.0)
    ema.update(net, step=1)
    assert torch.allclose(ema.module[0].weight, torch.full((2, 2), 2.0))
    assert torch.equal(ema.module[1].running_mean, torch.full((2,), 3.0))
    assert not any(p.requires_grad for p in ema.module.parameters())
    with pytest.raises(ValueError):
        EMA(net, decay=1.0)


def test_schedules():
    step = SchedulerConfig(name="step", step_size=10, gamma=0.5)
    assert [lr_factor(step, s, 100) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    cos = SchedulerConfig(name="cosine", min_factor=0.1)
    assert lr_factor(cos, 0, 11) == pytest.approx(1.0) and lr_factor(cos, 10, 11) == pytest.approx(0.1)
    warm = SchedulerConfig(name="constant", warmup=4)
    assert lr_factor(warm, 0, 10) == 0.25 and lr_factor(warm, 5, 10) == 1.0


def test_schedule_of_its_own_length():
    # a warm restart's phase anneals over scheduler.steps, not over the run's engine.steps
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, SchedulerConfig(name="cosine", min_factor=0.1, steps=11), total_steps=10_000)
    lrs = []
    for _ in range(15):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1.0) and lrs[10] == pytest.approx(0.1) and lrs[14] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="scheduler steps"):
        SchedulerConfig(steps=0)


def test_task_registry_and_recipe_lookup():
    assert {"chrysos", "dfpgnet", "psfrgan", "parsenet"} <= set(TASKS)
    assert issubclass(task_class("chrysos"), TrainTask)
    with pytest.raises(ConfigError, match="known tasks"):
        task_class("nope")
    assert find_recipe("chrysos").name == "chrysos.yaml"
    with pytest.raises(ConfigError, match="known recipes: .*chrysos"):
        find_recipe("no-such-recipe")
    with pytest.raises(ConfigError, match="unknown key engine.foo"):
        RecipeConfig.from_mapping({"task": "chrysos", "engine": {"foo": 1}})
    with pytest.raises(ConfigError, match="engine.steps"):
        RecipeConfig.from_mapping({"task": "chrysos", "engine": {"steps": 0}})


def test_precision_and_accelerator_choice(monkeypatch):
    import facedeblur.train.engine as engine

    for native, expected in ((False, "32-true"), (True, "bf16-mixed")):  # whatever CPU the tests run on
        monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda native=native: native)
        assert resolve_precision("auto", "cpu") == expected
    monkeypatch.undo()
    assert resolve_precision("16-mixed", "cuda") == "16-mixed"
    assert resolve_accelerator("gpu") == "cuda"
    assert resolve_accelerator("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_rng_state_round_trip():
    gen = torch.Generator().manual_seed(5)
    state = rng_state(gen)
    a = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    set_rng_state(state, gen)
    b = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2] and torch.equal(a[3], b[3])


def test_exponent_floats_from_the_command_line_are_numbers():
    from facedeblur.train.config import load_recipe
    from facedeblur.train.recipes import find_recipe

    recipe = load_recipe(find_recipe("chrysos"), ["options.optimizer.lr=3e-4"])  # YAML 1.1 reads this as a string
    assert task_class("chrysos").parse_options(recipe.options).optimizer.lr == pytest.approx(3e-4)


def test_a_checkpoint_is_written_atomically_with_the_usual_mode(tmp_path):
    import os
    import pickle
    import stat

    from facedeblur.train.checkpoint import save_checkpoint

    path = tmp_path / "checkpoints" / "last.ckpt"
    save_checkpoint({"step": 1}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a state torch cannot pickle: the write fails half-way
        save_checkpoint({"step": 2, "bad": lambda: None}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}  # the last good checkpoint survives
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temporary left behind
