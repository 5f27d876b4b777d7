"""Training task of the default restorer: the multi-scale U-Nets (:mod:`facedeblur.models.unet`) and the
physics-guided Wiener U-Net (:mod:`facedeblur.models.wiener`) with a Charbonnier + frequency loss.

The task degrades whole batches itself (``data.degrade_in: task``) with the data recipe (``photo`` for
the default), so it knows every sample's kernel: the Wiener U-Net's kernel estimator gets a direct
loss on it. Optionally a fraction of each batch is replaced by real motion-blur pairs (frame averages
of talking-head videos, made by :func:`facedeblur.eval.protocols.make_frames` from frames after the
frames protocol's, so the test windows are never trained on).

Example:
    >>> from facedeblur.train.config import DataConfig
    >>> opts = RestorerTask.parse_options({"net": {"width": 8, "enc_blocks": [1], "dec_blocks": [1]}})
    >>> task = RestorerTask(opts, DataConfig(degrade_in="task"))
    >>> sorted(task.build_models()), task.architecture
    (['generator'], 'unet')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from facedeblur.config import ConfigError
from facedeblur.losses.pixel import charbonnier_loss, frequency_loss
from facedeblur.train.optim import OptimizerConfig, SchedulerConfig, build_optimizer, build_scheduler
from facedeblur.train.task import TrainTask

ARCHITECTURES = ("unet", "wiener_unet")


@dataclass
class RestorerTaskConfig:
    """Options of the ``restorer`` task.

    Attributes:
        architecture: ``unet`` or ``wiener_unet``.
        net: the architecture's builder keyword arguments.
        frequency_weight: weight of the L1 distance between the images' 2-D spectra (restores the high
            frequencies a pixel loss under-weights).
        kernel_weight: weight of the kernel estimator's loss (``wiener_unet`` only): L1 distance between
            the estimated and the true kernel summed over the kernel (in [0, 2]), on samples blurred by one
            kernel at full resolution; others have no kernel target.
        pairs: folder of real (``blurred/``, ``gt/``) pairs mixed into the batches (None: none).
        pairs_fraction: probability, per face, of being replaced by a random real pair.
        optimizer, scheduler: the generator's optimizer and per-iteration schedule.
    """

    architecture: Literal["unet", "wiener_unet"] = "unet"
    net: dict[str, Any] = field(default_factory=dict)
    frequency_weight: float = 0.05
    kernel_weight: float = 0.1
    pairs: str | None = None
    pairs_fraction: float = 0.1
    optimizer: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(name="adamw", lr=1e-3, betas=(0.9, 0.99))
    )
    scheduler: SchedulerConfig = field(default_factory=lambda: SchedulerConfig(name="constant", warmup=200))

    def __post_init__(self) -> None:
        if self.frequency_weight < 0 or self.kernel_weight < 0:
            raise ConfigError("options.frequency_weight and options.kernel_weight must be >= 0")
        if not 0.0 <= self.pairs_fraction <= 1.0:
            raise ConfigError(f"options.pairs_fraction must be in [0, 1], got {self.pairs_fraction}")


def load_pairs(root: str | Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (blurred, gt) pairs of a pairs folder as two (N, 3, size, size) float tensors in [0, 1].

    Raises:
        ConfigError: no such folder or no matching pairs in it.
    """
    from facedeblur.data.datasets import PairedFolder

    root = Path(root)
    if not (root / "blurred").is_dir() or not (root / "gt").is_dir():
        raise ConfigError(f"options.pairs: {root} has no blurred/ and gt/ folders")
    pairs = PairedFolder(root, size=size)
    if len(pairs) == 0:
        raise ConfigError(f"options.pairs: no pairs in {root}")
    items = [pairs[i] for i in range(len(pairs))]
    return torch.stack([it["lq"] for it in items]), torch.stack([it["gt"] for it in items])


def kernel_targets(params: list[dict[str, Any]], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """True kernels zero-padded (centred) to ``size`` and a mask of the samples that have one.

    A sample has a kernel target when it was blurred by one kernel at full resolution; a no-blur sample's
    target is the delta kernel. Down-scaled samples and real pairs (``real_pair``) have none: their blur is
    not one kernel, nor is a synthetic frame average's (family ``frames``).

    Returns:
        ``(kernels (B, size, size), mask (B,))``.
    """
    out = torch.zeros(len(params), size, size)
    mask = torch.zeros(len(params), dtype=torch.bool)
    for i, p in enumerate(params):
        if p.get("real_pair") or p.get("scale", 1.0) != 1.0:
            continue
        if (p.get("kernel_info") or {}).get("family") == "frames":  # spatially varying: not one kernel
            continue
        kernel = p.get("kernel")
        if kernel is None:
            out[i, size // 2, size // 2] = 1.0
            mask[i] = True
            continue
        k = int(kernel.shape[0])
        if k > size:
            continue
        off = (size - k) // 2
        out[i, off : off + k, off : off + k] = torch.from_numpy(kernel)
        mask[i] = True
    return out, mask


class RestorerTask(TrainTask):
    """The default restorer's task: one generator, Charbonnier + frequency (+ kernel) loss, no discriminator."""

    Config = RestorerTaskConfig

    def __init__(self, options: RestorerTaskConfig, data) -> None:
        super().__init__(options, data)
        self.architecture = options.architecture
        self._recipe = None
        self._pairs: tuple[torch.Tensor, torch.Tensor] | None = None

    def generator_config(self) -> dict:
        """The net options completed with the architecture's defaults (validated, no model built)."""
        from dataclasses import asdict

        from facedeblur.models.unet import UNetConfig
        from facedeblur.models.wiener import WienerUNetConfig

        config_class = {"unet": UNetConfig, "wiener_unet": WienerUNetConfig}[self.architecture]
        return asdict(config_class(**self.options.net))

    def build_models(self) -> dict[str, torch.nn.Module]:
        from facedeblur.models.registry import build_model

        return {"generator": build_model(self.architecture, **self.options.net)}

    def build_optimizers(self, models):
        return {"generator": build_optimizer(models["generator"].parameters(), self.options.optimizer)}

    def build_schedulers(self, optimizers, total_steps):
        return {"generator": build_scheduler(optimizers["generator"], self.options.scheduler, total_steps)}

    def _degrade(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, list[dict] | None]:
        from facedeblur.degrade.recipes import degrade_torch, prepare_target
        from facedeblur.train.data import data_recipe

        gt = batch["gt"]
        if "lq" in batch:  # degraded in the data loader: no kernels known
            return batch["lq"], gt, None
        if self._recipe is None:
            self._recipe = data_recipe(self.data)
        lq, params = degrade_torch(gt.float().contiguous(), self._recipe, self.rng)
        gt = prepare_target(gt, params)
        if self.options.pairs is not None and self.options.pairs_fraction > 0:
            if self._pairs is None:
                self._pairs = load_pairs(self.options.pairs, self.data.size)
            pick = (torch.rand(lq.shape[0], generator=self.rng) < self.options.pairs_fraction).nonzero().flatten()
            if len(pick):
                which = torch.randint(0, self._pairs[0].shape[0], (len(pick),), generator=self.rng)
                lq, gt = lq.clone(), gt.clone()
                lq[pick] = self._pairs[0][which].to(lq)
                gt[pick] = self._pairs[1][which].to(gt)
                for i in pick.tolist():
                    params[i] = {**params[i], "real_pair": True}
        memory = torch.channels_last if batch["gt"].is_contiguous(memory_format=torch.channels_last) else None
        if memory is not None:
            lq, gt = lq.contiguous(memory_format=memory), gt.contiguous(memory_format=memory)
        return lq, gt, params

    def generator_step(self, batch, step):
        started = time.perf_counter()
        lq, gt, params = self._degrade(batch)
        data_seconds = time.perf_counter() - started
        generator = self.models["generator"]
        logs: dict[str, float] = {}
        if self.architecture == "wiener_unet":
            restored, kernel = generator(lq, return_kernel=True)
        else:
            restored, kernel = generator(lq), None
        restored = restored.float()
        pixel = charbonnier_loss(restored, gt.float())
        loss = pixel
        logs["charbonnier"] = float(pixel.detach())
        if self.options.frequency_weight > 0:
            freq = frequency_loss(restored, gt.float())
            loss = loss + self.options.frequency_weight * freq
            logs["frequency"] = float(freq.detach())
        if kernel is not None and params is not None and self.options.kernel_weight > 0:
            size = kernel.shape[-1]
            target, mask = kernel_targets(params, size)
            if mask.any():
                err = (kernel.float()[mask] - target[mask].to(kernel.device)).abs().sum(dim=(1, 2)).mean()
                loss = loss + self.options.kernel_weight * err
                logs["kernel_l1"] = float(err.detach())
        logs["data_s"] = data_seconds
        return loss, logs
