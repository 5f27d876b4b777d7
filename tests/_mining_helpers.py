"""Synthetic test videos for the mining tests: a real UTKFace face moving across a background."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_videos(folder: Path, face: np.ndarray, frames: int = 16) -> dict[str, Path]:
    """Write ``moving.mp4`` (the face drifting 4 px/frame right, 1 px/frame down), ``static.mp4`` (the
    same face standing still) and ``faceless.mp4`` (background only, with moving texture)."""
    from _face_helpers import canvas, place
    from facedeblur.video import write_video

    height, width, side = 240, 320, 180
    background = canvas(height, width, seed=1)
    moving, static, faceless = [], [], []
    rng = np.random.default_rng(0)
    for i in range(frames):
        image = background.copy()
        place(image, face, 40 + 4 * i, 20 + i, side)
        moving.append(image)
        image = background.copy()
        place(image, face, 70, 30, side)
        static.append(image)
        blobs = background.copy()
        for _ in range(6):
            x, y = rng.integers(0, width - 40), rng.integers(0, height - 40)
            blobs[y : y + 40, x : x + 40] = rng.integers(0, 255, 3)
        faceless.append(blobs)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, video in (("moving", moving), ("static", static), ("faceless", faceless)):
        paths[name] = folder / f"{name}.mp4"
        write_video(paths[name], video, fps=25)
    return paths
