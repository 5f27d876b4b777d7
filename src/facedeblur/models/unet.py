"""A multi-scale restoration U-Net built for CPUs: the default face restorer's architecture family.

Four levels (128, 64, 32, 16 px for a 128 px face, or 64..8 px after a space-to-depth stem) so the
bottleneck's receptive field covers the whole face, whatever the blur's size; additive skips
(cheaper than concatenation); a global residual (the network predicts the correction to its input);
two block kinds so the search in ``docs/default-model-search.md`` can compare them at equal CPU time:

- ``res``: dense 3x3 conv -> LeakyReLU -> 3x3 conv + skip. Dense convolutions gain 2-2.5x from bf16
  autocast + channels_last on AVX-512-bf16 CPUs.
- ``naf``: NAFNet's block (Chen et al. 2022): LayerNorm, 1x1 expand, depthwise 3x3, SimpleGate,
  simplified channel attention, 1x1; then a gated 1x1 feed-forward. Fewer FLOPs, but depthwise and
  pointwise convolutions gain only ~1.3x from the same switches.

``stem="unshuffle"`` folds 2x2 pixels into channels first (PixelUnshuffle) and unfolds them at the end,
so no convolution runs at the full 128 px: about 4x fewer multiply-adds at the first level.

Example:
    >>> import torch
    >>> net = build_unet(width=8, enc_blocks=[1, 1, 1], middle_blocks=1, dec_blocks=[1, 1, 1])
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

BlockName = Literal["res", "naf"]
StemName = Literal["conv", "unshuffle"]


@dataclass
class UNetConfig:
    """Architecture of :class:`RestorationUNet`.

    Attributes:
        width: channels at the first level; each lower level doubles them.
        enc_blocks: blocks per encoder level (its length + 1 is the number of levels).
        middle_blocks: blocks at the lowest level.
        dec_blocks: blocks per decoder level, same length as ``enc_blocks``.
        block: ``res`` (dense convs) or ``naf`` (NAFNet's depthwise/pointwise block).
        stem: ``conv`` (first level at full resolution) or ``unshuffle`` (2x2 space-to-depth first).
        in_channels: input channels the network sees (3 for RGB; more when a caller concatenates
            extra maps, e.g. a deconvolved estimate); the global residual adds the first 3.
    """

    width: int = 32
    enc_blocks: list[int] = field(default_factory=lambda: [1, 1, 2])
    middle_blocks: int = 2
    dec_blocks: list[int] = field(default_factory=lambda: [1, 1, 1])
    block: BlockName = "res"
    stem: StemName = "conv"
    in_channels: int = 3

    def __post_init__(self) -> None:
        if self.width < 1 or self.middle_blocks < 0 or self.in_channels < 3:
            raise ValueError("width must be >= 1, middle_blocks >= 0 and in_channels >= 3")
        if len(self.enc_blocks) != len(self.dec_blocks) or not self.enc_blocks:
            raise ValueError(
                f"enc_blocks and dec_blocks must be non-empty and of equal length, got {self.enc_blocks} "
                f"and {self.dec_blocks}"
            )
        if any(n < 0 for n in self.enc_blocks + self.dec_blocks):
            raise ValueError("block counts must be >= 0")
        if self.block not in ("res", "naf"):
            raise ValueError(f"block must be 'res' or 'naf', got {self.block!r}")
        if self.stem not in ("conv", "unshuffle"):
            raise ValueError(f"stem must be 'conv' or 'unshuffle', got {self.stem!r}")

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (2 per level, times 2 for the unshuffle stem)."""
        return 2 ** len(self.enc_blocks) * (2 if self.stem == "unshuffle" else 1)


class ResBlock(nn.Module):
    """Dense residual block: conv3x3 -> LeakyReLU(0.2) -> conv3x3, plus the input.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity: stable deep training
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel (NAFNet's normalisation).

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class NAFBlock(nn.Module):
    """NAFNet's block (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022).

    Spatial part: LayerNorm -> 1x1 (C -> 2C) -> depthwise 3x3 -> SimpleGate (C) -> channel attention
    -> 1x1; feed-forward part: LayerNorm -> 1x1 (C -> 2C) -> SimpleGate -> 1x1. Each part is added
    back scaled by a learned per-channel factor that starts at zero.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.norm1 = LayerNorm2d(c)
        self.expand = nn.Conv2d(c, 2 * c, 1)
        self.depthwise = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.project = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.ffn_in = nn.Conv2d(c, 2 * c, 1)
        self.ffn_out = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    @staticmethod
    def _gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._gate(self.depthwise(self.expand(self.norm1(x))))
        y = self.project(y * self.attention(y))
        x = x + self.beta * y
        y = self.ffn_out(self._gate(self.ffn_in(self.norm2(x))))
        return x + self.gamma * y


BLOCKS: dict[str, type[nn.Module]] = {"res": ResBlock, "naf": NAFBlock}


def _stage(block: str, channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[BLOCKS[block](channels) for _ in range(count)])


class RestorationUNet(nn.Module):
    """The multi-scale restoration U-Net (see the module docstring).

    Args:
        config: a :class:`UNetConfig`.

    Shape:
        - Input: (B, in_channels, H, W), RGB in [0, 1] first; H and W multiples of ``config.multiple``
          are fastest, other sizes are reflect-padded and cropped back.
        - Output: (B, 3, H, W) restored RGB (input RGB + predicted correction), not clamped.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        fold = 4 if config.stem == "unshuffle" else 1
        self.unshuffle = nn.PixelUnshuffle(2) if fold > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(2) if fold > 1 else nn.Identity()
        self.intro = nn.Conv2d(config.in_channels * fold, w, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        channels = w
        for count in config.enc_blocks:
            self.encoders.append(_stage(config.block, channels, count))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle = _stage(config.block, channels, config.middle_blocks)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for count in reversed(config.dec_blocks):
            self.ups.append(nn.Sequential(nn.Conv2d(channels, 2 * channels, 1, bias=False), nn.PixelShuffle(2)))
            channels //= 2
            self.decoders.append(_stage(config.block, channels, count))
        self.ending = nn.Conv2d(w, 3 * fold, 3, padding=1)
        nn.init.zeros_(self.ending.weight)  # starts as the identity map: the input is a good first guess
        nn.init.zeros_(self.ending.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"RestorationUNet expects (B, {self.config.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        m = self.config.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            x = nn.functional.pad(
                x, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
            )
        y = self.intro(self.unshuffle(x))
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.middle(y)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            y = decoder(up(y) + skip)
        out = x[:, :3] + self.shuffle(self.ending(y))
        return out[..., :h, :w]


def build_unet(**config) -> RestorationUNet:
    """Build :class:`RestorationUNet` from :class:`UNetConfig` keyword arguments (the registry's builder).

    Raises:
        TypeError: an unknown keyword (the message names it).

    Example:
        >>> build_unet(width=8, enc_blocks=[1, 1], middle_blocks=1, dec_blocks=[1, 1], stem="unshuffle").config.multiple
        8
    """
    return RestorationUNet(UNetConfig(**config))


def unet_config_dict(model: RestorationUNet) -> dict:
    """The builder keyword arguments that rebuild ``model`` (for weights metadata)."""
    return asdict(model.config)
