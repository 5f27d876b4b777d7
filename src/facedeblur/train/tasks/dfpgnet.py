"""Training task of DFPGnet: L1 + adversarial (image and prior features) + prior loss (+ optional identity).

Per iteration (:class:`DFPGnetTask`):

* generator step: ``restored, est = G(lq, return_prior=True)``; the true prior is the identity
  network's feature maps of the sharp face (levels ``prior_layers`` of
  :meth:`facedeblur.face.identity.IdentityNet.features`, faces framed like dlib's chips), resized
  bilinearly to the estimates' resolutions; loss =
  ``l1_weight * L1 + adv_weight * G_adv(D_img(restored)) + feature_adv_weight * G_adv(D_feat(est))
  + prior_weight * L_prior(est, true) + identity_weight * L_id(restored, gt)``;
* discriminator step: the image discriminator on (gt, restored), the channel-attention feature
  discriminator on (true prior, estimated prior), and the prior loss's learnable channel weights
  ascending the prior loss (``PriorLoss(..., ascend=True)``); all three share
  the discriminator optimizer (lr 5e-4).

Defaults are the recipe of the authors' lab (Adam 0.9/0.999, lr G 1e-4, D 5e-4, lr x0.99 per epoch
= 1407 iterations of batch 16 on UTKFace train, L1 + 0.03 adversarial + prior). Ablations:
``net.use_prior=false`` (no prior stream: no prior loss, no feature discriminator),
``net.use_ftm=false`` (prior fused by concatenation), ``feature_discriminator=false``.

Example:
    >>> from facedeblur.train.config import DataConfig
    >>> opts = DFPGnetTask.parse_options({"net": {"width": 8, "blocks": 1, "middle_blocks": 1, "prior_blocks": 1}})
    >>> task = DFPGnetTask(opts, DataConfig())
    >>> sorted(task.build_models())
    ['feature_discriminator', 'generator', 'image_discriminator', 'prior_loss']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from facedeblur.config import ConfigError
from facedeblur.losses.adversarial import discriminator_loss, generator_loss
from facedeblur.losses.prior import PriorLoss, normalize_channels, resize_prior_targets
from facedeblur.models.dfpgnet import DFPGnetConfig
from facedeblur.train.optim import OptimizerConfig, SchedulerConfig, build_optimizer, build_scheduler
from facedeblur.train.task import TrainTask

__all__ = ["DFPGnetTask", "DFPGnetTaskConfig", "random_windows", "true_prior"]


@dataclass
class DFPGnetTaskConfig:
    """Options of the ``dfpgnet`` task.

    Attributes:
        net: generator architecture (:class:`~facedeblur.models.dfpgnet.DFPGnetConfig`);
            ``net.prior_channels`` must match the identity network's ``prior_layers`` channels
            (set automatically when left at null).
        prior_layers: indices into :meth:`IdentityNet.features` (``stem, level4, level3, level2,
            level1, level0``) used as the three prior depths, shallow to deep. Default (1, 2, 3):
            level4/level3/level2, 32/64/128 channels at 35/17/8 px of the 150 px chip.
        image_discriminator: train with the image (PatchGAN) discriminator.
        feature_discriminator: train with the channel-attention feature discriminator (needs the prior).
        discriminator_width: channels of the discriminators' first level.
        gan_loss: ``hinge`` or ``nonsaturating`` (standard GAN). Hinge keeps the discriminators' logits
            near the margin; with the non-saturating loss the feature discriminator's logits (and the
            generator's feature-adversarial loss) grew without bound in our runs.
        l1_weight: weight of the L1 loss.
        adv_weight: weight of the image adversarial loss (0.03).
        feature_adv_weight: weight of the feature adversarial loss (0.03).
        prior_weight: weight of the prior loss (1).
        learn_prior_weights: train the prior loss's per-channel weights (False: uniform).
        identity_weight: weight of the identity loss on the 128-D descriptor (0: off; whole faces only).
        crop: train on random ``crop`` x ``crop`` windows (a multiple of 8) of each face pair, the true
            prior being computed on the whole sharp face and cropped alike (cheaper CPU training;
            None: whole faces, as in the paper).
        optim_g: generator optimizer (Adam, lr 1e-4).
        optim_d: discriminator optimizer (Adam, lr 5e-4).
        scheduler: per-iteration lr schedule of both (x0.99 every 1407 iterations ~ per epoch).
    """

    net: DFPGnetConfig = field(default_factory=DFPGnetConfig)
    prior_layers: tuple[int, int, int] = (1, 2, 3)
    image_discriminator: bool = True
    feature_discriminator: bool = True
    discriminator_width: int = 64
    gan_loss: Literal["nonsaturating", "hinge"] = "hinge"
    l1_weight: float = 1.0
    adv_weight: float = 0.03
    feature_adv_weight: float = 0.03
    prior_weight: float = 1.0
    learn_prior_weights: bool = True
    identity_weight: float = 0.0
    crop: int | None = None
    optim_g: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(name="adam", lr=1e-4))
    optim_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(name="adam", lr=5e-4))
    scheduler: SchedulerConfig = field(
        default_factory=lambda: SchedulerConfig(name="exponential", step_size=1407, gamma=0.99)
    )

    def __post_init__(self) -> None:
        from facedeblur.face.identity import FEATURE_CHANNELS

        layers = tuple(self.prior_layers)
        in_range = all(0 <= i < len(FEATURE_CHANNELS) for i in layers)
        if len(layers) != 3 or not in_range or list(layers) != sorted(set(layers)):
            raise ConfigError(
                f"options.prior_layers must be 3 increasing indices in 0..{len(FEATURE_CHANNELS) - 1}, got {layers}"
            )
        expected = tuple(FEATURE_CHANNELS[i] for i in layers)
        if tuple(self.net.prior_channels) != expected:
            raise ConfigError(
                f"options.net.prior_channels {tuple(self.net.prior_channels)} do not match the identity network's "
                f"channels {expected} at prior_layers {layers}"
            )
        for name in ("l1_weight", "adv_weight", "feature_adv_weight", "prior_weight", "identity_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"options.{name} must be >= 0, got {getattr(self, name)}")
        if self.crop is not None and (self.crop < 8 or self.crop % 8):
            raise ConfigError(f"options.crop must be a multiple of 8 (>= 8) or null, got {self.crop}")
        if self.crop is not None and self.identity_weight > 0:
            raise ConfigError("options.identity_weight needs whole faces: set options.crop to null")
        if self.discriminator_width < 1:
            raise ConfigError(f"options.discriminator_width must be >= 1, got {self.discriminator_width}")

    @property
    def uses_feature_discriminator(self) -> bool:
        return self.feature_discriminator and self.net.use_prior


def true_prior(network: nn.Module, gt: torch.Tensor, layers: tuple[int, ...], sizes: list[tuple[int, int]]):
    """The prior targets: the identity network's maps of the sharp faces, resized to the estimates' sizes.

    Args:
        network: an :class:`~facedeblur.face.identity.IdentityNet` (frozen).
        gt: sharp aligned faces (B, 3, S, S) in [0, 1].
        layers: indices into ``network.features``.
        sizes: (H, W) of each estimated prior level.

    Returns:
        List of (B, C_l, H_l, W_l) maps, normalised to unit length over channels (as the generator's
        estimates are), no gradient.
    """
    from facedeblur.face.identity import aligned_face_to_chip

    with torch.no_grad():
        feats = network.features(aligned_face_to_chip(gt))
        resized = resize_prior_targets([feats[i].float() for i in layers], sizes)
        return [normalize_channels(f) for f in resized]


def random_windows(
    lq: torch.Tensor,
    gt: torch.Tensor,
    priors: list[torch.Tensor] | None,
    size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor] | None]:
    """The same random ``size`` x ``size`` window of each pair and of its prior maps (one window per face).

    Window corners are multiples of 4 so that prior level ``l`` (at 1/2**l of the face size) is
    cropped at exactly the matching place.

    Args:
        lq: degraded faces (B, 3, S, S).
        gt: sharp faces (B, 3, S, S).
        priors: None, or the three prior maps at (S, S/2, S/4).
        size: window side, a multiple of 4, at most S.
        generator: CPU generator for the window positions.

    Returns:
        ``(lq, gt, priors)`` cropped: (B, 3, size, size) and maps at (size, size/2, size/4).
    """
    b, _, h, w = lq.shape
    if size > h or size > w or size % 4:
        raise ValueError(f"window {size} must be a multiple of 4 no larger than the faces ({h}x{w})")
    ys = (torch.randint(0, (h - size) // 4 + 1, (b,), generator=generator) * 4).tolist()
    xs = (torch.randint(0, (w - size) // 4 + 1, (b,), generator=generator) * 4).tolist()

    def crop(t: torch.Tensor, level: int) -> torch.Tensor:
        n = size >> level
        return torch.stack(
            [
                t[i, :, (y >> level) : (y >> level) + n, (x >> level) : (x >> level) + n]
                for i, (y, x) in enumerate(zip(ys, xs, strict=True))
            ]
        )

    cropped = [crop(p, level) for level, p in enumerate(priors)] if priors is not None else None
    return crop(lq, 0), crop(gt, 0), cropped


class DFPGnetTask(TrainTask):
    """DFPGnet: two-stream generator, image + channel-attention feature discriminators, prior loss."""

    Config = DFPGnetTaskConfig
    architecture = "dfpgnet"
    generator_modules = ("generator",)
    discriminator_modules = ("image_discriminator", "feature_discriminator", "prior_loss")
    ema_modules = ("generator",)

    def __init__(self, options: DFPGnetTaskConfig, data: Any) -> None:
        super().__init__(options, data)
        # Per-instance: the ablations drop discriminators (the engine reads these attributes).
        names = []
        if options.image_discriminator:
            names.append("image_discriminator")
        if options.uses_feature_discriminator:
            names.append("feature_discriminator")
        if options.net.use_prior and options.learn_prior_weights and options.prior_weight > 0:
            names.append("prior_loss")
        self.discriminator_modules = tuple(names)
        self._identity: nn.Module | None = None
        self._cache: dict[str, Any] = {}

    @classmethod
    def parse_options(cls, options: dict[str, Any]) -> DFPGnetTaskConfig:
        """Validate ``options``; ``net.prior_channels`` defaults to the channels of ``prior_layers``."""
        from facedeblur.config import from_dict
        from facedeblur.face.identity import FEATURE_CHANNELS

        options = dict(options)
        net = dict(options.get("net") or {})
        layers = options.get("prior_layers", DFPGnetTaskConfig.prior_layers)
        if net.get("prior_channels") is None and isinstance(layers, (list, tuple)):
            try:
                net["prior_channels"] = [FEATURE_CHANNELS[int(i)] for i in layers]
            except (IndexError, TypeError, ValueError):
                pass  # reported by the config's own check
        options["net"] = net
        return from_dict(cls.Config, options, "options")

    # -- the identity network (frozen, not a trained module: kept out of checkpoints) -------------
    def identity_network(self) -> nn.Module:
        """The identity network on the task's device, loaded on first use."""
        if self._identity is None:
            from facedeblur.face.identity import load_identity_network

            self._identity = load_identity_network(self.device)
        return self._identity

    def generator_config(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self.options.net)
        out["prior_channels"] = list(out["prior_channels"])
        return out

    def build_models(self) -> dict[str, nn.Module]:
        from facedeblur.models.dfpgnet_discriminators import FeatureDiscriminator, ImageDiscriminator
        from facedeblur.models.registry import build_model

        opts = self.options
        models: dict[str, nn.Module] = {"generator": build_model(self.architecture, **self.generator_config())}
        if opts.image_discriminator:
            models["image_discriminator"] = ImageDiscriminator(width=opts.discriminator_width)
        if opts.uses_feature_discriminator:
            models["feature_discriminator"] = FeatureDiscriminator(
                prior_channels=opts.net.prior_channels, width=opts.discriminator_width, reduction=opts.net.reduction
            )
        if opts.net.use_prior and opts.prior_weight > 0:
            models["prior_loss"] = PriorLoss(opts.net.prior_channels, learnable=opts.learn_prior_weights)
        return models

    def build_optimizers(self, models: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        optimizers = {"generator": build_optimizer(models["generator"].parameters(), self.options.optim_g)}
        d_params = [p for name in self.discriminator_modules for p in models[name].parameters() if p.requires_grad]
        if d_params:
            optimizers["discriminator"] = build_optimizer(d_params, self.options.optim_d)
        return optimizers

    def build_schedulers(self, optimizers, total_steps):
        return {name: build_scheduler(opt, self.options.scheduler, total_steps) for name, opt in optimizers.items()}

    def generator_step(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        opts = self.options
        lq, gt = batch["lq"], batch["gt"]
        true = None
        if opts.net.use_prior:  # targets from the whole sharp face, at the estimates' full-face sizes
            h, w = gt.shape[-2:]
            sizes = [(h >> level, w >> level) for level in range(3)]
            true = true_prior(self.identity_network(), gt, opts.prior_layers, sizes)
        if opts.crop is not None:
            lq, gt, true = random_windows(lq, gt, true, opts.crop, self.rng)
        restored, est = self.models["generator"](lq, return_prior=True)  # a forward call: DDP/Fabric hooks apply
        restored = restored.float()
        est = [e.float() for e in est]
        l1 = (restored - gt).abs().mean()
        loss = opts.l1_weight * l1
        logs = {"l1": float(l1.detach())}
        if est:
            if "prior_loss" in self.models:
                prior = self.models["prior_loss"](est, true)
                loss = loss + opts.prior_weight * prior
                logs["prior"] = float(prior.detach())
            if opts.uses_feature_discriminator and opts.feature_adv_weight > 0:
                f_adv = generator_loss(opts.gan_loss, self.models["feature_discriminator"](est))
                loss = loss + opts.feature_adv_weight * f_adv
                logs["g_feat"] = float(f_adv.detach())
        if opts.image_discriminator and opts.adv_weight > 0:
            adv = generator_loss(opts.gan_loss, self.models["image_discriminator"](restored))
            loss = loss + opts.adv_weight * adv
            logs["g_img"] = float(adv.detach())
        if opts.identity_weight > 0:
            from facedeblur.losses.identity import identity_loss

            ident = identity_loss(restored, gt, self.identity_network())
            loss = loss + opts.identity_weight * ident
            logs["identity"] = float(ident.detach())
        self._cache = {"restored": restored.detach(), "gt": gt, "est": [e.detach() for e in est], "true": true}
        return loss, logs

    def discriminator_step(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, dict[str, float]] | None:
        if not self.discriminator_modules or not self._cache:
            return None
        opts = self.options
        cache, self._cache = self._cache, {}
        loss = batch["gt"].new_zeros(())
        logs: dict[str, float] = {}
        if "image_discriminator" in self.discriminator_modules:
            d = self.models["image_discriminator"]
            d_img = discriminator_loss(opts.gan_loss, d(cache["gt"]), d(cache["restored"]))
            loss = loss + d_img
            logs["d_img"] = float(d_img.detach())
        if "feature_discriminator" in self.discriminator_modules:
            d = self.models["feature_discriminator"]
            d_feat = discriminator_loss(opts.gan_loss, d(cache["true"]), d(cache["est"]))
            loss = loss + d_feat
            logs["d_feat"] = float(d_feat.detach())
        if "prior_loss" in self.discriminator_modules:
            w_loss = self.models["prior_loss"](cache["est"], cache["true"], ascend=True)
            loss = loss + opts.prior_weight * w_loss
            logs["prior_w"] = float(-w_loss.detach())
        return loss, logs
