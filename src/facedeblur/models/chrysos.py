"""Chrysos & Zafeiriou's face-deblurring network (Deep Face Deblurring, CVPRW 2017).

A ResNet with every pooling removed, so all features stay at the face's full resolution. The outputs
of the residual blocks are tapped by skip connections, each batch-normalised, concatenated and mapped
to the image by a learned linear map (a 1x1 convolution). Trained with the Huber loss
(:func:`facedeblur.losses.huber_loss`).

Choices the paper leaves open, made here:
    - the 1x1 map predicts a correction added to the blurry input (global residual, ``residual=True``);
      with ``residual=False`` it predicts the image itself, as in the paper's figure. The residual form
      trains much faster from scratch and does not change what the network can express.
    - a skip is taken every ``skip_every`` blocks (and always from the last block).
    - residual blocks are the ResNet basic block (conv-BN-ReLU-conv-BN + identity).

Example:
    >>> import torch
    >>> net = build_chrysos(width=8, blocks=2)
    >>> net(torch.rand(1, 3, 32, 32)).shape
    torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from facedeblur.models.blocks import ResidualBlock, conv3x3


@dataclass
class ChrysosConfig:
    """Architecture options of :class:`ChrysosNet` (stored in weights metadata; builder keyword arguments).

    Attributes:
        width: channels of every block.
        blocks: number of residual blocks.
        skip_every: take a batch-normalised skip from every ``skip_every``-th block (the last always counts).
        residual: add the network's output to the blurry input (global residual).
    """

    width: int = 48
    blocks: int = 8
    skip_every: int = 1
    residual: bool = True

    def __post_init__(self) -> None:
        if self.width < 1 or self.blocks < 1 or self.skip_every < 1:
            raise ValueError(
                f"width, blocks and skip_every must be >= 1, got {self.width}, {self.blocks}, {self.skip_every}"
            )


class ChrysosNet(nn.Module):
    """Pooling-free ResNet with batch-normalised skips to the output and a learned linear map to RGB.

    Args:
        config: a :class:`ChrysosConfig`.

    Shape:
        - Input: (B, 3, H, W) RGB in [0, 1], any H, W (fully convolutional; trained at 128x128).
        - Output: (B, 3, H, W) restored RGB, not clamped.
    """

    def __init__(self, config: ChrysosConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.head = nn.Sequential(conv3x3(3, w), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList([ResidualBlock(w, norm="batch", act="relu") for _ in range(config.blocks)])
        self.skip_ids = [i for i in range(config.blocks) if (i + 1) % config.skip_every == 0 or i == config.blocks - 1]
        self.skip_norms = nn.ModuleList([nn.BatchNorm2d(w) for _ in self.skip_ids])
        self.to_image = nn.Conv2d(w * len(self.skip_ids), 3, kernel_size=1)
        if config.residual:  # start as the identity map: the blurry input is a good first guess
            nn.init.zeros_(self.to_image.weight)
        nn.init.zeros_(self.to_image.bias)

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        if lq.ndim != 4 or lq.shape[1] != 3:
            raise ValueError(f"ChrysosNet expects (B, 3, H, W) RGB, got shape {tuple(lq.shape)}")
        x = self.head(lq)
        skips = []
        norms = iter(self.skip_norms)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.skip_ids:
                skips.append(next(norms)(x))
        out = self.to_image(torch.cat(skips, dim=1))
        return lq + out if self.config.residual else out


def build_chrysos(**config) -> ChrysosNet:
    """Build :class:`ChrysosNet` from keyword arguments of :class:`ChrysosConfig` (the registry's builder).

    Raises:
        TypeError: an unknown keyword (the message names it).

    Example:
        >>> build_chrysos(width=8, blocks=3, skip_every=2).skip_ids
        [1, 2]
    """
    return ChrysosNet(ChrysosConfig(**config))


def chrysos_config_dict(model: ChrysosNet) -> dict:
    """The builder keyword arguments that rebuild ``model`` (for weights metadata)."""
    return asdict(model.config)
