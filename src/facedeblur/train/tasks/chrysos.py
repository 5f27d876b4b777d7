"""Training task of Chrysos & Zafeiriou's network: Huber loss on synthetic blurry/sharp face pairs.

Paper recipe (batch 16, SGD, lr 3e-4 halved every 15k iterations, 70k iterations) is the default of
:class:`ChrysosTaskConfig`; ``facedeblur/configs/chrysos.yaml`` holds the short CPU recipe of the bundled model.

Example:
    >>> from facedeblur.train.config import DataConfig
    >>> task = ChrysosTask(ChrysosTask.parse_options({"net": {"width": 8, "blocks": 2}}), DataConfig())
    >>> sorted(task.build_models())
    ['generator']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from facedeblur.config import ConfigError
from facedeblur.losses import PIXEL_LOSSES
from facedeblur.models.chrysos import ChrysosConfig
from facedeblur.train.optim import OptimizerConfig, SchedulerConfig, build_optimizer, build_scheduler
from facedeblur.train.task import TrainTask


@dataclass
class ChrysosTaskConfig:
    """Options of the ``chrysos`` task.

    Attributes:
        net: architecture (:class:`~facedeblur.models.chrysos.ChrysosConfig`).
        loss: pixel loss, ``huber`` in the paper.
        huber_delta: the Huber loss's quadratic-to-linear threshold (intensities in [0, 1]).
        crop: train on random ``crop`` x ``crop`` windows of each degraded/sharp pair (the network is
            fully convolutional; None trains on whole faces). Degradation happens on the whole face first.
        optimizer: the paper's SGD, lr 3e-4.
        scheduler: the paper's halving every 15k iterations.
    """

    net: ChrysosConfig = field(default_factory=ChrysosConfig)
    loss: Literal["huber", "l1", "charbonnier"] = "huber"
    huber_delta: float = 0.01
    crop: int | None = None
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(name="sgd", lr=3e-4))
    scheduler: SchedulerConfig = field(default_factory=lambda: SchedulerConfig(name="step", step_size=15000))

    def __post_init__(self) -> None:
        if self.crop is not None and self.crop < 8:
            raise ConfigError(f"options.crop must be >= 8 or null, got {self.crop}")


def random_crops(lq: torch.Tensor, gt: torch.Tensor, size: int, generator: torch.Generator):
    """The same random ``size`` x ``size`` window of each pair (a different window per image).

    Shape:
        (B, C, H, W) twice -> (B, C, size, size) twice.
    """
    b, _, h, w = lq.shape
    if size > h or size > w:
        raise ValueError(f"crop {size} is larger than the faces ({h}x{w})")
    ys = torch.randint(0, h - size + 1, (b,), generator=generator).tolist()
    xs = torch.randint(0, w - size + 1, (b,), generator=generator).tolist()
    lq_c = torch.stack([lq[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(ys, xs, strict=True))])
    gt_c = torch.stack([gt[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(ys, xs, strict=True))])
    return lq_c, gt_c


class ChrysosTask(TrainTask):
    """Chrysos & Zafeiriou: a single generator trained with a pixel (Huber) loss; no discriminator."""

    Config = ChrysosTaskConfig
    architecture = "chrysos"

    def generator_config(self) -> dict:
        return asdict(self.options.net)

    def build_models(self) -> dict[str, torch.nn.Module]:
        from facedeblur.models.registry import build_model

        return {"generator": build_model(self.architecture, **self.generator_config())}

    def build_optimizers(self, models):
        return {"generator": build_optimizer(models["generator"].parameters(), self.options.optimizer)}

    def build_schedulers(self, optimizers, total_steps):
        return {"generator": build_scheduler(optimizers["generator"], self.options.scheduler, total_steps)}

    def generator_step(self, batch, step):
        lq, gt = batch["lq"], batch["gt"]
        if self.options.crop is not None:
            lq, gt = random_crops(lq, gt, self.options.crop, self.rng)
        restored = self.models["generator"](lq)
        if self.options.loss == "huber":
            loss = PIXEL_LOSSES["huber"](restored.float(), gt, delta=self.options.huber_delta)
        else:
            loss = PIXEL_LOSSES[self.options.loss](restored.float(), gt)
        return loss, {self.options.loss: float(loss.detach())}
