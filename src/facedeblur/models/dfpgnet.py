"""DFPGnet generator: two-stream face deblurring guided by an estimated deep-feature prior.

Jung, Lee & Heo, *Deep Feature Prior Guided Face Deblurring* (WACV 2022). Two streams share the
encoder of a U-shaped deblurring network:

* **Deblurring stream** - a 3x3 conv (3 -> ``width``), an encoder of three levels
  (``width``/2``width``/4``width`` channels at S, S/2, S/4 px; 64/128/256 at 128/64/32 px for the
  paper's width 64), each level a residual group of ``blocks`` residual channel-attention blocks
  (conv-LeakyReLU-conv + squeeze-excitation, reduction 16), 4x4 stride-2 convs between levels, a
  middle residual group, a mirrored decoder with 4x4 stride-2 transposed convs and additive skips,
  a global (feature) residual from the head conv and a 1x1 conv to RGB added to the input image
  (zero-initialised, so an untrained network returns its input).
* **Prior-estimation stream** - at each encoder level a self-modulation layer followed by a
  residual group of ``prior_blocks`` blocks and a 1x1 conv + ReLU + channel normalisation that
  outputs the estimated prior: the face-recognition network's (post-ReLU, non-negative) feature maps
  at three depths, each pixel's feature vector normalised to unit length (as the prior loss compares them).
* **Feature transform modules** (FTM) where the streams meet: each decoder level's features ``x``
  are modulated by the estimated prior ``f`` as ``x * (1 + scale(f)) + shift(f)``, ``scale`` and
  ``shift`` each conv3x3-LeakyReLU-conv3x3.

Choices where the paper is silent or where our prior network differs from VGGFace:

* The prior network is facedeblur's identity network (dlib's face-recognition ResNet rebuilt in
  PyTorch, 150 px input), not VGGFace-16. Its maps have other channel counts and much lower
  resolutions than VGGFace's 64@128/128@64/256@32. The generator keeps the paper's geometry (the
  prior of level ``l`` lives at the decoder resolution S/2^l) and predicts ``prior_channels[l]``
  channels there through a 1x1 conv head; the *targets* are the identity network's maps resized
  bilinearly to those resolutions (:func:`facedeblur.losses.prior.resize_prior_targets`). So the
  adaptation is: 1x1 convs for channels (prediction side), bilinear resampling for resolution
  (target side). Inference never runs the identity network.
* "Self-modulation" is read as the FTM conditioned on its own input,
  ``x * (1 + scale(x)) + shift(x)``, which lets the prior stream re-weight the shared encoder
  features before its own residual group.
* The ``use_ftm=False`` ablation fuses the prior into the decoder by concatenation and a 1x1 conv
  (plain fusion) instead of the modulation; ``use_prior=False`` drops the prior stream entirely
  (a single-stream residual-attention U-Net).

Example:
    >>> import torch
    >>> net = build_dfpgnet(width=8, blocks=1, middle_blocks=1, prior_blocks=1, prior_channels=(4, 8, 8))
    >>> restored, priors = net.forward_with_prior(torch.rand(2, 3, 32, 32))
    >>> restored.shape, [tuple(p.shape) for p in priors]
    (torch.Size([2, 3, 32, 32]), [(2, 4, 32, 32), (2, 8, 16, 16), (2, 8, 8, 8)])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from facedeblur.models.blocks import ResidualGroup, normalize_channels

__all__ = [
    "DFPGnet",
    "DFPGnetConfig",
    "FeatureTransform",
    "SelfModulation",
    "build_dfpgnet",
]

NUM_LEVELS = 3


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _group(channels: int, num_blocks: int, reduction: int) -> ResidualGroup:
    """Residual group of RCAB-like blocks: conv-LReLU-conv + squeeze-excitation, no normalisation."""
    return ResidualGroup(channels, num_blocks, norm="none", act="lrelu", se_reduction=reduction)


@dataclass
class DFPGnetConfig:
    """Architecture options of :class:`DFPGnet` (stored in weights metadata; builder keyword arguments).

    Attributes:
        width: channels of the first level (the paper: 64); levels use width, 2*width, 4*width.
        blocks: residual blocks per encoder/decoder group (the paper: 5).
        middle_blocks: residual blocks of the middle group.
        prior_blocks: residual blocks per prior-stream group (the paper: 10).
        prior_channels: channels of the three estimated prior maps, shallow to deep (those of the
            prior network's chosen feature maps; default: dlib ResNet's level4/level3/level2).
        reduction: squeeze-excitation reduction ratio (the paper: 16).
        use_prior: build the prior-estimation stream (False: ablation without prior).
        use_ftm: fuse the prior with feature transform modules (False: concat + 1x1 conv ablation).
    """

    width: int = 64
    blocks: int = 5
    middle_blocks: int = 5
    prior_blocks: int = 10
    prior_channels: tuple[int, int, int] = (32, 64, 128)
    reduction: int = 16
    use_prior: bool = True
    use_ftm: bool = True

    def __post_init__(self) -> None:
        self.prior_channels = tuple(int(c) for c in self.prior_channels)
        if len(self.prior_channels) != NUM_LEVELS or min(self.prior_channels) < 1:
            raise ValueError(f"prior_channels must be {NUM_LEVELS} positive ints, got {self.prior_channels}")
        counts = {"width": self.width, "blocks": self.blocks, "middle_blocks": self.middle_blocks}
        counts.update(prior_blocks=self.prior_blocks, reduction=self.reduction)
        bad = {k: v for k, v in counts.items() if v < 1}
        if bad:
            raise ValueError(f"DFPGnet options must be >= 1, got {bad}")


def _conv_lrelu_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        _lrelu(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


class FeatureTransform(nn.Module):
    """Feature transform module: ``x * (1 + scale(f)) + shift(f)``.

    ``scale`` and ``shift`` are each conv3x3-LeakyReLU-conv3x3 from the condition's channels to x's.

    Args:
        channels: channels of the modulated features x.
        condition_channels: channels of the condition f (the estimated prior).

    Shape:
        x (B, C, H, W), f (B, Cf, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, condition_channels: int) -> None:
        super().__init__()
        self.scale = _conv_lrelu_conv(condition_channels, channels)
        self.shift = _conv_lrelu_conv(condition_channels, channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale(condition)) + self.shift(condition)


class SelfModulation(FeatureTransform):
    """Feature transform conditioned on its own input: ``x * (1 + scale(x)) + shift(x)``."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, x)


class ConcatFusion(nn.Module):
    """Ablation of :class:`FeatureTransform`: ``x + conv1x1(cat(x, f))``."""

    def __init__(self, channels: int, condition_channels: int) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(channels + condition_channels, channels, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([x, condition], dim=1))


class PriorBranch(nn.Module):
    """One level of the prior-estimation stream: self-modulation, residual group, 1x1 conv head."""

    def __init__(self, channels: int, prior_channels: int, num_blocks: int, reduction: int) -> None:
        super().__init__()
        self.modulate = SelfModulation(channels)
        self.group = _group(channels, num_blocks, reduction)
        self.head = nn.Conv2d(channels, prior_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ReLU: the identity network's maps are post-ReLU, so estimates live in the same (non-negative)
        # domain. Channel normalisation: only the direction of each pixel's feature vector is
        # supervised (the prior loss is scale-invariant), so an unnormalised estimate has a free scale
        # that the adversarial loss blew up in our first runs; unit vectors also keep the FTMs stable.
        return normalize_channels(torch.relu(self.head(self.group(self.modulate(x)))))


class DFPGnet(nn.Module):
    """The DFPGnet generator (see the module docstring for the architecture and the choices).

    Args:
        config: a :class:`DFPGnetConfig`.

    Shape:
        forward: (B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W), not clamped; H and W divisible by 4.
        forward_with_prior: also the list of estimated priors, level ``l`` of shape
        (B, prior_channels[l], H / 2**l, W / 2**l); an empty list when ``use_prior`` is False.
    """

    def __init__(self, config: DFPGnetConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else DFPGnetConfig()
        self.config = config
        self.use_prior = config.use_prior
        self.use_ftm = config.use_ftm
        self.prior_channels = config.prior_channels
        width, reduction = config.width, config.reduction
        chans = [width * 2**level for level in range(NUM_LEVELS)]

        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.encoder = nn.ModuleList(_group(c, config.blocks, reduction) for c in chans)
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), _lrelu())
            for i in range(NUM_LEVELS - 1)
        )
        self.middle = _group(chans[-1], config.middle_blocks, reduction)
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(chans[i + 1], chans[i], 4, stride=2, padding=1), _lrelu())
            for i in range(NUM_LEVELS - 1)
        )
        self.decoder = nn.ModuleList(_group(c, config.blocks, reduction) for c in chans)
        if config.use_prior:
            pairs = list(zip(chans, config.prior_channels, strict=True))
            self.prior = nn.ModuleList(PriorBranch(c, p, config.prior_blocks, reduction) for c, p in pairs)
            fusion = FeatureTransform if config.use_ftm else ConcatFusion
            self.fusion = nn.ModuleList(fusion(c, p) for c, p in pairs)
        self.to_rgb = nn.Conv2d(width, 3, 1)
        # Start as the identity map (restored = lq): the blurry input is a good first guess, and the
        # zero map still receives gradients, which reach the rest of the network from the next step on.
        nn.init.zeros_(self.to_rgb.weight)
        nn.init.zeros_(self.to_rgb.bias)

    def _check_input(self, lq: torch.Tensor) -> None:
        if not isinstance(lq, torch.Tensor) or lq.ndim != 4 or lq.shape[1] != 3:
            shape = tuple(lq.shape) if isinstance(lq, torch.Tensor) else type(lq).__name__
            raise ValueError(f"DFPGnet expects a (B, 3, H, W) RGB batch, got {shape}")
        factor = 2 ** (NUM_LEVELS - 1)
        if lq.shape[2] % factor or lq.shape[3] % factor:
            raise ValueError(f"DFPGnet needs H and W divisible by {factor}, got {tuple(lq.shape[2:])}")

    def forward_with_prior(self, lq: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Restore ``lq`` and return the estimated priors too (for the prior loss and feature D)."""
        return self.forward(lq, return_prior=True)

    def _run(self, lq: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self._check_input(lq)
        head = self.head(lq)
        skips: list[torch.Tensor] = []
        x = head
        for level in range(NUM_LEVELS):
            x = self.encoder[level](x)
            skips.append(x)
            if level < NUM_LEVELS - 1:
                x = self.down[level](x)
        priors = [branch(skip) for branch, skip in zip(self.prior, skips, strict=True)] if self.use_prior else []
        x = self.middle(x)
        for level in reversed(range(NUM_LEVELS)):
            if level < NUM_LEVELS - 1:
                x = self.up[level](x) + skips[level]
            if self.use_prior:
                x = self.fusion[level](x, priors[level])
            x = self.decoder[level](x)
        restored = lq + self.to_rgb(x + head)
        return restored, priors

    def forward(self, lq: torch.Tensor, return_prior: bool = False):
        """Restored faces; with ``return_prior=True`` the pair ``(restored, estimated priors)``.

        Training calls ``model(lq, return_prior=True)`` so that wrappers (DDP, Fabric) see a forward.
        """
        restored, priors = self._run(lq)
        return (restored, priors) if return_prior else restored


def build_dfpgnet(**config: Any) -> DFPGnet:
    """Build :class:`DFPGnet` from keyword arguments of :class:`DFPGnetConfig` (the registry's builder).

    Raises:
        TypeError: an unknown keyword (the message names it).

    Example:
        >>> net = build_dfpgnet(width=8, blocks=1, middle_blocks=1, prior_blocks=1)
        >>> net(torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 3, 16, 16])
    """
    return DFPGnet(DFPGnetConfig(**config))


def dfpgnet_config_dict(model: DFPGnet) -> dict[str, Any]:
    """The builder keyword arguments that rebuild ``model`` (for weights metadata)."""
    out = asdict(model.config)
    out["prior_channels"] = list(out["prior_channels"])
    return out
