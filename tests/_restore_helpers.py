"""Helpers for the restoration tests: a tiny model saved like a bundled one, small test photos."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from facedeblur.face.align import template
from facedeblur.models.hub import WeightsMetadata, save_weights
from facedeblur.models.registry import build_model


def make_tiny_model(path, seed: int = 0):
    """A small chrysos network with a random (non-identity) output map, saved like a bundled model."""
    import torch

    torch.manual_seed(seed)
    model = build_model("chrysos", width=8, blocks=1)
    with torch.no_grad():
        model.to_image.weight.normal_(0, 0.5)  # the untrained net starts as the identity: make it change faces
    meta = WeightsMetadata(
        name="tiny",
        architecture="chrysos",
        config={"width": 8, "blocks": 1},
        face_size=128,
        template=template(128).tolist(),
        training_data="none (test fixture)",
        data_license="n/a",
        trained_on="cpu",
        metrics={"psnr": 1.0},
    )
    save_weights(model, path, meta)
    return path


def face_photo(face, height: int = 240, width: int = 240, side: int = 150, seed: int = 0):
    """A small uint8 RGB photo with one real face in the middle."""
    from _face_helpers import canvas, place

    image = canvas(height, width, seed=seed)
    place(image, face, (width - side) // 2, (height - side) // 2, side)
    return image


@lru_cache(maxsize=4)
def cached_val_faces(folder: Path, count: int) -> tuple:
    """``_face_helpers.val_faces`` computed once per test session (detection on UTKFace costs seconds)."""
    from _face_helpers import val_faces

    return tuple(val_faces(folder, count))
