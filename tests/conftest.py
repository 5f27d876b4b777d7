"""Shared fixtures: the real data in ../shared/data (skipped cleanly when absent) and small synthetic faces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FACEDEBLUR_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def utkface_train() -> Path:
    path = SHARED_DATA / "utkface" / "train"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set FACEDEBLUR_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def utkface_val() -> Path:
    path = SHARED_DATA / "utkface" / "val"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set FACEDEBLUR_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    path = SHARED_DATA / "videos"
    if not path.is_dir():
        pytest.skip(f"shared videos not found at {path} (set FACEDEBLUR_SHARED_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    """Keep torch to the machine's cores so parallel test workers do not oversubscribe."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
