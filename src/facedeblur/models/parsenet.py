"""ParseNet: a face-parsing network that reads degraded faces (PSFR-GAN, Chen et al. CVPR 2021).

A residual encoder brings the face down to ``min_feat_size`` (32 px in the paper), a residual body
works at that scale, a residual decoder brings it back up, and two heads read the decoder output:
one predicts the parsing logits (one channel per class of
:data:`facedeblur.face.parsing.PARSING_CLASSES`, 10 here instead of the paper's 19 CelebAMask-HQ
classes), the other an image (trained with L1 against the sharp face). It is trained on degraded
faces against labels made on the sharp originals, so it parses blurry, noisy, compressed input.

:meth:`ParseNet.forward` returns the image head, so the network honours the contract of every
model in :mod:`facedeblur.models.registry` (``(B,3,S,S)`` in, ``(B,3,S,S)`` out);
:meth:`ParseNet.parse` returns the parsing logits and :meth:`ParseNet.forward_both` both.

Example:
    >>> import torch
    >>> net = build_parsenet(size=64, base_channels=8, min_channels=8, max_channels=16, num_body_blocks=1)
    >>> logits, image = net.forward_both(torch.rand(2, 3, 64, 64))
    >>> tuple(logits.shape), tuple(image.shape)
    ((2, 10, 64, 64), (2, 3, 64, 64))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NUM_PARSING_CLASSES = 10  # len(facedeblur.face.parsing.PARSING_CLASSES); checked in the tests


def _check_face_batch(x: Tensor, size: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected a (B,3,H,W) RGB batch, got shape {tuple(x.shape)}")
    if x.shape[-2:] != (size, size):
        raise ValueError(f"{name}: expected {size}x{size} faces, got {x.shape[-2]}x{x.shape[-1]}")


def _check_square_batch(x: Tensor, name: str) -> int:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] != x.shape[-2] or x.shape[-1] < 8:
        raise ValueError(f"{name}: expected a (B,3,S,S) RGB batch of square faces, S >= 8, got {tuple(x.shape)}")
    return int(x.shape[-1])


class ConvLayer(nn.Module):
    """Reflection-padded 3x3 conv with optional x2 down/upsampling, then norm and activation.

    Args:
        c_in: input channels.
        c_out: output channels.
        scale: ``"down"`` (stride-2 conv), ``"up"`` (nearest x2 then conv) or ``"none"``.
        norm: ``"bn"`` (batch norm) or ``"none"``.
        act: ``"lrelu"`` (LeakyReLU 0.2) or ``"none"``.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        scale: Literal["down", "up", "none"] = "none",
        norm: Literal["bn", "none"] = "none",
        act: Literal["lrelu", "none"] = "none",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if scale == "up":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3, stride=2 if scale == "down" else 1)]
        if norm == "bn":
            layers.append(nn.BatchNorm2d(c_out))
        if act == "lrelu":
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """Two conv layers plus a shortcut (a conv when channels or scale change), as in PSFR-GAN."""

    def __init__(self, c_in: int, c_out: int, scale: Literal["down", "up", "none"] = "none") -> None:
        super().__init__()
        first, second = {"down": ("none", "down"), "up": ("up", "none"), "none": ("none", "none")}[scale]
        self.shortcut = nn.Identity() if scale == "none" and c_in == c_out else ConvLayer(c_in, c_out, scale)
        self.conv1 = ConvLayer(c_in, c_out, first, norm="bn", act="lrelu")
        self.conv2 = ConvLayer(c_out, c_out, second, norm="bn")

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv2(self.conv1(x))


class ParseNet(nn.Module):
    """Residual encoder-body-decoder with a parsing head and an image head.

    Args:
        size: side of the square input faces (128 for our data).
        num_classes: parsing classes (10 = :data:`facedeblur.face.parsing.PARSING_CLASSES`).
        base_channels: channels at full resolution; doubled at every downsampling.
        min_channels: lower clip of the channel count.
        max_channels: upper clip of the channel count.
        min_feat_size: side of the body's feature maps (32 in the paper).
        num_body_blocks: residual blocks in the body (10 in the paper).

    Shape:
        - Input: ``(B, 3, S, S)`` RGB in [0, 1]; run at ``size`` x ``size`` (resized when S differs).
        - :meth:`parse`: ``(B, num_classes, S, S)`` logits.
        - :meth:`forward`: ``(B, 3, S, S)`` image, not clamped.
    """

    def __init__(
        self,
        size: int = 128,
        num_classes: int = NUM_PARSING_CLASSES,
        base_channels: int = 64,
        min_channels: int = 32,
        max_channels: int = 256,
        min_feat_size: int = 32,
        num_body_blocks: int = 10,
    ) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        if min_feat_size < 4 or min_feat_size > size or min_feat_size & (min_feat_size - 1):
            raise ValueError(f"min_feat_size must be a power of two in [4, size={size}], got {min_feat_size}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not 1 <= min_channels <= max_channels or base_channels < 1:
            raise ValueError(
                f"need 1 <= min_channels <= max_channels and base_channels >= 1, got "
                f"{min_channels}, {max_channels}, {base_channels}"
            )
        if num_body_blocks < 0:
            raise ValueError(f"num_body_blocks must be >= 0, got {num_body_blocks}")
        self.size = size
        self.num_classes = num_classes

        def clip(ch: int) -> int:
            return max(min_channels, min(ch, max_channels))

        steps = int(math.log2(size // min_feat_size))
        ch = base_channels
        encoder: list[nn.Module] = [ConvLayer(3, clip(ch), norm="bn", act="lrelu")]
        for _ in range(steps):
            encoder.append(ResidualBlock(clip(ch), clip(ch * 2), scale="down"))
            ch *= 2
        self.encoder = nn.Sequential(*encoder)
        self.body = nn.Sequential(*[ResidualBlock(clip(ch), clip(ch)) for _ in range(num_body_blocks)])
        decoder: list[nn.Module] = []
        for _ in range(steps):
            decoder.append(ResidualBlock(clip(ch), clip(ch // 2), scale="up"))
            ch //= 2
        self.decoder = nn.Sequential(*decoder)
        self.image_head = ConvLayer(clip(ch), 3)
        self.parse_head = ConvLayer(clip(ch), num_classes)

    def forward_both(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(parsing logits (B,C,H,H), image (B,3,H,H))`` for square faces ``x`` in [0, 1].

        Faces of another side than ``size`` are resized to ``size`` (bilinear, anti-aliased), and both
        outputs are resized back to the input's side (bilinear), so a network that parses at 64 px
        serves 128 px faces.
        """
        side = _check_square_batch(x, "ParseNet input")
        if side != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=side > self.size)
        feat = self.encoder(x * 2 - 1)
        feat = self.decoder(feat + self.body(feat))
        logits, image = self.parse_head(feat), (self.image_head(feat) + 1) / 2
        if side != self.size:
            logits = F.interpolate(logits, size=(side, side), mode="bilinear", align_corners=False)
            image = F.interpolate(image, size=(side, side), mode="bilinear", align_corners=False)
        return logits, image

    def parse(self, x: Tensor) -> Tensor:
        """Return the parsing logits ``(B, num_classes, S, S)``."""
        return self.forward_both(x)[0]

    def forward(self, x: Tensor, with_parsing: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Return the image head ``(B, 3, S, S)`` (the restoration-model contract).

        With ``with_parsing=True`` return :meth:`forward_both`'s ``(logits, image)`` instead (training
        calls the module this way so that wrappers such as DDP see a forward call).
        """
        logits, image = self.forward_both(x)
        return (logits, image) if with_parsing else image


@dataclass
class ParseNetConfig:
    """Typed form of :func:`build_parsenet`'s arguments (for recipes); fields as in :class:`ParseNet`."""

    size: int = 128
    num_classes: int = NUM_PARSING_CLASSES
    base_channels: int = 64
    min_channels: int = 32
    max_channels: int = 256
    min_feat_size: int = 32
    num_body_blocks: int = 10


def build_parsenet(
    size: int = 128,
    num_classes: int = NUM_PARSING_CLASSES,
    base_channels: int = 64,
    min_channels: int = 32,
    max_channels: int = 256,
    min_feat_size: int = 32,
    num_body_blocks: int = 10,
) -> ParseNet:
    """Build a :class:`ParseNet` (registry builder; arguments as in the class)."""
    return ParseNet(
        size=size,
        num_classes=num_classes,
        base_channels=base_channels,
        min_channels=min_channels,
        max_channels=max_channels,
        min_feat_size=min_feat_size,
        num_body_blocks=num_body_blocks,
    )


def labels_to_onehot(labels: Tensor, num_classes: int) -> Tensor:
    """One-hot maps from integer label maps (these masks partition the image: they sum to 1).

    Args:
        labels: ``(B, H, W)`` integer labels in ``[0, num_classes)``.
        num_classes: number of classes C.

    Returns:
        ``(B, C, H, W)`` float tensor of zeros and ones.

    Example:
        >>> labels_to_onehot(torch.tensor([[[0, 2]]]), 3)[0, :, 0, 1].tolist()
        [0.0, 0.0, 1.0]
    """
    if labels.ndim != 3 or labels.is_floating_point():
        raise ValueError(f"labels: expected (B,H,W) integer labels, got {tuple(labels.shape)} {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels: values must lie in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}]"
        )
    return torch.nn.functional.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()


def logits_to_onehot(logits: Tensor) -> Tensor:
    """Hard one-hot maps ``(B, C, H, W)`` from parsing logits (argmax per pixel)."""
    if logits.ndim != 4:
        raise ValueError(f"logits: expected (B,C,H,W), got {tuple(logits.shape)}")
    return labels_to_onehot(logits.argmax(dim=1), logits.shape[1])
