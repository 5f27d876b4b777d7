"""DFPGnet's discriminators: a PatchGAN image discriminator and the channel-attention feature discriminator.

The feature discriminator tells the prior network's true feature maps (computed on the sharp face)
from the generator's estimated ones. It sees the three prior levels (shallow, fine maps to deep,
coarse maps); each level first passes through squeeze-excitation channel attention over the prior's
own channels, so the discriminator learns which prior channels separate true from estimated
features and its gradient pushes the generator towards those channels. Levels are merged
coarse-ward: the running features are downsampled by a 4x4 stride-2 conv and concatenated with the
next level's (attended) map.

Both use spectral normalisation on every conv (a standard GAN stabiliser; the paper is silent).

Example:
    >>> import torch
    >>> d = FeatureDiscriminator(prior_channels=(4, 8, 8), width=8)
    >>> feats = [torch.rand(2, 4, 32, 32), torch.rand(2, 8, 16, 16), torch.rand(2, 8, 8, 8)]
    >>> d(feats).shape
    torch.Size([2, 1, 4, 4])
    >>> ImageDiscriminator(width=8)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 1, 4, 4])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from facedeblur.models.blocks import SEAttention

__all__ = ["FeatureDiscriminator", "ImageDiscriminator"]


def _sn_conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Module:
    padding = 1 if kernel in (3, 4) else kernel // 2
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding))


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class ImageDiscriminator(nn.Module):
    """PatchGAN on RGB images: three 4x4 stride-2 convs (width, 2w, 4w), a 3x3 conv (8w), a 3x3 conv to 1.

    Args:
        width: channels of the first conv.
        in_channels: image channels (3).

    Shape:
        (B, in_channels, H, W) -> (B, 1, H / 8, W / 8) raw logits; H and W divisible by 8.
    """

    def __init__(self, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.in_channels = in_channels
        self.net = nn.Sequential(
            _sn_conv(in_channels, width, 4, 2),
            _lrelu(),
            _sn_conv(width, width * 2, 4, 2),
            _lrelu(),
            _sn_conv(width * 2, width * 4, 4, 2),
            _lrelu(),
            _sn_conv(width * 4, width * 8, 3),
            _lrelu(),
            _sn_conv(width * 8, 1, 3),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"ImageDiscriminator expects (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        if image.shape[2] % 8 or image.shape[3] % 8:
            raise ValueError(f"ImageDiscriminator needs H and W divisible by 8, got {tuple(image.shape[2:])}")
        return self.net(image)


class FeatureDiscriminator(nn.Module):
    """Channel-attention feature discriminator over the three prior levels.

    Args:
        prior_channels: channels of the three prior maps, shallow to deep.
        width: channels of the first level's features (2x and 4x at the deeper levels).
        reduction: squeeze-excitation reduction ratio of the channel attention on the prior maps.

    Shape:
        features: list of 3 tensors, level ``l`` (B, prior_channels[l], H / 2**l, W / 2**l)
        -> (B, 1, H / 8, W / 8) raw logits; H and W divisible by 8.
    """

    def __init__(self, prior_channels: Sequence[int] = (32, 64, 128), width: int = 64, reduction: int = 16) -> None:
        super().__init__()
        prior_channels = tuple(int(c) for c in prior_channels)
        if len(prior_channels) != 3 or min(prior_channels) < 1 or width < 1:
            raise ValueError(f"expected 3 positive prior channel counts and width >= 1, got {prior_channels}, {width}")
        self.prior_channels = prior_channels
        chans = [width, width * 2, width * 4]
        self.attention = nn.ModuleList(SEAttention(c, reduction) for c in prior_channels)
        self.embed = nn.ModuleList(
            nn.Sequential(_sn_conv(p, c, 3), _lrelu()) for p, c in zip(prior_channels, chans, strict=True)
        )
        # level l > 0: merge downsampled running features (chans[l-1] -> chans[l]) with the embedded level.
        self.down = nn.ModuleList(nn.Sequential(_sn_conv(chans[i], chans[i + 1], 4, 2), _lrelu()) for i in range(2))
        self.merge = nn.ModuleList(
            nn.Sequential(_sn_conv(2 * chans[i + 1], chans[i + 1], 3), _lrelu()) for i in range(2)
        )
        self.out = nn.Sequential(_sn_conv(chans[2], chans[2], 4, 2), _lrelu(), _sn_conv(chans[2], 1, 3))

    def channel_attention(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per-level channel attention weights (B, C_l, 1, 1) in (0, 1) for the given prior maps."""
        return [att.gate(att.pool(f)) for att, f in zip(self.attention, features, strict=True)]

    def _check(self, features: Sequence[torch.Tensor]) -> None:
        if len(features) != 3:
            raise ValueError(f"FeatureDiscriminator expects 3 prior maps, got {len(features)}")
        for level, (f, c) in enumerate(zip(features, self.prior_channels, strict=True)):
            if f.ndim != 4 or f.shape[1] != c:
                raise ValueError(f"prior level {level}: expected (B, {c}, H, W), got {tuple(f.shape)}")
        h, w = features[0].shape[2:]
        for level, f in enumerate(features):
            if tuple(f.shape[2:]) != (h >> level, w >> level):
                raise ValueError(
                    f"prior level {level}: expected spatial size {(h >> level, w >> level)}, got {tuple(f.shape[2:])}"
                )
        if h % 8 or w % 8:
            raise ValueError(f"FeatureDiscriminator needs the finest map's H and W divisible by 8, got {(h, w)}")

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        self._check(features)
        x = self.embed[0](self.attention[0](features[0]))
        for level in (1, 2):
            y = self.embed[level](self.attention[level](features[level]))
            x = self.merge[level - 1](torch.cat([self.down[level - 1](x), y], dim=1))
        return self.out(x)
