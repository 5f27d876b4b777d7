"""The wheel: it carries the shipped recipes, and a named recipe trains from outside the checkout."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _train_helpers import write_faces

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (the build leaves nothing in the working tree)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(source)]
    if importlib.util.find_spec("setuptools") and importlib.util.find_spec("wheel"):
        command.insert(4, "--no-build-isolation")  # offline: the installed setuptools builds it
    subprocess.run(command, check=True, timeout=600)
    (built,) = (work / "dist").glob("facedeblur-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_every_shipped_recipe(wheel):
    shipped = {
        p.relative_to(REPO / "src").as_posix() for p in (REPO / "src" / "facedeblur" / "configs").rglob("*.yaml")
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "facedeblur/configs/chrysos-smoke.yaml" in shipped and "facedeblur/configs/recipes/photo.yaml" in shipped
    assert shipped <= names, f"missing from the wheel: {sorted(shipped - names)}"


@pytest.mark.slow
def test_a_named_recipe_trains_from_the_installed_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:  # a pure-Python wheel installs by unpacking
        archive.extractall(site)
    faces = tmp_path / "faces"
    write_faces(faces / "train", 24)
    write_faces(faces / "val", 8, seed=1)
    elsewhere = tmp_path / "elsewhere"  # no configs/ here, and not the checkout
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    code = "import facedeblur, sys; from facedeblur.cli import main; print(facedeblur.__file__); sys.exit(main())"
    args = ["train", "chrysos-smoke", "--data", str(faces), "--out", str(tmp_path / "run"), "--quiet"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0].startswith(str(site))  # the wheel's package, not the checkout's
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
