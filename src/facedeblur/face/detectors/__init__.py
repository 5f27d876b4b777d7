"""Face-detector backends behind one interface (:class:`~facedeblur.face.detectors.base.DetectorBackend`).

:data:`BACKENDS` maps each ``--detector`` name to the class that runs it; :func:`get_backend` builds
one (backends are cheap objects: the networks they run are loaded once per process, on first use).

- ``centerface`` (default): CenterFace CNN in ONNX Runtime or OpenCV DNN; small, blurred, rotated faces.
- ``hog``: dlib's HOG frontal detector; fast on large faces, needs upscaling for small ones.
- ``cnn``: dlib's MMOD CNN detector; slow on a CPU.

Example:
    >>> get_backend("hog").name
    'hog'
"""

from __future__ import annotations

import importlib

BACKENDS: dict[str, str] = {
    "centerface": "facedeblur.face.detectors.centerface:CenterFaceBackend",
    "hog": "facedeblur.face.detectors.dlib_detectors:HogBackend",
    "cnn": "facedeblur.face.detectors.dlib_detectors:MmodBackend",
}
DEFAULT_DETECTOR = "centerface"


def get_backend(name: str):
    """Build the backend called ``name`` (a key of :data:`BACKENDS`).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if name not in BACKENDS:
        raise ValueError(f"detector must be one of {tuple(BACKENDS)}, got {name!r}")
    module_name, attr = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)()
