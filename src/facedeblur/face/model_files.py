"""Locate dlib's model files shipped by the ``face-recognition-models`` package.

That package's ``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so we find its
folder with :func:`importlib.util.find_spec` and never import it.

Example:
    >>> path = dlib_model_path("shape_predictor_5_face_landmarks.dat")
    >>> path.name
    'shape_predictor_5_face_landmarks.dat'
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from facedeblur.errors import UserError

DLIB_MODEL_FILES: tuple[str, ...] = (
    "shape_predictor_5_face_landmarks.dat",
    "shape_predictor_68_face_landmarks.dat",
    "dlib_face_recognition_resnet_model_v1.dat",
    "mmod_human_face_detector.dat",
)


@lru_cache(maxsize=1)
def models_dir() -> Path:
    """Return the ``models/`` folder of the installed ``face-recognition-models`` package.

    Raises:
        UserError: the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models"
        if candidate.is_dir():
            return candidate
    raise UserError("the dlib model files are missing: install them with `pip install face-recognition-models`")


def dlib_model_path(name: str) -> Path:
    """Return the path of one dlib model file by its file name.

    Args:
        name: one of :data:`DLIB_MODEL_FILES`.

    Returns:
        The absolute path of the existing file.

    Raises:
        ValueError: ``name`` is not a known model file.
        UserError: the package or the file is missing.
    """
    if name not in DLIB_MODEL_FILES:
        raise ValueError(f"unknown dlib model file {name!r}; expected one of {DLIB_MODEL_FILES}")
    path = models_dir() / name
    if not path.is_file():
        raise UserError(f"dlib model file {path} is missing: reinstall face-recognition-models")
    return path
