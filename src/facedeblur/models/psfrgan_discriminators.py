"""PSFR-GAN's discriminators: multi-scale PatchGANs conditioned on the parsing map.

Three PatchGAN discriminators (pix2pixHD style) look at the image concatenated with its one-hot
parsing map at full, half and quarter resolution. Every conv carries spectral normalisation, the
inner ones are followed by instance normalisation. Each discriminator returns the outputs of all
its stages: the last one is the patch score map (for the hinge loss), the others feed the
feature-matching loss.

Example:
    >>> import torch
    >>> d = build_psfrgan_discriminator(num_classes=10, base_channels=8, num_layers=2)
    >>> outs = d(torch.rand(2, 3, 64, 64), torch.rand(2, 10, 64, 64))
    >>> len(outs), len(outs[0]), outs[0][-1].shape[1]
    (3, 4, 1)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from facedeblur.models.parsenet import NUM_PARSING_CLASSES


class PatchDiscriminator(nn.Module):
    """One PatchGAN: ``num_layers`` stride-2 4x4 convs, a stride-1 conv, then a 1-channel score conv.

    Args:
        in_channels: input channels (3 image + parsing classes).
        base_channels: channels of the first conv, doubled per layer up to 512.
        num_layers: stride-2 convs (3 = 70x70 receptive field).

    Shape:
        - Input: ``(B, in_channels, H, W)``.
        - Output: list of ``num_layers + 2`` feature maps; the last is ``(B, 1, h, w)`` scores.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1 or base_channels < 1:
            raise ValueError(f"need num_layers >= 1 and base_channels >= 1, got {num_layers}, {base_channels}")

        def conv(c_in: int, c_out: int, stride: int) -> nn.Module:
            return spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=stride, padding=1))

        stages: list[nn.Module] = [nn.Sequential(conv(in_channels, base_channels, 2), nn.LeakyReLU(0.2, True))]
        ch = base_channels
        for i in range(1, num_layers + 1):
            c_out = min(base_channels * 2**i, 512)
            stride = 2 if i < num_layers else 1
            stages.append(
                nn.Sequential(conv(ch, c_out, stride), nn.InstanceNorm2d(c_out, affine=False), nn.LeakyReLU(0.2, True))
            )
            ch = c_out
        stages.append(conv(ch, 1, 1))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs on the (image, parsing) pair, each at half the previous resolution.

    Args:
        num_classes: parsing classes of the one-hot condition.
        num_scales: number of discriminators (3 in the paper).
        base_channels: first-layer channels of each PatchGAN.
        num_layers: stride-2 convs of each PatchGAN.

    Shape:
        - image: ``(B, 3, S, S)`` in [0, 1]; parsing: ``(B, num_classes, S, S)``.
        - Output: ``num_scales`` lists of feature maps (see :class:`PatchDiscriminator`).
    """

    def __init__(
        self, num_classes: int = NUM_PARSING_CLASSES, num_scales: int = 3, base_channels: int = 64, num_layers: int = 3
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        self.num_classes = num_classes
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(3 + num_classes, base_channels, num_layers) for _ in range(num_scales)
        )

    def forward(self, image: Tensor, parsing: Tensor) -> list[list[Tensor]]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image: expected (B,3,H,W), got {tuple(image.shape)}")
        if parsing.shape != (image.shape[0], self.num_classes, *image.shape[-2:]):
            raise ValueError(
                f"parsing: expected {(image.shape[0], self.num_classes, *image.shape[-2:])}, got {tuple(parsing.shape)}"
            )
        x = torch.cat([image * 2 - 1, parsing.to(image.dtype)], dim=1)
        outs = []
        for i, disc in enumerate(self.discriminators):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(disc(x))
        return outs


def build_psfrgan_discriminator(
    num_classes: int = NUM_PARSING_CLASSES, num_scales: int = 3, base_channels: int = 64, num_layers: int = 3
) -> MultiScaleDiscriminator:
    """Build the :class:`MultiScaleDiscriminator` (arguments as in the class)."""
    return MultiScaleDiscriminator(num_classes, num_scales, base_channels, num_layers)
