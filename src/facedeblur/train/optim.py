"""Typed optimizer and learning-rate schedule configs shared by the training tasks.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> opt = build_optimizer(net.parameters(), OptimizerConfig(name="adam", lr=1e-3))
    >>> sched = build_scheduler(opt, SchedulerConfig(name="step", step_size=10, gamma=0.5), total_steps=100)
    >>> type(opt).__name__, type(sched).__name__
    ('Adam', 'LambdaLR')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

from facedeblur.config import ConfigError


@dataclass
class OptimizerConfig:
    """Attributes:
    name: ``adam``, ``adamw`` or ``sgd``.
    lr: learning rate.
    betas: Adam(W) betas.
    momentum: SGD momentum.
    weight_decay: L2 (Adam, SGD) or decoupled (AdamW) weight decay.
    """

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer lr must be > 0, got {self.lr}")


@dataclass
class SchedulerConfig:
    """Per-iteration learning-rate schedule.

    Attributes:
        name: ``constant``; ``step`` (multiply by ``gamma`` every ``step_size`` iterations); ``cosine`` (to
            ``min_factor`` of the initial lr at the last step); ``exponential`` (multiply by ``gamma`` every
            ``step_size`` iterations, smoothly).
        step_size: iterations per decay period (``step``, ``exponential``).
        gamma: decay factor per period.
        warmup: linear warm-up iterations from 0.
        min_factor: final lr factor of ``cosine``.
        steps: iterations the schedule spans, counted from the start of this run or phase (a warm restart
            from weights starts its schedule afresh); None: ``engine.steps``. ``cosine`` stays at
            ``min_factor`` after it.
    """

    name: Literal["constant", "step", "cosine", "exponential"] = "constant"
    step_size: int = 1000
    gamma: float = 0.5
    warmup: int = 0
    min_factor: float = 0.0
    steps: int | None = None

    def __post_init__(self) -> None:
        if self.step_size < 1 or self.warmup < 0:
            raise ConfigError("scheduler step_size must be >= 1 and warmup >= 0")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"scheduler steps must be >= 1 or null, got {self.steps}")


def build_optimizer(params: Iterable[torch.nn.Parameter], config: OptimizerConfig) -> torch.optim.Optimizer:
    """Optimizer over ``params`` as ``config`` says."""
    params = [p for p in params if p.requires_grad]
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def lr_factor(config: SchedulerConfig, step: int, total_steps: int) -> float:
    """Multiplier of the initial learning rate at iteration ``step`` (0-based)."""
    warm = min(1.0, (step + 1) / config.warmup) if config.warmup else 1.0
    if config.name == "constant":
        return warm
    if config.name == "step":
        return warm * config.gamma ** (step // config.step_size)
    if config.name == "exponential":
        return warm * config.gamma ** (step / config.step_size)
    progress = min(1.0, step / max(1, total_steps - 1))
    return warm * (config.min_factor + (1 - config.min_factor) * 0.5 * (1 + math.cos(math.pi * progress)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: SchedulerConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-iteration ``LambdaLR`` following :func:`lr_factor` over ``config.steps`` (else ``total_steps``)."""
    total_steps = config.steps or total_steps
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step, total_steps))
