"""Identity loss: distance between the identity network's 128-D descriptors of restored and sharp faces.

The identity network (:func:`facedeblur.face.identity.load_identity_network`, dlib's face-recognition
ResNet in PyTorch) maps a face to a 128-D descriptor; dlib compares descriptors by Euclidean
distance (0.6 = same-person threshold), so the loss is that distance averaged over the batch. Faces
in facedeblur's aligned geometry are first framed like dlib's chips
(:func:`facedeblur.face.identity.aligned_face_to_chip`). The network is frozen: gradients flow into
the restored faces only.

Example:
    >>> import torch
    >>> from facedeblur.face.identity import load_identity_network
    >>> faces = torch.rand(2, 3, 64, 64)
    >>> float(identity_loss(faces, faces, load_identity_network()))
    0.0
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["IdentityLoss", "identity_loss"]


def identity_loss(restored: torch.Tensor, target: torch.Tensor, network: nn.Module) -> torch.Tensor:
    """Mean Euclidean descriptor distance between restored and target aligned faces.

    Args:
        restored: restored faces (B, 3, S, S) in [0, 1] (gradients flow through these; clamped to [0, 1]).
        target: sharp faces (B, 3, S, S) in [0, 1] (no gradient).
        network: the identity network (an :class:`~facedeblur.face.identity.IdentityNet`).

    Returns:
        Scalar tensor >= 0.
    """
    from facedeblur.face.identity import descriptor_distance, identity_from_aligned_face

    if restored.ndim != 4 or restored.shape != target.shape:
        raise ValueError(
            f"expected two (B, 3, S, S) batches of one shape, got {tuple(restored.shape)} and {tuple(target.shape)}"
        )
    with torch.no_grad():
        target_desc = identity_from_aligned_face(target, network)
    restored_desc = identity_from_aligned_face(restored.clamp(0, 1), network)
    return descriptor_distance(restored_desc, target_desc, "l2").mean()


class IdentityLoss(nn.Module):
    """:func:`identity_loss` holding the frozen network (kept out of this module's state dict).

    Args:
        network: the identity network; its parameters are frozen and it is put in eval mode.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        network.eval().requires_grad_(False)
        self._network = [network]  # a list keeps it out of state_dict() and .to()

    @property
    def network(self) -> nn.Module:
        return self._network[0]

    def forward(self, restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return identity_loss(restored, target, self.network)
