"""The training engine: runs a :class:`~facedeblur.train.task.TrainTask` with Lightning Fabric.

One function, :func:`train`, does the whole run: devices, DDP (one or several nodes), mixed precision,
seeded resumable data order, alternating generator/discriminator steps, gradient clipping, EMA,
TensorBoard scalars and image grids, a tqdm bar (it/s, ETA, losses), validation PSNR/SSIM with
best-checkpoint keeping, and checkpoints that continue the same run exactly.

Inside, a run is a sequence of small steps (``_Run``): set up, start (fresh, ``init_from`` or resumed),
train steps (generator step with the discriminators' parameters frozen, then the discriminator step),
logging, validation, checkpoints, finish.

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
            the lineage (``phases``). A ``.safetensors`` weights file instead warm-restarts from shipped weights
            (fresh optimizer and warm-up; step and CPU minutes from its metrics). Not combinable with ``resume``.

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
            raise UserError(
                f"{init_from}: no such file (--init-from expects a .ckpt checkpoint or .safetensors weights)"
            )
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
    """The run as its steps: set up, start (fresh, from another run's checkpoint, or resumed), train steps
    with their logging, validation and checkpoints, finish."""
    run = _Run(recipe, out_dir, datasets)
    if init_from is not None:
        run.start_from(init_from)
    if resume:
        run.resume()
    run.open_logs(resume)
    end = recipe.engine.steps if stop_after is None else min(recipe.engine.steps, stop_after)
    try:
        run.loop(end)
    finally:
        run.close_logs()
    return run.finish()


class _Run:
    """One training run's state and its steps (one instance per process).

    The order of the set-up (seeding, building, wrapping) is part of the checkpoint contract: a resumed run
    continues exactly, so it must not change.
    """

    def __init__(self, recipe: RecipeConfig, out_dir: Path, datasets) -> None:
        from lightning.fabric import Fabric

        eng = self.eng = recipe.engine
        self.recipe, self.out_dir = recipe, out_dir
        self.last_path = out_dir / "checkpoints" / "last.ckpt"
        self.accelerator = resolve_accelerator(eng.accelerator)
        precision = resolve_precision(eng.precision, self.accelerator)
        fabric = self.fabric = Fabric(
            accelerator=self.accelerator,
            devices=eng.devices,
            num_nodes=eng.num_nodes,
            strategy=eng.strategy,
            precision=precision,
        )
        fabric.launch()
        self.rank, self.world, self.is_main = fabric.global_rank, fabric.world_size, fabric.is_global_zero

        task_cls = task_class(recipe.task)
        task = self.task = task_cls(task_cls.parse_options(recipe.options), recipe.data)
        task.device = fabric.device

        _seed_all(eng.seed)  # identical initial weights on every process
        raw_models = task.build_models()
        if "generator" not in raw_models:
            raise TypeError(f"{task_cls.__name__}.build_models() must return a 'generator' module")
        optimizers = task.build_optimizers(raw_models)
        self.schedulers = task.build_schedulers(optimizers, eng.steps)
        self.ema = {}
        if eng.ema_decay is not None:
            self.ema = {
                n: EMA(raw_models[n], eng.ema_decay, eng.ema_start) for n in task.ema_modules if n in raw_models
            }

        self.channels_last = resolve_channels_last(eng.channels_last, self.accelerator, precision)
        if self.channels_last:
            for module in raw_models.values():
                module.to(memory_format=torch.channels_last)
        LOGGER.info("precision %s, channels_last %s", precision, self.channels_last)

        self.models = {}
        for name, module in raw_models.items():
            has_params = any(p.requires_grad for p in module.parameters())
            self.models[name] = fabric.setup_module(module) if has_params else module.to(fabric.device)
        self.optimizers = {name: fabric.setup_optimizers(opt) for name, opt in optimizers.items()}
        for average in self.ema.values():
            average.module.to(fabric.device)
        task.models = self.models
        task.rng = torch.Generator().manual_seed(eng.seed * 1000 + self.rank)
        _seed_all(eng.seed * 1000 + self.rank)
        # the discriminators' parameters that train: frozen in the generator step, trained in their own
        self.discriminator_params = [
            p for n in task.discriminator_modules for p in self.models[n].parameters() if p.requires_grad
        ]

        if datasets is None:
            self.train_set, self.val_set = build_datasets(recipe.data, with_val=self.is_main)
        else:
            self.train_set, self.val_set = datasets
        self.sampler = ResumableSampler(
            len(self.train_set), seed=recipe.data.seed, rank=self.rank, world_size=self.world
        )
        self.pos = _Position()
        self.step = 0
        self.best: dict[str, float] | None = None
        self.last_val: dict[str, float] | None = None
        self.recipe_dict = to_dict(recipe)
        self.phases: list[dict[str, Any]] = []
        self.cpu_used_before = 0.0  # CPU minutes of the run before this call (resumed or earlier phases)
        self.cpu_started = time.process_time()
        self.history: list[dict[str, float]] = []
        self.writer = None
        self.metrics_file = None

    # -- start ----------------------------------------------------------------------------------------
    def start_from(self, init_from: str | Path) -> None:
        """A new phase: weights, optimizers, schedules, EMA, step and CPU minutes from another run's checkpoint.

        A ``.safetensors`` weights file (a bundled or exported model) starts a warm restart instead: see
        :meth:`start_from_weights`.
        """
        if Path(init_from).suffix == ".safetensors":
            self.start_from_weights(init_from)
            return
        state = load_checkpoint(init_from)
        stored, wanted = state["recipe"].get("task"), self.recipe_dict.get("task")
        if stored != wanted:
            raise UserError(f"{init_from}: a {stored!r} checkpoint cannot start a {wanted!r} run")
        try:
            self._load_states(state)
        except (KeyError, RuntimeError, ValueError) as error:
            raise UserError(
                f"{init_from}: its network does not match this recipe's (same options.net and architecture "
                f"needed): {str(error).splitlines()[0]}"
            ) from None
        self.step = state["step"]
        self.phases = [*state.get("phases", []), _phase_record(state, init_from)]
        self.cpu_used_before = float(state.get("cpu_minutes") or 0.0)
        LOGGER.info("new phase from %s at step %d", init_from, self.step)

    def start_from_weights(self, path: str | Path) -> None:
        """A warm restart from a weights file: the generator and its EMA start from the shipped weights, the
        optimizer and schedule start afresh (the recipe's warm-up runs again: use a lower learning rate, a fresh
        optimizer at the initial rate first loses quality). The step count and CPU minutes continue from the
        file's ``metrics`` (``steps``, ``cpu_hours``) when it records them."""
        from facedeblur.models.hub import load_weights

        if "generator" not in self.models:
            raise UserError(f"{path}: a weights file can start only a run with a generator")
        generator = _unwrap(self.models["generator"])
        model, meta = load_weights(path)
        try:
            generator.load_state_dict(model.state_dict())
        except RuntimeError as error:
            raise UserError(
                f"{path}: holds a {meta.architecture} {meta.config}, which does not match this recipe's network "
                f"(options.net and architecture): {str(error).splitlines()[0]}"
            ) from None
        if "generator" in self.ema:
            self.ema["generator"].load_state_dict(generator.state_dict())
        self.step = int(meta.metrics.get("steps", 0))
        self.cpu_used_before = 60.0 * float(meta.metrics.get("cpu_hours", 0.0))
        self.phases = [
            {"from": str(path), "weights": meta.name, "step": self.step, "cpu_minutes": self.cpu_used_before}
        ]
        LOGGER.info("warm restart from the weights %s (%s) at step %d", path, meta.name, self.step)

    def _load_states(self, state: dict[str, Any]) -> None:
        """Load a checkpoint's weights, optimizers, schedules, EMA and precision state into this run."""
        for name, module in self.models.items():
            _unwrap(module).load_state_dict(state["models"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        for name, average in self.ema.items():
            average.load_state_dict(state["ema"][name])
        if state.get("precision"):
            self.fabric.strategy.precision.load_state_dict(state["precision"])

    def resume(self) -> None:
        """Continue this run exactly where its last checkpoint left it (data position and random streams)."""
        state = load_checkpoint(self.last_path)
        _check_same_run(state["recipe"], self.recipe_dict, self.last_path)
        self.phases = list(state.get("phases", []))
        self._load_states(state)
        self.step, self.best, self.last_val = state["step"], state["best"], state["val"]
        self.pos = _Position(state["epoch"], state["batch"])
        self.cpu_used_before = float(state.get("cpu_minutes") or 0.0)
        if state["world_size"] == self.world:
            set_rng_state(state["rng"][self.rank], self.task.rng)
        else:  # another split of the data: continue from the next epoch with fresh random streams
            LOGGER.warning("resuming %d processes from a %d-process run: not exact", self.world, state["world_size"])
            self.pos = _Position(state["epoch"] + 1, 0)

    def open_logs(self, resume: bool) -> None:
        """The run folder's recipe.yaml, TensorBoard writer and metrics.jsonl (main process only)."""
        if not self.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        recipe_text = yaml.safe_dump(self.recipe_dict, sort_keys=False)
        (self.out_dir / "recipe.yaml").write_text(recipe_text, encoding="utf-8")
        from torch.utils.tensorboard import SummaryWriter

        purge = self.step + 1 if resume else None
        self.writer = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=purge)
        self.metrics_file = (self.out_dir / "metrics.jsonl").open("a", encoding="utf-8")

    def close_logs(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.metrics_file is not None:
            self.metrics_file.close()

    # -- the loop -------------------------------------------------------------------------------------
    def loop(self, end: int) -> None:
        """Train steps until ``end`` (or a time limit), logging, validating and checkpointing on schedule."""
        from tqdm import tqdm

        eng = self.eng
        batches = _batches(
            self.train_set, self.sampler, eng.batch_size, self.recipe.data.workers, self.pos, self.recipe.data.seed
        )
        for module in self.models.values():
            module.train()
        bar = tqdm(
            total=eng.steps,
            initial=self.step,
            desc=f"train {self.recipe.task}",
            unit="it",
            disable=not (eng.progress and self.is_main),
            dynamic_ncols=True,
        )
        self.tick, self.tick_step = time.perf_counter(), self.step
        self.started = self.tick
        self.cpu_started = time.process_time()
        try:
            while self.step < end:
                logs = self.train_step(next(batches))
                self.step += 1
                time_up = self.step < end and self.time_is_up()
                if time_up:
                    end = self.step
                self.history.append({"step": self.step, **logs})
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
                if self.step % eng.log_every == 0 or self.step == eng.steps:
                    self.log_train(logs)
                if self.step % eng.val_every == 0 or self.step == eng.steps or time_up:
                    self.validate()
                if self.step % eng.ckpt_every == 0 or self.step == end:
                    self.write_checkpoint(self.last_path)
        finally:
            bar.close()

    def train_step(self, batch: Any) -> dict[str, float]:
        """One iteration on ``batch``: the generator step (discriminators frozen), then the discriminator step."""
        batch = self.fabric.to_device(batch)
        if self.channels_last:
            batch = _channels_last_batch(batch)
        logs = self.generator_step(batch)
        if "discriminator" in self.optimizers:
            logs.update(self.discriminator_step(batch))
        return logs

    def generator_step(self, batch: Any) -> dict[str, float]:
        """The task's generator loss, backward with the discriminators' parameters frozen, clip, step, EMA."""
        eng, fabric, task = self.eng, self.fabric, self.task
        opt_g = self.optimizers["generator"]
        opt_g.zero_grad(set_to_none=True)
        self._set_discriminators_trainable(False)  # their losses train the generator, not themselves
        try:
            loss, logs = task.generator_step(batch, self.step)
            if not math.isfinite(float(loss.detach())):
                raise FloatingPointError(
                    f"generator loss is {float(loss)} at step {self.step}; lower the learning rate"
                )
            fabric.backward(loss)
        finally:
            self._set_discriminators_trainable(True)
        if eng.grad_clip is not None:
            fabric.clip_gradients(self.models[task.generator_modules[0]], opt_g, max_norm=eng.grad_clip)
        opt_g.step()
        if "generator" in self.schedulers:
            self.schedulers["generator"].step()
        for name, average in self.ema.items():
            average.update(_unwrap(self.models[name]), self.step)
        return {"loss_g": float(loss.detach()), **logs}

    def discriminator_step(self, batch: Any) -> dict[str, float]:
        """The task's discriminator loss (None skips it), backward, clip, step; the schedule steps either way."""
        eng, fabric, task = self.eng, self.fabric, self.task
        logs: dict[str, float] = {}
        out = task.discriminator_step(batch, self.step)
        if out is not None:
            loss_d, logs_d = out
            opt_d = self.optimizers["discriminator"]
            opt_d.zero_grad(set_to_none=True)
            fabric.backward(loss_d)
            if eng.grad_clip is not None:
                fabric.clip_gradients(self.models[task.discriminator_modules[0]], opt_d, max_norm=eng.grad_clip)
            opt_d.step()
            logs = {"loss_d": float(loss_d.detach()), **logs_d}
        if "discriminator" in self.schedulers:
            self.schedulers["discriminator"].step()
        return logs

    def _set_discriminators_trainable(self, trainable: bool) -> None:
        for param in self.discriminator_params:
            param.requires_grad_(trainable)

    def cpu_minutes(self) -> float:
        """CPU time of this run so far, its resumed parts (and earlier phases) included."""
        return self.cpu_used_before + (time.process_time() - self.cpu_started) / 60

    def time_is_up(self) -> bool:
        """Whether ``engine.time_limit`` (wall minutes of this call) or ``cpu_time_limit`` (CPU minutes of
        the whole run) is reached; decided by the main process for all."""
        eng = self.eng
        if eng.time_limit is None and eng.cpu_time_limit is None:
            return False
        wall_over = eng.time_limit is not None and time.perf_counter() - self.started > eng.time_limit * 60
        cpu_total = self.cpu_minutes()
        cpu_over = eng.cpu_time_limit is not None and cpu_total > eng.cpu_time_limit
        over = torch.tensor([wall_over or cpu_over], device=self.fabric.device)
        if bool(self.fabric.broadcast(over, src=0)):
            LOGGER.warning("engine time limit reached at step %d (%.1f CPU-minutes in all)", self.step, cpu_total)
            return True
        return False

    # -- logs, validation, checkpoints ----------------------------------------------------------------
    def log_event(self, kind: str, values: dict[str, float]) -> None:
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps({"event": kind, "step": self.step, **values}) + "\n")
            self.metrics_file.flush()
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{kind}/{key}", value, self.step)

    def log_train(self, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        rate = (self.step - self.tick_step) * self.eng.batch_size * self.world / max(now - self.tick, 1e-9)
        self.tick, self.tick_step = now, self.step
        lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in self.optimizers.items()}
        extra = {"img_per_s": rate, "epoch": self.pos.epoch, "cpu_minutes": self.cpu_minutes()}
        self.log_event("train", {**logs, **lrs, **extra})

    def validate(self) -> None:
        """Validation PSNR/SSIM of the (EMA) generator on the main process; best.ckpt when it improved."""
        improved = False
        if self.is_main and self.val_set is not None:
            eng, task = self.eng, self.task
            gen = self.ema["generator"].module if "generator" in self.ema else _unwrap(self.models["generator"])
            was_training = gen.training
            gen.eval()
            loader = make_loader(self.val_set, None, eng.batch_size, self.recipe.data.workers, drop_last=False)
            loader.generator = torch.Generator().manual_seed(0)
            result = evaluate(lambda lq: task.restore(gen, lq), loader, self.fabric.device, preview=eng.images)
            gen.train(was_training)
            self.last_val = result.metrics
            self.log_event("val", result.metrics)
            if self.writer is not None and result.preview is not None:
                self.writer.add_image("val/lq_restored_gt", result.preview, self.step)
            improved = self.best is None or result.metrics["psnr"] > self.best["psnr"]
            if improved:
                self.best = dict(result.metrics, step=self.step)
        flag = torch.tensor([1.0 if improved else 0.0], device=self.fabric.device)
        flag = self.fabric.broadcast(flag, src=0)
        if float(flag) > 0:
            self.write_checkpoint(self.out_dir / "checkpoints" / "best.ckpt")

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything a resume needs (see :mod:`facedeblur.train.checkpoint`); every process must call it."""
        rng = [rng_state(self.task.rng)]
        if self.world > 1:
            gathered: list[Any] = [None] * self.world
            torch.distributed.all_gather_object(gathered, rng[0])
            rng = gathered
        return {
            "format": CHECKPOINT_FORMAT,
            "task": self.recipe.task,
            "recipe": self.recipe_dict,
            "step": self.step,
            "epoch": self.pos.epoch,
            "batch": self.pos.batch,
            "world_size": self.world,
            "models": {n: _unwrap(m).state_dict() for n, m in self.models.items()},
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
            "ema": {n: a.state_dict() for n, a in self.ema.items()},
            "precision": self.fabric.strategy.precision.state_dict(),
            "cpu_minutes": self.cpu_minutes(),
            "phases": self.phases,
            "rng": rng,
            "val": self.last_val,
            "best": self.best,
            "export": {
                "architecture": self.task.architecture,
                "config": self.task.generator_config(),
                "face_size": self.recipe.data.size,
                "trained_on": "gpu" if self.accelerator == "cuda" else self.accelerator,
            },
        }

    def write_checkpoint(self, path: Path) -> None:
        state = self.checkpoint_state()  # every rank joins the RNG gather
        if self.is_main:
            save_checkpoint(state, path)
        self.fabric.barrier()

    # -- end ------------------------------------------------------------------------------------------
    def finish(self) -> TrainResult:
        """The result, the replicas' weight spread (DDP check) and summary.json."""
        spread = 0.0
        generator = _unwrap(self.models["generator"])
        weight_sum = torch.stack([p.detach().double().sum() for p in generator.parameters()]).sum()
        if self.world > 1:
            sums: list[Any] = [None] * self.world
            torch.distributed.all_gather_object(sums, float(weight_sum))
            spread = max(sums) - min(sums)
        eng = self.eng
        result = TrainResult(
            self.out_dir, self.step, self.history, self.last_val, self.best, self.world, self.rank, spread
        )
        if self.is_main:
            summary = {"step": self.step, "steps": eng.steps, "world_size": self.world, "val": self.last_val}
            summary |= {"best": self.best, "replica_spread": spread}
            (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return result
