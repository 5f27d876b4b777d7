"""PSFR-GAN generator: progressive semantic-aware style transformation (Chen et al., CVPR 2021).

The generator starts from a learned constant tensor of side ``min_feat_size`` (16 in the paper at
512 px; 8 for our 128 px faces) and upsamples it x2 until it reaches ``size``. At every scale the
features are conditioned on the degraded face and its parsing map (one-hot), both resized to that
scale, through a *semantic-aware style transformation*: parameter-free instance normalisation,
then a per-pixel scale and shift predicted from the condition by a small conv net (SPADE-like).
Channels shrink as the resolution grows (``base_channels * size / side``, clipped), and the
generator's main convolutions carry spectral normalisation.

:class:`PSFRGAN` bundles the generator with the :class:`~facedeblur.models.parsenet.ParseNet` it
was trained with, so one weights file restores faces on its own: ``forward(lq)`` parses the
degraded face, then runs the generator. Training uses :attr:`PSFRGAN.generator` and
:meth:`PSFRGAN.parse` separately (the parsing network stays frozen).

Choices where the paper is silent or our setting differs (said here, as the house asks):
the scale is applied as ``1 + gamma`` (the SPADE convention, identity at initialisation, which
trains faster on short CPU runs); the condition is resized by average pooling (an anti-aliased
downscale that keeps one-hot maps summing to 1); images enter the networks scaled to [-1, 1].

Example:
    >>> import torch
    >>> tiny_parsenet = {"size": 32, "base_channels": 4, "min_channels": 4, "max_channels": 8,
    ...                  "min_feat_size": 16, "num_body_blocks": 1}
    >>> model = build_psfrgan(size=32, min_feat_size=8, base_channels=4, min_channels=4, max_channels=16,
    ...                       style_hidden=8, parsenet=tiny_parsenet)
    >>> tuple(model(torch.rand(2, 3, 32, 32)).shape)
    (2, 3, 32, 32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from facedeblur.models.parsenet import (
    NUM_PARSING_CLASSES,
    ParseNet,
    _check_face_batch,
    build_parsenet,
    logits_to_onehot,
)


def _sn_conv(c_in: int, c_out: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))


def resize_condition(cond: Tensor, side: int) -> Tensor:
    """Downscale a condition tensor (image + one-hot parsing) to ``side`` by average pooling.

    Args:
        cond: ``(B, C, H, H)`` with ``H`` a multiple of ``side``.
        side: target side.

    Returns:
        ``(B, C, side, side)``; one-hot channels become soft region fractions that still sum to 1.
    """
    h = cond.shape[-1]
    if h == side:
        return cond
    if h % side:
        raise ValueError(f"condition side {h} is not a multiple of {side}")
    return F.avg_pool2d(cond, kernel_size=h // side)


class SemanticStyleNorm(nn.Module):
    """Instance norm, then per-pixel ``1 + gamma`` and ``beta`` predicted from the condition.

    Args:
        channels: channels of the normalised features.
        cond_channels: channels of the condition (3 image + parsing classes).
        hidden: channels of the shared conv that reads the condition (64 in the paper).

    Shape:
        - x: ``(B, channels, H, W)``; cond: ``(B, cond_channels, H, W)``; output like x.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        act = self.shared(cond)
        return self.norm(x) * (1 + self.gamma(act)) + self.beta(act)


class StyleResBlock(nn.Module):
    """SPADE residual block: (style norm, LeakyReLU, spectral-norm conv) x 2 plus a shortcut."""

    def __init__(self, c_in: int, c_out: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        c_mid = min(c_in, c_out)
        self.norm0 = SemanticStyleNorm(c_in, cond_channels, hidden)
        self.conv0 = _sn_conv(c_in, c_mid)
        self.norm1 = SemanticStyleNorm(c_mid, cond_channels, hidden)
        self.conv1 = _sn_conv(c_mid, c_out)
        self.shortcut = None if c_in == c_out else spectral_norm(nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        dx = self.conv0(F.leaky_relu(self.norm0(x, cond), 0.2))
        dx = self.conv1(F.leaky_relu(self.norm1(dx, cond), 0.2))
        return (x if self.shortcut is None else self.shortcut(x)) + dx


class UpStage(nn.Module):
    """Nearest x2 upsampling, a spectral-norm conv, then a :class:`StyleResBlock`."""

    def __init__(self, c_in: int, c_out: int, cond_channels: int, hidden: int) -> None:
        super().__init__()
        self.conv = _sn_conv(c_in, c_out)
        self.block = StyleResBlock(c_out, c_out, cond_channels, hidden)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        return self.block(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")), cond)


class PSFRGenerator(nn.Module):
    """Progressive generator conditioned on the degraded face and its parsing map at every scale.

    Args:
        size: output side (128 for our data, 512 in the paper).
        num_classes: parsing classes of the one-hot condition.
        min_feat_size: side of the learned constant start tensor (power of two, <= size).
        base_channels: channels at full resolution; a side ``s`` gets ``base_channels * size / s``.
        min_channels: lower clip of the channel count.
        max_channels: upper clip of the channel count.
        style_hidden: hidden channels of every :class:`SemanticStyleNorm`.

    Shape:
        - lq: ``(B, 3, size, size)`` RGB in [0, 1]; parsing: ``(B, num_classes, size, size)`` one-hot.
        - Output: ``(B, 3, size, size)``, not clamped.
    """

    def __init__(
        self,
        size: int = 128,
        num_classes: int = NUM_PARSING_CLASSES,
        min_feat_size: int = 8,
        base_channels: int = 32,
        min_channels: int = 32,
        max_channels: int = 512,
        style_hidden: int = 64,
    ) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        if min_feat_size < 2 or min_feat_size > size or min_feat_size & (min_feat_size - 1):
            raise ValueError(f"min_feat_size must be a power of two in [2, size={size}], got {min_feat_size}")
        if not 1 <= min_channels <= max_channels or base_channels < 1 or style_hidden < 1:
            raise ValueError(
                "need 1 <= min_channels <= max_channels, base_channels >= 1 and style_hidden >= 1, got "
                f"{min_channels}, {max_channels}, {base_channels}, {style_hidden}"
            )
        self.size = size
        self.num_classes = num_classes
        self.sides = [min_feat_size * 2**i for i in range(int(math.log2(size // min_feat_size)) + 1)]
        cond_ch = 3 + num_classes

        def channels(side: int) -> int:
            return max(min_channels, min(base_channels * size // side, max_channels))

        c0 = channels(min_feat_size)
        self.const_input = nn.Parameter(torch.randn(1, c0, min_feat_size, min_feat_size))
        self.head_conv = _sn_conv(c0, c0)
        self.head_block = StyleResBlock(c0, c0, cond_ch, style_hidden)
        self.stages = nn.ModuleList(
            UpStage(channels(side // 2), channels(side), cond_ch, style_hidden) for side in self.sides[1:]
        )
        self.to_rgb = nn.Conv2d(channels(size), 3, 3, padding=1)

    def forward(self, lq: Tensor, parsing: Tensor) -> Tensor:
        _check_face_batch(lq, self.size, "PSFRGenerator lq")
        if parsing.shape != (lq.shape[0], self.num_classes, self.size, self.size):
            raise ValueError(
                f"PSFRGenerator parsing: expected {(lq.shape[0], self.num_classes, self.size, self.size)}, "
                f"got {tuple(parsing.shape)}"
            )
        cond = torch.cat([lq * 2 - 1, parsing.to(lq.dtype)], dim=1)
        feat = self.const_input.expand(lq.shape[0], -1, -1, -1)
        feat = self.head_block(self.head_conv(feat), resize_condition(cond, self.sides[0]))
        for side, stage in zip(self.sides[1:], self.stages, strict=True):
            feat = stage(feat, resize_condition(cond, side))
        return (self.to_rgb(feat) + 1) / 2


class PSFRGAN(nn.Module):
    """A :class:`PSFRGenerator` bundled with its (frozen) :class:`ParseNet`.

    ``forward(lq)`` parses the degraded face (hard one-hot of the parsing network's argmax; the
    parsing network runs at its own size when it differs from the generator's) and restores it.
    The parsing network always stays in eval mode, also when the bundle is put in training mode.

    Shape:
        - Input: ``(B, 3, S, S)`` RGB in [0, 1], S = ``generator.size``.
        - Output: ``(B, 3, S, S)``, not clamped.
    """

    def __init__(self, generator: PSFRGenerator, parsenet: ParseNet) -> None:
        super().__init__()
        if generator.num_classes != parsenet.num_classes:
            raise ValueError(
                f"generator expects {generator.num_classes} parsing classes, parsenet gives {parsenet.num_classes}"
            )
        self.generator = generator
        self.parsenet = parsenet.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> PSFRGAN:
        super().train(mode)
        self.parsenet.eval()
        return self

    def parse(self, lq: Tensor) -> Tensor:
        """One-hot parsing maps ``(B, C, S, S)`` of faces ``lq`` (no gradient flows through them)."""
        _check_face_batch(lq, self.generator.size, "PSFRGAN input")
        return parse_faces(self.parsenet, lq)

    def forward(self, lq: Tensor, parsing: Tensor | None = None) -> Tensor:
        """Restore ``lq``; ``parsing`` (one-hot, e.g. from :meth:`parse`) skips the parsing step."""
        return self.generator(lq, self.parse(lq) if parsing is None else parsing)


def parse_faces(parsenet: ParseNet, faces: Tensor) -> Tensor:
    """Hard one-hot parsing maps of ``faces`` at their own size, by ``parsenet`` at its size (no grad).

    Shape:
        ``(B, 3, S, S)`` -> ``(B, C, S, S)``.
    """
    with torch.no_grad():
        return logits_to_onehot(parsenet.parse(faces))


@dataclass
class PSFRGeneratorConfig:
    """Typed form of the generator's arguments of :func:`build_psfrgan` (for recipes)."""

    size: int = 128
    num_classes: int = NUM_PARSING_CLASSES
    min_feat_size: int = 8
    base_channels: int = 32
    min_channels: int = 32
    max_channels: int = 512
    style_hidden: int = 64


def build_psfrgan(
    size: int = 128,
    num_classes: int = NUM_PARSING_CLASSES,
    min_feat_size: int = 8,
    base_channels: int = 32,
    min_channels: int = 32,
    max_channels: int = 512,
    style_hidden: int = 64,
    parsenet: dict[str, Any] | None = None,
) -> PSFRGAN:
    """Build a :class:`PSFRGAN` bundle (registry builder).

    Args:
        size, num_classes, min_feat_size, base_channels, min_channels, max_channels, style_hidden:
            the :class:`PSFRGenerator`'s arguments.
        parsenet: keyword arguments of :func:`~facedeblur.models.parsenet.build_parsenet`
            (``num_classes`` defaults to the generator's; ``size`` to ``min(size, 128)``).

    Returns:
        The bundle; load a trained parsing network into ``bundle.parsenet`` before training.
    """
    pcfg = {"size": min(size, 128), "num_classes": num_classes, **(parsenet or {})}
    generator = PSFRGenerator(
        size=size,
        num_classes=num_classes,
        min_feat_size=min_feat_size,
        base_channels=base_channels,
        min_channels=min_channels,
        max_channels=max_channels,
        style_hidden=style_hidden,
    )
    return PSFRGAN(generator, build_parsenet(**pcfg))
