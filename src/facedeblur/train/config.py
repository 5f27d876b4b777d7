"""Typed training recipes: the YAML files in ``facedeblur/configs/`` load into :class:`RecipeConfig`.

A recipe has four sections::

    task: chrysos            # key of facedeblur.train.recipes.TASKS
    options: {...}           # the task's own typed config (TrainTask.Config): architecture, losses, optimizers
    data: {...}              # DataConfig: which faces, which degradation
    engine: {...}            # EngineConfig: steps, batch size, precision, EMA, logging, validation, devices

Unknown keys anywhere are errors that name the key (``facedeblur.config``).

Example:
    >>> cfg = RecipeConfig.from_mapping({"task": "chrysos", "engine": {"steps": 10}})
    >>> cfg.engine.steps, cfg.data.size
    (10, 128)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from facedeblur.config import ConfigError, from_dict, load_yaml

Precision = Literal["32-true", "bf16-mixed", "16-mixed", "auto"]


@dataclass
class DataConfig:
    """Which faces to train and validate on and how they are degraded.

    Attributes:
        train: folder of sharp aligned faces (searched recursively); relative paths are resolved against
            the current directory.
        val: folder of validation faces (degraded with a fixed seed, the same every evaluation).
        size: face size S the faces are resized to (S x S).
        recipe: degradation recipe name (``facedeblur.degrade.recipes.RECIPES``), e.g. ``deblur``.
        recipe_options: overrides of the recipe's own fields.
        min_sharpness: drop training faces whose sharpness score is below this (None keeps all).
        sharpness_metric: ``crete`` (contrast-independent, in [0, 1]) or ``laplacian`` (variance of the Laplacian).
        scores: a ``facedeblur data curate --report`` JSON with precomputed scores (else scored at start).
        flip: random horizontal flips of the training faces.
        limit: use at most this many training faces (None: all).
        val_limit: validate on at most this many faces.
        workers: dataloader worker processes (0 loads in the training process).
        seed: seed of the degradations and of the shuffling order.
        degrade_in: ``dataset`` degrades training faces in the data loader (numpy, per face); ``task``
            yields sharp faces only and the task degrades whole batches (:func:`~facedeblur.degrade.recipes.
            degrade_torch`), which also gives it each sample's kernel. Validation is degraded in the dataset.
    """

    train: str = "../shared/data/utkface/train"
    val: str = "../shared/data/utkface/val"
    size: int = 128
    recipe: str = "deblur"
    recipe_options: dict[str, Any] = field(default_factory=dict)
    min_sharpness: float | None = None
    sharpness_metric: Literal["crete", "laplacian"] = "crete"
    scores: str | None = None
    flip: bool = True
    limit: int | None = None
    val_limit: int = 100
    workers: int = 0
    seed: int = 0
    degrade_in: Literal["dataset", "task"] = "dataset"

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ConfigError(f"data.size must be >= 8, got {self.size}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"data.limit must be >= 1 or null, got {self.limit}")
        if self.val_limit < 0 or self.workers < 0:
            raise ConfigError("data.val_limit and data.workers must be >= 0")


@dataclass
class EngineConfig:
    """How the engine runs a task.

    Attributes:
        steps: total training iterations (one iteration = one generator step and, for GANs, one
            discriminator step).
        batch_size: faces per iteration per process.
        accelerator: ``cpu``, ``gpu``/``cuda``, ``mps`` or ``auto``.
        devices: processes per node (an int, or ``auto``).
        num_nodes: number of nodes (torchrun / SLURM / Fabric env set the rank variables).
        strategy: ``auto``, ``ddp`` (gloo on CPU, nccl on GPU), ...; see Lightning Fabric.
        precision: ``32-true``, ``bf16-mixed``, ``16-mixed`` (GPU) or ``auto`` (bf16 on GPUs and on CPUs with
            native bf16 (AVX-512-BF16/AMX), fp16 on other GPUs, fp32 on other CPUs, where emulated bf16 is
            10-30x slower). Validation and export always run in fp32.
        channels_last: run models and batches in channels_last memory format: true, false or ``auto``
            (on for bf16 CPU runs and on GPUs, where it is measured to help).
        grad_clip: clip each optimizer's gradient norm to this (None: no clipping).
        ema_decay: decay of the exponential moving average of the task's ``ema_modules`` (None: no EMA).
        ema_start: step from which the EMA starts averaging (before it, it copies the weights).
        log_every: write scalars (TensorBoard, metrics.jsonl) every this many steps.
        val_every: validate (PSNR/SSIM) every this many steps and at the end; keeps ``best.ckpt``.
        ckpt_every: write ``last.ckpt`` every this many steps and at the end.
        images: image rows (lq | restored | gt) written to TensorBoard at each validation.
        seed: seed of torch, numpy and Python RNGs (per-process offset by rank).
        threads: torch CPU threads (None: leave torch's default).
        progress: show a tqdm progress bar (rank 0 only).
        time_limit: stop after this many minutes of training (validating and checkpointing as at the end);
            None runs all ``steps``. A run stopped this way can be resumed with more time.
        cpu_time_limit: stop once the run (all its resumed parts together) has used this many minutes of
            this process's CPU time: equal budgets for runs that share a machine (architecture searches).
    """

    steps: int = 1000
    batch_size: int = 16
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Precision = "auto"
    channels_last: bool | Literal["auto"] = "auto"
    grad_clip: float | None = 1.0
    ema_decay: float | None = 0.999
    ema_start: int = 0
    log_every: int = 50
    val_every: int = 1000
    ckpt_every: int = 1000
    images: int = 4
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    time_limit: float | None = None
    cpu_time_limit: float | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "num_nodes", "log_every", "val_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"engine.{name} must be >= 1, got {getattr(self, name)}")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"engine.ema_decay must be in [0, 1) or null, got {self.ema_decay}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"engine.grad_clip must be > 0 or null, got {self.grad_clip}")


@dataclass
class RecipeConfig:
    """A whole training recipe. ``options`` stays a mapping here; the task validates it with its ``Config``."""

    task: str
    options: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RecipeConfig:
        """Validate a plain mapping (e.g. parsed YAML); unknown keys raise ConfigError naming them."""
        return from_dict(cls, data)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Load a recipe YAML and apply ``section.key=value`` overrides (values parsed as YAML).

    The task's ``options`` are checked too (unknown option keys are errors naming ``options.<key>``).

    Raises:
        ConfigError: unknown key, wrong type or unknown task.
    """
    from facedeblur.train.recipes import task_class

    cfg = load_yaml(RecipeConfig, path, overrides)
    task_class(cfg.task).parse_options(cfg.options)
    return cfg
