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
from torch import Tensor

from facedeblur.face.identity_net import (
    CHIP_SIZE,
    DESCRIPTOR_DIM,
    DLIB_RECOGNITION_MODEL,
    FEATURE_CHANNELS,
    FEATURE_NAMES,
    IdentityNet,
    _check_images,
    feature_shapes,
)

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

SAME_PERSON_L2 = 0.6  # dlib's decision threshold on the Euclidean descriptor distance

# dlib's 150 px chip (get_face_chip_details(shape5, 150, padding=0.25)) inside a face aligned to the
# UTKFace geometry that facedeblur.face.align.template uses, as fractions of the aligned face's side
# (pixel edges): centre x, centre y, side. Mean over the 480 detected faces of
# ../shared/data/utkface/val (std 0.010, 0.014, 0.048; rotation 0.000 +- 0.025 rad), measured by
# benchmarks/quality/identity_chip_box.py. The chip is slightly larger than the aligned face.
UTKFACE_CHIP_BOX: tuple[float, float, float] = (0.4997, 0.5057, 1.0862)


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
