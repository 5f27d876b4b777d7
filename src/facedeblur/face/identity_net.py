"""dlib's face-recognition ResNet as a PyTorch module (the architecture only; weights: identity_weights).

dlib semantics reproduced exactly (dlib/dnn/layers.h, input.h):

- input: ``(255 * rgb - mean) / 256`` with mean (122.782, 117.001, 104.298);
- ``con`` pads ``k // 2`` at stride 1 and nothing at stride 2, output ``(n + 2p - k) // s + 1``;
- ``add_prev`` adds tensors of different shapes by zero-padding both to the larger channel count
  and the larger height/width (bottom/right);
- each ``affine`` (frozen batch norm) is folded into the convolution before it.

:mod:`facedeblur.face.identity_weights` converts dlib's file into this module's state dict and
:func:`facedeblur.face.identity.load_identity_network` builds the shared, loaded instance.

Example:
    >>> import torch
    >>> IdentityNet()(torch.rand(1, 3, 150, 150)).shape
    torch.Size([1, 128])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DLIB_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
DESCRIPTOR_DIM = 128
FEATURE_NAMES: tuple[str, ...] = ("stem", "level4", "level3", "level2", "level1", "level0")
FEATURE_CHANNELS: tuple[int, ...] = (32, 32, 64, 128, 256, 256)

# Residual blocks bottom-up: (channels, downsampling); the block index after which each level ends.
_BLOCKS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)
_LEVEL_ENDS: tuple[int, ...] = (2, 6, 9, 12, 13)


def _add_zero_padded(a: Tensor, b: Tensor) -> Tensor:
    """dlib's add_prev: sum of two maps, each zero-padded to the larger channels, height and width."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def pad(t: Tensor) -> Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class _Residual(nn.Module):
    """dlib's ``ares`` / ``ares_down``: relu(add_prev(block(x), x or avg_pool2x2(x)))."""

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_zero_padded(y, shortcut))


def feature_shapes(size: int | tuple[int, int]) -> list[tuple[int, int, int]]:
    """Shapes ``(C, H, W)`` of :meth:`IdentityNet.features` for an input of the given size.

    Args:
        size: input side, or ``(height, width)``, as fed to the convolutions (150 after resizing).

    Returns:
        One ``(channels, height, width)`` per entry of :data:`FEATURE_NAMES`.

    Raises:
        ValueError: the input is too small for the network's strided layers.

    Example:
        >>> feature_shapes(128)[:3]
        [(32, 61, 61), (32, 30, 30), (64, 15, 15)]
    """
    h, w = (size, size) if isinstance(size, int) else size

    def side(n: int) -> list[int]:
        if n < 47:
            raise ValueError(f"identity network input must be at least 47x47 pixels, got {h}x{w}")
        stem = (n - 7) // 2 + 1
        out = [stem, (stem - 3) // 2 + 1]
        for _ in range(4):  # the four down blocks: strided conv vs pooled shortcut, the larger wins
            m = out[-1]
            if m < 3:
                raise ValueError(f"identity network input must be at least 47x47 pixels, got {h}x{w}")
            out.append(max((m - 3) // 2 + 1, (m - 2) // 2 + 1))
        return out

    return list(zip(FEATURE_CHANNELS, side(h), side(w), strict=True))


def _check_images(x: Tensor, what: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{what} must have shape (B, 3, H, W) (RGB in [0, 1]), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor with values in [0, 1], got {x.dtype}")


class IdentityNet(nn.Module):
    """dlib's face-recognition ResNet (``anet_type`` of dlib's dnn_face_recognition_ex.cpp).

    Build it with :func:`load_identity_network`; the module has no trainable use of its own.

    Args:
        mean_rgb: the input layer's per-channel mean on the 0-255 scale.
    """

    def __init__(self, mean_rgb: tuple[float, float, float] = (122.782, 117.001, 104.298)) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor(mean_rgb, dtype=torch.float32).view(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        blocks, in_channels = [], 32
        for channels, down in _BLOCKS:
            blocks.append(_Residual(in_channels, channels, down))
            in_channels = channels
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(256, DESCRIPTOR_DIM, bias=False)

    def _prepare(self, x: Tensor, resize: bool) -> Tensor:
        _check_images(x)
        if resize and tuple(x.shape[-2:]) != (CHIP_SIZE, CHIP_SIZE):
            x = F.interpolate(x, size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear", align_corners=False)
        feature_shapes(tuple(x.shape[-2:]))  # size check with a clear message
        x = x.to(self.mean_rgb.dtype)
        return (x * 255.0 - self.mean_rgb) / 256.0

    def _run(self, x: Tensor) -> list[Tensor]:
        stem = F.relu(self.stem(x))
        feats = [stem]
        h = F.max_pool2d(stem, 3, 2)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in _LEVEL_ENDS:
                feats.append(h)
        return feats

    def features(self, x: Tensor, resize: bool = True) -> list[Tensor]:
        """Intermediate feature maps, shallow to deep (names in :data:`FEATURE_NAMES`).

        Args:
            x: RGB faces in [0, 1].
            resize: resize to 150x150 first (bilinear, ``align_corners=False``), as :meth:`forward`
                does; with ``False`` the network runs at the input's own size (at least 47 px).

        Returns:
            Six maps with :data:`FEATURE_CHANNELS` channels; sizes from :func:`feature_shapes`.

        Shape:
            x: (B, 3, H, W) -> [(B, 32, ., .), (B, 32, ., .), (B, 64, ., .), (B, 128, ., .), (B, 256, ., .),
            (B, 256, ., .)]
        """
        return self._run(self._prepare(x, resize))

    def descriptor_from_features(self, feats: list[Tensor]) -> Tensor:
        """The 128-D descriptor from the output of :meth:`features` (global average pool + linear)."""
        return self.fc(feats[-1].mean(dim=(2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        """128-D face descriptors (not normalised: dlib compares them by Euclidean distance).

        Args:
            x: RGB faces in [0, 1], framed like dlib's chips (see :func:`identity_from_aligned_face`
                for faces in facedeblur's aligned geometry); resized to 150x150 when needed.

        Returns:
            The descriptors.

        Shape:
            x: (B, 3, H, W) -> (B, 128)
        """
        return self.descriptor_from_features(self.features(x))
