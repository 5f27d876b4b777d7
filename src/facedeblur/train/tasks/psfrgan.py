"""Training task of PSFR-GAN: progressive semantic-aware style generator, multi-scale parsing-conditioned GAN.

Per iteration (Chen et al. 2021, our 10-class parsing and offline backbone):

- a frozen, pretrained :class:`~facedeblur.models.parsenet.ParseNet` parses the degraded face (the
  generator's condition) and the sharp face (regions of the style loss, condition of the discriminators);
- generator loss = ``l1_weight`` x L1 + ``fm_weight`` x discriminator feature matching + ``gan_weight`` x
  hinge GAN + ``style_weight`` x semantic-aware style loss (+ optional ``perceptual_weight`` x L1 between
  backbone features);
- discriminator loss = hinge loss of three multi-scale PatchGANs on (image, parsing of the sharp face).

The style/perceptual backbone is our identity network (dlib's face-recognition ResNet): no ImageNet
VGG can be had offline. Training data mixes ``data.recipe`` (``deblur``) with the ``restore`` recipe.
The exported model (architecture ``psfrgan``) bundles the parsing network, so it works alone.

Example:
    >>> from facedeblur.train.config import DataConfig
    >>> opts = PSFRGanTask.parse_options({"parsenet_weights": "parsenet"})
    >>> opts.l1_weight, opts.fm_weight, opts.gan_weight, opts.optim_d.lr
    (10.0, 10.0, 1.0, 0.0004)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from facedeblur.config import ConfigError
from facedeblur.models.psfrgan import PSFRGeneratorConfig, parse_faces
from facedeblur.train.optim import OptimizerConfig, SchedulerConfig, build_optimizer, build_scheduler
from facedeblur.train.task import TrainTask
from facedeblur.train.tasks.parsenet import build_restore_recipe


@dataclass
class PSFRDiscriminatorConfig:
    """Arguments of :func:`~facedeblur.models.psfrgan_discriminators.build_psfrgan_discriminator`."""

    num_scales: int = 3
    base_channels: int = 64
    num_layers: int = 3


@dataclass
class PSFRGanTaskConfig:
    """Options of the ``psfrgan`` task (defaults: the paper's weights and optimizers).

    Attributes:
        net: the generator (:class:`~facedeblur.models.psfrgan.PSFRGeneratorConfig`).
        parsenet_weights: the pretrained parsing network: a bundled model name (``parsenet``) or a
            ``.safetensors`` file exported from the ``parsenet`` task. Frozen during training.
        disc: the multi-scale discriminators.
        l1_weight: weight of the L1 loss (10).
        fm_weight: weight of discriminator feature matching (10).
        gan_weight: weight of the hinge GAN loss (1).
        style_weight: weight of the semantic-aware style loss (paper: 1000 with VGG features; our
            identity-network features have another scale, so the recipes set it).
        style_layers: indices of the identity network's feature maps for the style loss.
        perceptual_weight: optional L1 between identity-network features (0 = off, as in the paper).
        restore_fraction: per face, probability of re-degrading it with the ``restore`` recipe.
        restore_options: overrides of :class:`~facedeblur.degrade.recipes.RestoreRecipe`'s fields.
        optim_g: Adam, lr 1e-4, betas (0.5, 0.999).
        optim_d: Adam, lr 4e-4, betas (0.5, 0.999).
        scheduler: schedule of both learning rates.
    """

    net: PSFRGeneratorConfig = field(default_factory=PSFRGeneratorConfig)
    parsenet_weights: str = "parsenet"
    disc: PSFRDiscriminatorConfig = field(default_factory=PSFRDiscriminatorConfig)
    l1_weight: float = 10.0
    fm_weight: float = 10.0
    gan_weight: float = 1.0
    style_weight: float = 1000.0
    style_layers: tuple[int, ...] = (2, 3, 4)
    perceptual_weight: float = 0.0
    restore_fraction: float = 0.5
    restore_options: dict[str, Any] = field(default_factory=dict)
    optim_g: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, betas=(0.5, 0.999)))
    optim_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=4e-4, betas=(0.5, 0.999)))
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.restore_fraction <= 1.0:
            raise ConfigError(f"options.restore_fraction must be in [0, 1], got {self.restore_fraction}")
        for name in ("l1_weight", "fm_weight", "gan_weight", "style_weight", "perceptual_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"options.{name} must be >= 0, got {getattr(self, name)}")
        if not self.style_layers:
            raise ConfigError("options.style_layers must name at least one feature map")


class PSFRGanTask(TrainTask):
    """PSFR-GAN: generator bundle (with frozen ParseNet) + multi-scale parsing-conditioned discriminators."""

    Config = PSFRGanTaskConfig
    architecture = "psfrgan"
    discriminator_modules = ("discriminator",)

    def __init__(self, options: PSFRGanTaskConfig, data) -> None:
        super().__init__(options, data)
        self._restore = build_restore_recipe(options.restore_options) if options.restore_fraction > 0 else None
        self._parsenet_meta = None
        self._parsenet = None
        self._backbone = None
        self._cache: dict[str, torch.Tensor] = {}

    # -- models -------------------------------------------------------------------------------------
    def _parsenet_file(self):
        from facedeblur.errors import UserError
        from facedeblur.models.hub import read_metadata, resolve_model

        try:
            path = resolve_model(self.options.parsenet_weights)
        except UserError as err:
            raise ConfigError(f"options.parsenet_weights: {err}") from err
        meta = read_metadata(path)
        if meta.architecture != "parsenet":
            raise ConfigError(f"options.parsenet_weights: {path} holds a {meta.architecture!r} model, not parsenet")
        return path, meta

    def generator_config(self) -> dict:
        if self._parsenet_meta is None:
            self._parsenet_meta = self._parsenet_file()[1]
        return {**asdict(self.options.net), "parsenet": dict(self._parsenet_meta.config)}

    def build_models(self) -> dict[str, torch.nn.Module]:
        from facedeblur.models.hub import load_weights
        from facedeblur.models.psfrgan_discriminators import build_psfrgan_discriminator
        from facedeblur.models.registry import build_model

        if self.options.net.size != self.data.size:
            raise ConfigError(f"options.net.size ({self.options.net.size}) must equal data.size ({self.data.size})")
        path, self._parsenet_meta = self._parsenet_file()
        parsenet, _ = load_weights(path, architecture="parsenet")
        bundle = build_model(self.architecture, **self.generator_config())
        bundle.parsenet.load_state_dict(parsenet.state_dict())
        bundle.parsenet.eval().requires_grad_(False)
        self._parsenet = bundle.parsenet  # the same module object, moved to the device with the bundle
        disc = build_psfrgan_discriminator(num_classes=self.options.net.num_classes, **asdict(self.options.disc))
        return {"generator": bundle, "discriminator": disc}

    def build_optimizers(self, models):
        return {  # the frozen parsing network's parameters do not require gradients: left out
            "generator": build_optimizer(models["generator"].parameters(), self.options.optim_g),
            "discriminator": build_optimizer(models["discriminator"].parameters(), self.options.optim_d),
        }

    def build_schedulers(self, optimizers, total_steps):
        return {k: build_scheduler(opt, self.options.scheduler, total_steps) for k, opt in optimizers.items()}

    # -- steps --------------------------------------------------------------------------------------
    @property
    def backbone(self):
        if self._backbone is None:
            from facedeblur.face.identity import load_identity_network

            self._backbone = load_identity_network(self.device)
        return self._backbone

    def _parse(self, faces: torch.Tensor) -> torch.Tensor:
        parsenet = self._parsenet if self._parsenet is not None else self.models["generator"].parsenet
        parsenet.eval()
        return parse_faces(parsenet, faces)

    def generator_step(self, batch, step):
        from facedeblur.losses.adversarial import g_hinge_loss
        from facedeblur.losses.feature_matching import feature_matching_loss
        from facedeblur.losses.style import semantic_style_loss
        from facedeblur.train.tasks.mixing import mix_recipe

        o = self.options
        lq, gt = batch["lq"], batch["gt"]
        if self._restore is not None:
            lq, gt = mix_recipe(lq, gt, self._restore, o.restore_fraction, self.rng)
        parse_lq, parse_hq = self._parse(lq), self._parse(gt)
        fake = self.models["generator"](lq, parse_lq).float()
        self._cache = {"gt": gt, "parse_hq": parse_hq, "fake": fake.detach()}

        logs: dict[str, float] = {}
        l1 = F.l1_loss(fake, gt)
        loss = o.l1_weight * l1
        logs["l1"] = float(l1.detach())
        if o.gan_weight > 0 or o.fm_weight > 0:
            disc = self.models["discriminator"]
            fake_outs = disc(fake, parse_hq)
            if o.gan_weight > 0:
                adv = g_hinge_loss([d[-1] for d in fake_outs])
                loss = loss + o.gan_weight * adv
                logs["g_hinge"] = float(adv.detach())
            if o.fm_weight > 0:
                with torch.no_grad():
                    real_outs = disc(gt, parse_hq)
                fm = feature_matching_loss(fake_outs, real_outs)
                loss = loss + o.fm_weight * fm
                logs["fm"] = float(fm.detach())
        if o.style_weight > 0 or o.perceptual_weight > 0:
            fake_feats = self.backbone.features(fake)
            with torch.no_grad():
                real_feats = self.backbone.features(gt)
            if o.style_weight > 0:
                try:
                    pick_fake = [fake_feats[i] for i in o.style_layers]
                    pick_real = [real_feats[i] for i in o.style_layers]
                except IndexError as err:
                    raise ConfigError(f"options.style_layers {o.style_layers}: only {len(fake_feats)} maps") from err
                style = semantic_style_loss(pick_fake, pick_real, parse_hq)
                loss = loss + o.style_weight * style
                logs["style"] = float(style.detach())
            if o.perceptual_weight > 0:
                perc = sum(F.l1_loss(f, r) for f, r in zip(fake_feats, real_feats, strict=True)) / len(fake_feats)
                loss = loss + o.perceptual_weight * perc
                logs["perceptual"] = float(perc.detach())
        return loss, logs

    def discriminator_step(self, batch, step):
        from facedeblur.losses.adversarial import d_hinge_loss

        if not self._cache or self.options.gan_weight == 0:
            return None
        disc = self.models["discriminator"]
        c = self._cache
        real = [d[-1] for d in disc(c["gt"], c["parse_hq"])]
        fake = [d[-1] for d in disc(c["fake"], c["parse_hq"])]
        loss = d_hinge_loss(real, fake)
        self._cache = {}
        return loss, {"d_hinge": float(loss.detach())}
