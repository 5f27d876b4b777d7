"""How a model recipe plugs into the training engine: subclass :class:`TrainTask`.

A task says *what* to train (models, optimizers, losses); the engine (:mod:`facedeblur.train.engine`)
says *how*: devices and DDP, mixed precision, data loading and degradation, gradient clipping, EMA,
checkpoint/resume, logging, validation PSNR/SSIM and best-checkpoint keeping.

The contract
------------
- ``Config``: a dataclass for the recipe's ``options:`` section (unknown keys are errors naming the key).
- ``architecture``: the key in :data:`facedeblur.models.registry.ARCHITECTURES` of the model users get;
  :meth:`generator_config` returns the builder keyword arguments, so that
  ``build_model(architecture, **generator_config())`` has exactly the state dict of ``models["generator"]``
  (that is what ``facedeblur export`` writes).
- :meth:`build_models` returns named modules; ``"generator"`` is required (the restoration network,
  ``forward(lq) -> restored``). Discriminators, frozen feature networks etc. are further entries.
- :meth:`build_optimizers` returns ``{"generator": opt}`` and, for GANs, ``"discriminator": opt``.
  ``generator_modules`` / ``discriminator_modules`` name the modules each optimizer trains (the engine
  turns gradients of the discriminator modules off during the generator step and clips per optimizer).
- Each iteration the engine calls :meth:`generator_step` then, if the task has a discriminator
  optimizer, :meth:`discriminator_step`, each with the same batch (on the device). Each returns
  ``(loss, logs)``; the engine does backward, clipping, optimizer and scheduler steps.
  Returning ``None`` from :meth:`discriminator_step` skips it for that iteration.
- Inside the steps use ``self.models[name]`` (modules set up by the engine for the device, precision and
  DDP) and ``self.rng`` (a ``torch.Generator`` on the CPU whose state is checkpointed) for any randomness
  of your own, so that resumed runs continue exactly.
- ``ema_modules`` get an exponential moving average; validation and export use the averaged generator.
- :meth:`restore` is the validation forward; override it only if validation needs more than ``generator(lq)``.

Batches are dicts with ``lq`` and ``gt``: (B, 3, S, S) float RGB in [0, 1] on the task's device, plus
``path`` (list of str).

Example:
    A minimal GAN task (the real ones live in :mod:`facedeblur.train.tasks`)::

        from dataclasses import dataclass, field
        import torch
        from facedeblur.train.task import TrainTask
        from facedeblur.train.optim import OptimizerConfig, build_optimizer

        @dataclass
        class TinyGanConfig:
            net: dict = field(default_factory=lambda: {"width": 16, "blocks": 2})
            adv_weight: float = 0.01
            optim_g: OptimizerConfig = field(default_factory=OptimizerConfig)
            optim_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=4e-4))

        class TinyGan(TrainTask):
            Config = TinyGanConfig
            architecture = "chrysos"
            discriminator_modules = ("discriminator",)

            def generator_config(self):
                return dict(self.options.net)

            def build_models(self):
                from facedeblur.models.registry import build_model
                disc = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 4, 2, 1), torch.nn.LeakyReLU(0.2),
                                           torch.nn.Conv2d(8, 1, 4, 2, 1))
                return {"generator": build_model("chrysos", **self.generator_config()), "discriminator": disc}

            def build_optimizers(self, models):
                return {"generator": build_optimizer(models["generator"].parameters(), self.options.optim_g),
                        "discriminator": build_optimizer(models["discriminator"].parameters(), self.options.optim_d)}

            def generator_step(self, batch, step):
                fake = self.models["generator"](batch["lq"])
                self._fake = fake.detach()                      # reused by discriminator_step
                l1 = (fake - batch["gt"]).abs().mean()
                adv = torch.nn.functional.softplus(-self.models["discriminator"](fake)).mean()
                loss = l1 + self.options.adv_weight * adv
                return loss, {"l1": l1.item(), "adv": adv.item()}

            def discriminator_step(self, batch, step):
                d = self.models["discriminator"]
                loss = (torch.nn.functional.softplus(-d(batch["gt"])).mean()
                        + torch.nn.functional.softplus(d(self._fake)).mean())
                return loss, {"d": loss.item()}

    Register it by adding ``"tinygan": "mypackage.tiny:TinyGan"`` to
    :data:`facedeblur.train.recipes.TASKS` and write ``configs/tinygan.yaml`` with ``task: tinygan``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from facedeblur.config import from_dict
from facedeblur.train.config import DataConfig


class TrainTask:
    """Base class of every training recipe; see the module docstring for the contract.

    Args:
        options: an instance of ``Config`` (the recipe's ``options:`` section, validated).
        data: the recipe's data section (face size, degradation), for tasks that need it.

    Attributes set by the engine before the first step:
        models: name -> module, set up for the device/precision/DDP.
        rng: CPU ``torch.Generator`` for the task's own randomness (checkpointed with the run).
        device: the torch device batches live on.
    """

    Config: ClassVar[type] = dict
    architecture: ClassVar[str] = ""
    generator_modules: ClassVar[tuple[str, ...]] = ("generator",)
    discriminator_modules: ClassVar[tuple[str, ...]] = ()
    ema_modules: ClassVar[tuple[str, ...]] = ("generator",)

    def __init__(self, options: Any, data: DataConfig) -> None:
        self.options = options
        self.data = data
        self.models: dict[str, nn.Module] = {}
        self.rng = torch.Generator().manual_seed(0)
        self.device = torch.device("cpu")

    @classmethod
    def parse_options(cls, options: dict[str, Any]) -> Any:
        """Validate the recipe's ``options:`` mapping into ``Config`` (errors name ``options.<key>``)."""
        if cls.Config is dict:
            return dict(options)
        return from_dict(cls.Config, options, "options")

    # -- to implement -------------------------------------------------------------------------------
    def generator_config(self) -> dict[str, Any]:
        """Builder keyword arguments of ``architecture`` that rebuild ``models["generator"]`` (for export)."""
        raise NotImplementedError

    def build_models(self) -> dict[str, nn.Module]:
        """Create the modules (on the CPU, freshly initialised); must include ``"generator"``."""
        raise NotImplementedError

    def build_optimizers(self, models: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """Optimizers over ``models``' parameters: ``"generator"`` and optionally ``"discriminator"``."""
        raise NotImplementedError

    def build_schedulers(
        self, optimizers: dict[str, torch.optim.Optimizer], total_steps: int
    ) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Learning-rate schedulers keyed like ``optimizers``, stepped once per iteration (default: none)."""
        return {}

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Forward and loss of the generator on one batch; returns ``(loss, {name: float})``."""
        raise NotImplementedError

    def discriminator_step(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, dict[str, float]] | None:
        """Loss of the discriminator(s) on one batch, after :meth:`generator_step`; None skips this iteration."""
        return None

    def restore(self, generator: nn.Module, lq: torch.Tensor) -> torch.Tensor:
        """Validation forward: restored faces (B, 3, S, S) from ``lq`` with ``generator`` (EMA when present)."""
        return generator(lq)

    # -- helpers ------------------------------------------------------------------------------------
    @property
    def has_discriminator(self) -> bool:
        return bool(self.discriminator_modules)
