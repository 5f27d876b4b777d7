"""Building blocks shared by the restoration networks: convolutions, normalisation, SE attention, residual blocks.

Every block keeps the spatial size (stride 1, "same" padding) unless it says otherwise.

Example:
    >>> import torch
    >>> block = ResidualBlock(16, norm="batch", se_reduction=4)
    >>> block(torch.rand(2, 16, 32, 32)).shape
    torch.Size([2, 16, 32, 32])
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

NormName = Literal["batch", "instance", "none"]
ActName = Literal["relu", "lrelu", "prelu", "none"]


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    """A 3x3 convolution with padding 1 (keeps the size at stride 1)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)


def make_norm(name: NormName, channels: int) -> nn.Module:
    """Normalisation layer by name: ``batch`` (BatchNorm2d), ``instance`` (affine InstanceNorm2d) or ``none``."""
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {name!r}")


def make_activation(name: ActName, negative_slope: float = 0.2) -> nn.Module:
    """Activation by name: ``relu``, ``lrelu`` (LeakyReLU with ``negative_slope``), ``prelu`` or ``none``."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(negative_slope, inplace=True)
    if name == "prelu":
        return nn.PReLU()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"activation must be 'relu', 'lrelu', 'prelu' or 'none', got {name!r}")


class SEAttention(nn.Module):
    """Squeeze-and-excitation channel attention (Hu et al. 2018): rescales each channel by a learned gate.

    Global average pooling -> 1x1 conv (C -> C/r) -> ReLU -> 1x1 conv (C/r -> C) -> sigmoid -> x * gate.

    Args:
        channels: number of input (and output) channels C.
        reduction: bottleneck ratio r; the hidden width is ``max(1, C // r)``.

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)

    Example:
        >>> import torch
        >>> SEAttention(32, reduction=16)(torch.rand(1, 32, 8, 8)).shape
        torch.Size([1, 32, 8, 8])
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels} and {reduction}")
        hidden = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.gate = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.pool(x))


class ResidualBlock(nn.Module):
    """``x + res_scale * body(x)`` with body = conv3x3-norm-act-conv3x3-norm, optionally followed by SE attention.

    Covers the common variants: the ResNet block (``norm="batch", act="relu"``), the EDSR/RCAN-style block
    without normalisation (``norm="none", act="lrelu", se_reduction=16``).

    Args:
        channels: input and output channels.
        norm: normalisation after each conv (``batch``, ``instance`` or ``none``).
        act: activation between the two convs.
        se_reduction: if given, squeeze-excitation channel attention with this reduction on the body output.
        res_scale: factor on the residual branch (e.g. 0.1 stabilises deep stacks without normalisation).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)

    Example:
        >>> import torch
        >>> ResidualBlock(8, norm="none", act="lrelu", se_reduction=4)(torch.rand(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(
        self,
        channels: int,
        norm: NormName = "batch",
        act: ActName = "relu",
        se_reduction: int | None = None,
        res_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        use_bias = norm == "none"
        layers: list[nn.Module] = [
            conv3x3(channels, channels, bias=use_bias),
            make_norm(norm, channels),
            make_activation(act),
            conv3x3(channels, channels, bias=use_bias),
            make_norm(norm, channels),
        ]
        if se_reduction is not None:
            layers.append(SEAttention(channels, se_reduction))
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class ResidualGroup(nn.Module):
    """``n`` residual blocks followed by a 3x3 conv, with a skip over the whole group (RCAN's residual group).

    Args:
        channels: input and output channels.
        n_blocks: number of :class:`ResidualBlock` inside.
        **block_kwargs: forwarded to every :class:`ResidualBlock` (norm, act, se_reduction, res_scale).

    Shape:
        - Input: (B, C, H, W)
        - Output: (B, C, H, W)

    Example:
        >>> import torch
        >>> ResidualGroup(8, 2, norm="none", act="lrelu", se_reduction=4)(torch.rand(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, channels: int, n_blocks: int, **block_kwargs) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        self.blocks = nn.Sequential(*[ResidualBlock(channels, **block_kwargs) for _ in range(n_blocks)])
        self.tail = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.blocks(x))


def normalize_channels(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Divide each pixel's feature vector by its L2 norm over channels (as LPIPS does).

    Args:
        features: feature maps.
        eps: added to the squared norm so all-zero vectors stay zero instead of NaN.

    Returns:
        The normalised maps, same shape.

    Shape:
        (B, C, H, W) -> (B, C, H, W).

    Example:
        >>> x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
        >>> normalize_channels(x).flatten().tolist()
        [0.6000000238418579, 0.800000011920929]
    """
    if features.ndim != 4:
        raise ValueError(f"expected (B, C, H, W) feature maps, got shape {tuple(features.shape)}")
    return features * torch.rsqrt(features.pow(2).sum(dim=1, keepdim=True) + eps)
