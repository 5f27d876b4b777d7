"""Helpers for the face toolkit tests: real UTKFace faces placed on synthetic canvases."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facedeblur.images import read_image


def val_faces(folder: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` UTKFace val faces (sorted by name) that dlib's HOG detector finds."""
    from facedeblur.face.detect import detect_faces

    faces = []
    for path in sorted(folder.glob("*.jpg")):
        image = read_image(path)
        if len(detect_faces(image)) == 1:
            faces.append(image)
        if len(faces) == count:
            break
    return faces


def canvas(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, faceless background: gradients plus mild noise, uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 60 * xx / width, 120 + 40 * yy / height, 140 - 50 * xx / width], axis=2)
    base += rng.normal(0, 4, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def place(image: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> tuple[int, int, int, int]:
    """Paste ``face`` resized to ``side`` at (x, y) (clipped at the border); returns its box."""
    import cv2

    resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if side < face.shape[0] else cv2.INTER_CUBIC)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    image[y0:y1, x0:x1] = resized[y0 - y : y1 - y, x0 - x : x1 - x]
    return x, y, x + side, y + side
