"""The training engine: runs a :class:`~facedeblur.train.task.TrainTask` with Lightning Fabric.

One function, :func:`train`, does the whole run: devices, DDP (one or several nodes), mixed precision,
seeded resumable data order, alternating generator/discriminator steps, gradient clipping, EMA,
TensorBoard scalars and image grids, a tqdm bar (it/s, ETA, losses), validation PSNR/SSIM with
best-checkpoint keeping, and checkpoints that continue the same run exactly.

Run folder layout (``out_dir``)::

    recipe.yaml                 the resolved recipe
    checkpoints/last.ckpt       written every engine.ckpt_every steps and at the end
    checkpoints/best.ckpt       the best validation PSNR so far
    metrics.jsonl               one JSON line per log / validation event
    tensorboard/                TensorBoard event files (scalars, validation image grids)
    summary.json                final step, best and last validation metrics

Example:
    >>> from facedeblur.train.config import RecipeConfig
    >>> cfg = RecipeConfig.from_mapping({"task": "chrysos", "engine": {"steps": 2, "accelerator": "cpu"}})
    >>> resolve_precision("32-true", "cpu")
    '32-true'
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from facedeblur.config import to_dict
from facedeblur.errors import UserError
from facedeblur.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from facedeblur.train.config import RecipeConfig
from facedeblur.train.data import ResumableSampler, build_datasets, make_loader
from facedeblur.train.ema import EMA
from facedeblur.train.recipes import task_class
from facedeblur.train.validate import evaluate

LOGGER = logging.getLogger("facedeblur.train")


@dataclass
class TrainResult:
    """What :func:`train` returns (on every process).

    Attributes:
        out_dir: the run folder.
        step: iterations completed.
        history: ``{"step": n, <loss name>: value, ...}`` for every iteration run by this call.
        val: latest validation metrics (None if none ran).
        best: best validation metrics of the whole run (None if none ran).
        world_size: number of processes.
        rank: this process's global rank (0 writes the run folder).
        replica_spread: max - min over processes of the sum of the generator's weights (0 when DDP keeps
            the replicas in sync).
    """

    out_dir: Path
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    val: dict[str, float] | None = None
    best: dict[str, float] | None = None
    world_size: int = 1
    rank: int = 0
    replica_spread: float = 0.0


def resolve_accelerator(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``gpu`` is an alias of ``cuda``."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if name == "gpu" else name


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512-BF16 or AMX): bf16 autocast is then ~2x fp32.

    Without it (e.g. AVX2-only CPUs) PyTorch emulates bf16 and autocast is 10-30x *slower* than fp32.
    """
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return False


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` -> ``bf16-mixed`` on GPUs and CPUs that compute bf16 natively, ``16-mixed`` on other GPUs,
    ``32-true`` on other CPUs."""
    if precision != "auto":
        return precision
    if accelerator == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if accelerator == "cpu" and cpu_has_native_bf16():
        return "bf16-mixed"
    return "32-true"


def resolve_channels_last(setting: bool | str, accelerator: str, precision: str) -> bool:
    """``auto`` -> channels_last for CPU runs in bf16 (where oneDNN's blocked kernels gain most) and on GPUs."""
    if setting != "auto":
        return bool(setting)
    return accelerator == "cuda" or (accelerator == "cpu" and precision.startswith("bf16"))


def _channels_last_batch(batch: Any) -> Any:
    if isinstance(batch, dict):
        return {k: _channels_last_batch(v) for k, v in batch.items()}
    if isinstance(batch, torch.Tensor) and batch.ndim == 4:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch


def _seed_all(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _unwrap(module: torch.nn.Module) -> torch.nn.Module:
    from lightning.fabric.wrappers import _unwrap_objects

    return _unwrap_objects(module)


def _check_same_run(stored: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    for section in ("task", "options", "data"):
        if stored.get(section) != current.get(section):
            raise UserError(
                f"{path}: the checkpoint was trained with a different '{section}' section; "
                "resume with the same recipe (only engine settings such as steps may change)"
            )


def _load_training_state(state, path, recipe_dict, models, optimizers, schedulers, ema, fabric) -> None:
    """Load a checkpoint's weights, optimizer, schedule and EMA states for a new phase (``init_from``)."""
    if state["recipe"].get("task") != recipe_dict.get("task"):
        stored, wanted = state["recipe"].get("task"), recipe_dict.get("task")
        raise UserError(f"{path}: a {stored!r} checkpoint cannot start a {wanted!r} run")
    try:
        for name, module in models.items():
            _unwrap(module).load_state_dict(state["models"][name])
        for name, average in ema.items():
            average.load_state_dict(state["ema"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
    except (KeyError, RuntimeError, ValueError) as error:
        raise UserError(
            f"{path}: its network does not match this recipe's (same options.net and architecture needed): "
            f"{str(error).splitlines()[0]}"
        ) from None
    for name, sched in schedulers.items():
        sched.load_state_dict(state["schedulers"][name])
    if state.get("precision"):
        fabric.strategy.precision.load_state_dict(state["precision"])


def _phase_record(state: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """What a new phase started from: the checkpoint, its step, CPU minutes and the recipe sections that changed."""
    return {
        "from": str(path),
        "step": int(state["step"]),
        "cpu_minutes": float(state.get("cpu_minutes") or 0.0),
        "recipe": {k: state["recipe"].get(k) for k in ("options", "data")},
    }


class _Position:
    """Where the run is in its data: epoch and batches of it consumed by this process."""

    def __init__(self, epoch: int = 0, batch: int = 0) -> None:
        self.epoch, self.batch = epoch, batch


def _batches(dataset, sampler: ResumableSampler, batch_size: int, workers: int, pos: _Position, seed: int):
    empty_epochs = 0
    while True:
        dataset.set_epoch(pos.epoch)
        sampler.set_epoch(pos.epoch, start=pos.batch * batch_size)
        loader = make_loader(dataset, sampler, batch_size, workers, drop_last=True)
        loader.generator = torch.Generator().manual_seed(seed + pos.epoch)  # keeps the global RNG untouched
        yielded = False
        for batch in loader:
            pos.batch += 1
            yielded = True
            yield batch
        pos.epoch += 1
        pos.batch = 0
        empty_epochs = 0 if yielded else empty_epochs + 1
        if empty_epochs > 1:
            raise UserError(f"the training set ({len(dataset)} faces) is smaller than one batch per process")


def train(
    recipe: RecipeConfig,
    out_dir: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    datasets: tuple[Any, Any] | None = None,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train ``recipe`` into ``out_dir``.

    Args:
        recipe: the validated recipe.
        out_dir: run folder (created); with ``resume`` it must hold ``checkpoints/last.ckpt``.
        resume: continue the run in ``out_dir`` from its last checkpoint, exactly where it stopped.
        stop_after: stop (with a checkpoint) after this many iterations in total, as if interrupted;
            ``engine.steps`` still defines the run (learning-rate schedule, end).
        datasets: ``(train, val)`` to use instead of building them from ``recipe.data`` (val may be None).
        init_from: start a new run (a new phase of a curriculum) from this checkpoint of another run of the
            same task and network: its weights, optimizer, schedule, EMA, step count and CPU minutes are
            carried over; data, degradation and loss settings may differ. The run's checkpoints record
            the lineage (``phases``). Not combinable with ``resume``.

    Returns:
        A :class:`TrainResult`.

    Raises:
        UserError: missing data or checkpoint, or a resumed checkpoint from another recipe.
    """
    eng = recipe.engine
    out_dir = Path(out_dir)
    if resume and not (out_dir / "checkpoints" / "last.ckpt").is_file():
        raise UserError(f"{out_dir}: nothing to resume (no checkpoints/last.ckpt)")
    if init_from is not None:
        if resume:
            raise UserError("--init-from starts a new run: it cannot be combined with --resume")
        if not Path(init_from).is_file():
            raise UserError(f"{init_from}: no such checkpoint (--init-from expects a .ckpt file)")
        if (out_dir / "checkpoints" / "last.ckpt").is_file():
            raise UserError(f"{out_dir} already holds a run: resume it with --resume or choose another --out")
    threads_before = torch.get_num_threads()
    if eng.threads:
        torch.set_num_threads(eng.threads)
    try:
        return _train(recipe, out_dir, resume, stop_after, datasets, init_from)
    finally:
        torch.set_num_threads(threads_before)


def _train(
    recipe: RecipeConfig, out_dir: Path, resume: bool, stop_after: int | None, datasets, init_from=None
) -> TrainResult:
    from lightning.fabric import Fabric

    eng = recipe.engine
    ckpt_dir = out_dir / "checkpoints"
    last_path = ckpt_dir / "last.ckpt"

    accelerator = resolve_accelerator(eng.accelerator)
    precision = resolve_precision(eng.precision, accelerator)
    fabric = Fabric(
        accelerator=accelerator,
        devices=eng.devices,
        num_nodes=eng.num_nodes,
        strategy=eng.strategy,
        precision=precision,
    )
    fabric.launch()
    rank, world = fabric.global_rank, fabric.world_size
    is_main = fabric.is_global_zero

    task_cls = task_class(recipe.task)
    task = task_cls(task_cls.parse_options(recipe.options), recipe.data)
    task.device = fabric.device

    _seed_all(eng.seed)  # identical initial weights on every process
    raw_models = task.build_models()
    if "generator" not in raw_models:
        raise TypeError(f"{task_cls.__name__}.build_models() must return a 'generator' module")
    optimizers = task.build_optimizers(raw_models)
    schedulers = task.build_schedulers(optimizers, eng.steps)
    ema = {}
    if eng.ema_decay is not None:
        ema = {n: EMA(raw_models[n], eng.ema_decay, eng.ema_start) for n in task.ema_modules if n in raw_models}

    channels_last = resolve_channels_last(eng.channels_last, accelerator, precision)
    if channels_last:
        for module in raw_models.values():
            module.to(memory_format=torch.channels_last)
    LOGGER.info("precision %s, channels_last %s", precision, channels_last)

    models = {}
    for name, module in raw_models.items():
        has_params = any(p.requires_grad for p in module.parameters())
        models[name] = fabric.setup_module(module) if has_params else module.to(fabric.device)
    optimizers = {name: fabric.setup_optimizers(opt) for name, opt in optimizers.items()}
    for average in ema.values():
        average.module.to(fabric.device)
    task.models = models
    task.rng = torch.Generator().manual_seed(eng.seed * 1000 + rank)
    _seed_all(eng.seed * 1000 + rank)

    if datasets is None:
        train_set, val_set = build_datasets(recipe.data, with_val=is_main)
    else:
        train_set, val_set = datasets
    sampler = ResumableSampler(len(train_set), seed=recipe.data.seed, rank=rank, world_size=world)
    pos = _Position()
    step = 0
    best: dict[str, float] | None = None
    last_val: dict[str, float] | None = None
    recipe_dict = to_dict(recipe)

    state: dict[str, Any] = {}
    phases: list[dict[str, Any]] = []
    if init_from is not None:
        state = load_checkpoint(init_from)
        _load_training_state(state, init_from, recipe_dict, models, optimizers, schedulers, ema, fabric)
        step = state["step"]
        phases = [*state.get("phases", []), _phase_record(state, init_from)]
        LOGGER.info("new phase from %s at step %d", init_from, step)
    if resume:
        state = load_checkpoint(last_path)
        _check_same_run(state["recipe"], recipe_dict, last_path)
        phases = list(state.get("phases", []))
        for name, module in models.items():
            _unwrap(module).load_state_dict(state["models"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, sched in schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        for name, average in ema.items():
            average.load_state_dict(state["ema"][name])
        if state.get("precision"):
            fabric.strategy.precision.load_state_dict(state["precision"])
        step, best, last_val = state["step"], state["best"], state["val"]
        pos = _Position(state["epoch"], state["batch"])
        if state["world_size"] == world:
            set_rng_state(state["rng"][rank], task.rng)
        else:  # another split of the data: continue from the next epoch with fresh random streams
            LOGGER.warning("resuming %d processes from a %d-process run: not exact", world, state["world_size"])
            pos = _Position(state["epoch"] + 1, 0)

    writer = None
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe_dict, sort_keys=False), encoding="utf-8")
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=step + 1 if resume else None)
    metrics_file = (out_dir / "metrics.jsonl").open("a", encoding="utf-8") if is_main else None

    def log_event(kind: str, values: dict[str, float]) -> None:
        if metrics_file is not None:
            metrics_file.write(json.dumps({"event": kind, "step": step, **values}) + "\n")
            metrics_file.flush()
        if writer is not None:
            for key, value in values.items():
                writer.add_scalar(f"{kind}/{key}", value, step)

    def checkpoint_state() -> dict[str, Any]:
        rng = [rng_state(task.rng)]
        if world > 1:
            gathered: list[Any] = [None] * world
            torch.distributed.all_gather_object(gathered, rng[0])
            rng = gathered
        return {
            "format": CHECKPOINT_FORMAT,
            "task": recipe.task,
            "recipe": recipe_dict,
            "step": step,
            "epoch": pos.epoch,
            "batch": pos.batch,
            "world_size": world,
            "models": {n: _unwrap(m).state_dict() for n, m in models.items()},
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in schedulers.items()},
            "ema": {n: a.state_dict() for n, a in ema.items()},
            "precision": fabric.strategy.precision.state_dict(),
            "cpu_minutes": cpu_minutes(),
            "phases": phases,
            "rng": rng,
            "val": last_val,
            "best": best,
            "export": {
                "architecture": task.architecture,
                "config": task.generator_config(),
                "face_size": recipe.data.size,
                "trained_on": "gpu" if accelerator == "cuda" else accelerator,
            },
        }

    def write_checkpoint(path: Path, state: dict[str, Any] | None = None) -> None:
        state = state if state is not None else checkpoint_state()  # every rank joins the RNG gather
        if is_main:
            save_checkpoint(state, path)
        fabric.barrier()

    def validate() -> None:
        nonlocal best, last_val
        improved = False
        if is_main and val_set is not None:
            gen = ema["generator"].module if "generator" in ema else _unwrap(models["generator"])
            was_training = gen.training
            gen.eval()
            loader = make_loader(val_set, None, eng.batch_size, recipe.data.workers, drop_last=False)
            loader.generator = torch.Generator().manual_seed(0)
            result = evaluate(lambda lq: task.restore(gen, lq), loader, fabric.device, preview=eng.images)
            gen.train(was_training)
            last_val = result.metrics
            log_event("val", result.metrics)
            if writer is not None and result.preview is not None:
                writer.add_image("val/lq_restored_gt", result.preview, step)
            improved = best is None or result.metrics["psnr"] > best["psnr"]
            if improved:
                best = dict(result.metrics, step=step)
        flag = torch.tensor([1.0 if improved else 0.0], device=fabric.device)
        flag = fabric.broadcast(flag, src=0)
        if float(flag) > 0:
            write_checkpoint(ckpt_dir / "best.ckpt")

    batches = _batches(train_set, sampler, eng.batch_size, recipe.data.workers, pos, recipe.data.seed)
    for module in models.values():
        module.train()
    history: list[dict[str, float]] = []
    end = eng.steps if stop_after is None else min(eng.steps, stop_after)
    from tqdm import tqdm

    bar = tqdm(
        total=eng.steps,
        initial=step,
        desc=f"train {recipe.task}",
        unit="it",
        disable=not (eng.progress and is_main),
        dynamic_ncols=True,
    )
    opt_g = optimizers["generator"]
    opt_d = optimizers.get("discriminator")
    gen_clip_module = models[task.generator_modules[0]]
    disc_clip_module = models[task.discriminator_modules[0]] if task.discriminator_modules else None
    tick, tick_step = time.perf_counter(), step
    started = tick
    cpu_started = time.process_time()
    cpu_used_before = float(state.get("cpu_minutes") or 0.0)  # resumed or carried over from an earlier phase

    def cpu_minutes() -> float:
        """CPU time of this run so far, its resumed parts included."""
        return cpu_used_before + (time.process_time() - cpu_started) / 60

    time_up = False
    try:
        while step < end:
            batch = fabric.to_device(next(batches))
            if channels_last:
                batch = _channels_last_batch(batch)
            opt_g.zero_grad(set_to_none=True)
            loss, logs = task.generator_step(batch, step)
            if not math.isfinite(float(loss.detach())):
                raise FloatingPointError(f"generator loss is {float(loss)} at step {step}; lower the learning rate")
            fabric.backward(loss)
            if eng.grad_clip is not None:
                fabric.clip_gradients(gen_clip_module, opt_g, max_norm=eng.grad_clip)
            opt_g.step()
            if "generator" in schedulers:
                schedulers["generator"].step()
            for name, average in ema.items():
                average.update(_unwrap(models[name]), step)
            logs = {"loss_g": float(loss.detach()), **logs}
            if opt_d is not None:
                out = task.discriminator_step(batch, step)
                if out is not None:
                    loss_d, logs_d = out
                    opt_d.zero_grad(set_to_none=True)
                    fabric.backward(loss_d)
                    if eng.grad_clip is not None:
                        fabric.clip_gradients(disc_clip_module, opt_d, max_norm=eng.grad_clip)
                    opt_d.step()
                    logs.update({"loss_d": float(loss_d.detach()), **logs_d})
                if "discriminator" in schedulers:
                    schedulers["discriminator"].step()
            step += 1
            limits = eng.time_limit is not None or eng.cpu_time_limit is not None
            if limits and step < end:
                wall_over = eng.time_limit is not None and time.perf_counter() - started > eng.time_limit * 60
                cpu_total = cpu_minutes()
                cpu_over = eng.cpu_time_limit is not None and cpu_total > eng.cpu_time_limit
                over = torch.tensor([wall_over or cpu_over], device=fabric.device)
                if bool(fabric.broadcast(over, src=0)):
                    LOGGER.warning("engine time limit reached at step %d (%.1f CPU-minutes in all)", step, cpu_total)
                    end = step
                    time_up = True
            history.append({"step": step, **logs})
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)

            if step % eng.log_every == 0 or step == eng.steps:
                now = time.perf_counter()
                rate = (step - tick_step) * eng.batch_size * world / max(now - tick, 1e-9)
                tick, tick_step = now, step
                lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in optimizers.items()}
                log_event("train", {**logs, **lrs, "img_per_s": rate, "epoch": pos.epoch, "cpu_minutes": cpu_minutes()})
            if step % eng.val_every == 0 or step == eng.steps or time_up:
                validate()
            if step % eng.ckpt_every == 0 or step == end:
                write_checkpoint(last_path)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if metrics_file is not None:
            metrics_file.close()

    spread = 0.0
    weight_sum = torch.stack([p.detach().double().sum() for p in _unwrap(models["generator"]).parameters()]).sum()
    if world > 1:
        sums: list[Any] = [None] * world
        torch.distributed.all_gather_object(sums, float(weight_sum))
        spread = max(sums) - min(sums)
    result = TrainResult(out_dir, step, history, last_val, best, world, rank, spread)
    if is_main:
        summary = {"step": step, "steps": eng.steps, "world_size": world, "val": last_val, "best": best}
        summary["replica_spread"] = spread
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return result
