"""The one place that maps architecture names to builder functions (no registration by import).

Every restoration model built here takes a batch of RGB faces in [0, 1], shape (B, 3, S, S) with S
the model's face size, and returns the restored batch of the same shape (not clamped).

Example:
    >>> sorted(ARCHITECTURES)
    ['chrysos', 'dfpgnet', 'parsenet', 'psfrgan', 'unet', 'wiener_unet']
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> "module:function"; the function takes keyword arguments (the model's config) and
# returns an nn.Module.
ARCHITECTURES: dict[str, str] = {
    "chrysos": "facedeblur.models.chrysos:build_chrysos",
    "dfpgnet": "facedeblur.models.dfpgnet:build_dfpgnet",
    "psfrgan": "facedeblur.models.psfrgan:build_psfrgan",
    "parsenet": "facedeblur.models.parsenet:build_parsenet",
    "unet": "facedeblur.models.unet:build_unet",
    "wiener_unet": "facedeblur.models.wiener:build_wiener_unet",
}


def build_model(architecture: str, **config: Any):
    """Build an architecture by name with its config as keyword arguments.

    Raises:
        KeyError: unknown architecture; the message lists the known ones.
    """
    if architecture not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    module_name, func_name = ARCHITECTURES[architecture].split(":")
    builder = getattr(importlib.import_module(module_name), func_name)
    return builder(**config)
