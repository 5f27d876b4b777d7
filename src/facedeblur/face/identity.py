"""dlib's face-recognition ResNet in PyTorch: a differentiable, offline face-identity network.

The network is ``dlib_face_recognition_resnet_model_v1`` (29 convolutions, 5.6 M parameters, 150x150
RGB chips in, 128-D descriptors out; two faces are the same person when the Euclidean distance of
their descriptors is below 0.6). Its weights come from the ``.dat`` file that the
``face-recognition-models`` package ships, read in pure Python, converted once and cached as
safetensors in the user cache folder with the SHA-256 of the source file
(:mod:`facedeblur.face.identity_weights`).

dlib semantics reproduced exactly (dlib/dnn/layers.h, input.h):

- input: ``(255 * rgb - mean) / 256`` with mean (122.782, 117.001, 104.298);
- ``con`` pads ``k // 2`` at stride 1 and nothing at stride 2, output ``(n + 2p - k) // s + 1``;
- ``add_prev`` adds tensors of different shapes by zero-padding both to the larger channel count
  and the larger height/width (bottom/right). At 150 px this matters: in ``alevel1`` the strided
  convolution gives 3x3 but the pooled shortcut 4x4, so the block output is 4x4;
- each ``affine`` (frozen batch norm) is folded into the convolution before it.

Feature maps (:meth:`IdentityNet.features`, shallow to deep; see :func:`feature_shapes`):

=========  ========  ==========  ==========  =========================================
name       channels  150 px in   128 px in   taken after
=========  ========  ==========  ==========  =========================================
stem       32        72x72       61x61       7x7/2 conv + affine + relu (before max pool)
level4     32        35x35       30x30       3 residual blocks at 32 channels
level3     64        17x17       15x15       down block + 3 residual blocks
level2     128       8x8         7x7         down block + 2 residual blocks
level1     256       4x4         3x3         down block + 2 residual blocks
level0     256       2x2         1x1         down block
=========  ========  ==========  ==========  =========================================

Example:
    >>> import torch
    >>> net = load_identity_network()
    >>> faces = torch.rand(2, 3, 150, 150)
    >>> net(faces).shape
    torch.Size([2, 128])
    >>> [tuple(f.shape[1:]) for f in net.features(faces)][:3]
    [(32, 72, 72), (32, 35, 35), (64, 17, 17)]
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CHIP_SIZE",
    "DESCRIPTOR_DIM",
    "DLIB_RECOGNITION_MODEL",
    "FEATURE_CHANNELS",
    "FEATURE_NAMES",
    "SAME_PERSON_L2",
    "UTKFACE_CHIP_BOX",
    "IdentityNet",
    "aligned_face_to_chip",
    "descriptor_distance",
    "feature_shapes",
    "identity_from_aligned_face",
    "load_identity_network",
]

DLIB_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
DESCRIPTOR_DIM = 128
SAME_PERSON_L2 = 0.6  # dlib's decision threshold on the Euclidean descriptor distance
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

# dlib's 150 px chip (get_face_chip_details(shape5, 150, padding=0.25)) inside a face aligned to the
# UTKFace geometry that facedeblur.face.align.template uses, as fractions of the aligned face's side
# (pixel edges): centre x, centre y, side. Mean over the 480 detected faces of
# ../shared/data/utkface/val (std 0.010, 0.014, 0.048; rotation 0.000 +- 0.025 rad), measured by
# benchmarks/quality/identity_chip_box.py. The chip is slightly larger than the aligned face.
UTKFACE_CHIP_BOX: tuple[float, float, float] = (0.4997, 0.5057, 1.0862)


# ----------------------------------------------------------------------------------------------
# The network


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


_NETWORKS: dict[str, IdentityNet] = {}
_LOCK = threading.Lock()


def load_identity_network(device: str | torch.device = "cpu") -> IdentityNet:
    """The identity network on ``device``, built once per process and device, then shared.

    The module is in eval mode and its parameters do not require gradients; gradients still flow to
    its input. Do not modify the shared instance (copy it with ``copy.deepcopy`` to fine-tune).

    Args:
        device: any torch device.

    Returns:
        The network.

    Example:
        >>> net = load_identity_network("cpu")
        >>> net is load_identity_network("cpu")
        True
    """
    key = str(torch.device(device))
    with _LOCK:
        net = _NETWORKS.get(key)
        if net is None:
            from facedeblur.face.identity_weights import load_identity_state

            # Built outside inference mode even when first asked for inside it (e.g. by the restore or
            # evaluation code): parameters made there could never take part in a backward pass later.
            with torch.inference_mode(False):
                net = IdentityNet()
                net.load_state_dict(load_identity_state())
                net = net.to(device).eval().requires_grad_(False)
            _NETWORKS[key] = net
    return net


# ----------------------------------------------------------------------------------------------
# Descriptors


def descriptor_distance(a: Tensor, b: Tensor, metric: str = "cosine") -> Tensor:
    """Distance between descriptors.

    Args:
        a: descriptors, (..., 128).
        b: descriptors broadcastable with ``a``.
        metric: ``"cosine"`` (1 - cosine similarity, in [0, 2]) or ``"l2"`` (Euclidean; dlib calls
            two faces the same person below :data:`SAME_PERSON_L2` = 0.6).

    Returns:
        The distances, differentiable.

    Shape:
        a: (B, 128), b: (B, 128) -> (B,)

    Example:
        >>> a = torch.ones(2, 128)
        >>> descriptor_distance(a, a, "l2")
        tensor([0., 0.])
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("a and b must be torch tensors of descriptors")
    if a.shape[-1] != DESCRIPTOR_DIM or b.shape[-1] != DESCRIPTOR_DIM:
        raise ValueError(
            f"descriptors must end with dimension {DESCRIPTOR_DIM}, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    if metric == "cosine":
        return 1.0 - F.cosine_similarity(a, b, dim=-1, eps=1e-8)
    if metric == "l2":
        return torch.linalg.vector_norm(a - b, dim=-1)
    raise ValueError(f"metric must be 'cosine' or 'l2', got {metric!r}")


def aligned_face_to_chip(faces: Tensor, box: tuple[float, float, float] = UTKFACE_CHIP_BOX) -> Tensor:
    """Resample faces aligned in facedeblur's (UTKFace) geometry to dlib's 150x150 chip framing.

    A differentiable crop (bilinear, zeros outside the face) of the square ``box``.

    Args:
        faces: aligned RGB faces in [0, 1], any square size (128 for our models).
        box: (centre x, centre y, side) as fractions of the face side; default the measured
            :data:`UTKFACE_CHIP_BOX`.

    Returns:
        Chips framed like ``dlib.get_face_chip(img, shape, 150, 0.25)``.

    Shape:
        faces: (B, 3, S, S) -> (B, 3, 150, 150)
    """
    _check_images(faces, "faces")
    cx, cy, side = box
    theta = faces.new_tensor([[side, 0.0, 2.0 * cx - 1.0], [0.0, side, 2.0 * cy - 1.0]])
    theta = theta.unsqueeze(0).expand(faces.shape[0], 2, 3)
    grid = F.affine_grid(theta, [faces.shape[0], 3, CHIP_SIZE, CHIP_SIZE], align_corners=False)
    return F.grid_sample(faces, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def identity_from_aligned_face(faces: Tensor, network: IdentityNet | None = None) -> Tensor:
    """Descriptors of faces aligned to facedeblur's template (UTKFace geometry, e.g. 128 px).

    dlib's chips frame a face slightly more loosely than our aligned faces (the chip reaches about 4 %
    beyond each side); this resamples the chip's mean region (:func:`aligned_face_to_chip`, zeros
    outside, as dlib pads) before the network, so the descriptors are those dlib would compute: on
    UTKFace val, cosine similarity 0.995 on average to the descriptor of each face's own dlib chip
    (0.992 when the whole face is fed to :meth:`IdentityNet.forward` instead).

    Args:
        faces: aligned RGB faces in [0, 1].
        network: default :func:`load_identity_network` on ``faces.device``.

    Returns:
        128-D descriptors, differentiable with respect to ``faces``.

    Shape:
        faces: (B, 3, S, S) -> (B, 128)
    """
    net = network if network is not None else load_identity_network(faces.device)
    return net(aligned_face_to_chip(faces))
