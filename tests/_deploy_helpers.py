"""Helpers for the deployment tests: one small model per architecture, saved like a bundled one."""

from __future__ import annotations

from pathlib import Path

from facedeblur.face.align import template
from facedeblur.models.hub import WeightsMetadata, save_weights
from facedeblur.models.registry import build_model

SIZE = 128
TINY_PARSENET = {
    "size": 64,
    "base_channels": 8,
    "min_channels": 8,
    "max_channels": 16,
    "min_feat_size": 16,
}  # parses at 64 px, as bundled
# Small widths keep export + parity checks to a second or two per model.
TINY_CONFIGS: dict[str, dict] = {
    "chrysos": {"width": 8, "blocks": 2},
    "dfpgnet": {
        "width": 8,
        "blocks": 1,
        "middle_blocks": 1,
        "prior_blocks": 1,
        "prior_channels": [4, 8, 8],
        "reduction": 4,
    },
    "psfrgan": {
        "size": SIZE,
        "min_feat_size": 8,
        "base_channels": 4,
        "min_channels": 4,
        "max_channels": 16,
        "style_hidden": 8,
        "parsenet": {**TINY_PARSENET, "num_body_blocks": 1},
    },
    "unet": {"width": 4, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1], "stem": "conv"},
}  # wiener_unet (a search candidate, not bundled) is PyTorch-only: its FFT Wiener step does not export to ONNX
ARCHITECTURES = tuple(TINY_CONFIGS)


def make_model(architecture: str, seed: int = 0):
    """A tiny model of ``architecture`` whose output visibly differs from its input (not the identity)."""
    import torch

    torch.manual_seed(seed)
    model = build_model(architecture, **TINY_CONFIGS[architecture])
    with torch.no_grad():  # chrysos and dfpgnet start as the identity map (zero output conv): break that
        for name, param in model.named_parameters():
            if name.startswith(("to_image", "to_rgb", "ending")):
                param.normal_(0, 0.05)
    return model.eval()


def save_tiny(architecture: str, path: Path, seed: int = 0, name: str | None = None) -> Path:
    """Save :func:`make_model` like a bundled model; returns ``path``."""
    meta = WeightsMetadata(
        name=name or f"tiny-{architecture}",
        architecture=architecture,
        config=TINY_CONFIGS[architecture],
        face_size=SIZE,
        template=template(SIZE).tolist(),
        training_data="none (test fixture)",
        data_license="n/a",
        trained_on="cpu",
        metrics={"psnr": 1.0},
    )
    save_weights(make_model(architecture, seed), path, meta)
    return path
