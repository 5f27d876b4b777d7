"""Shared helpers of the training tests: synthetic sharp images and a tiny recipe (no shared data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facedeblur.images import write_image
from facedeblur.train.config import RecipeConfig


def write_faces(root: Path, count: int, size: int = 40, seed: int = 0) -> Path:
    """Images of random coloured rectangles and disks (sharp edges a deblurring net can learn to restore)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        img = np.full((size, size, 3), rng.random(3) * 0.5 + 0.25)
        for _ in range(6):
            colour = rng.random(3)
            if rng.random() < 0.5:
                x0, y0 = rng.integers(0, size - 8, 2)
                w, h = rng.integers(4, size // 2, 2)
                img[y0 : y0 + h, x0 : x0 + w] = colour
            else:
                cx, cy, r = rng.integers(0, size, 3)
                img[(xx - cx) ** 2 + (yy - cy) ** 2 < (r % 10 + 3) ** 2] = colour
        write_image(root / f"face_{i:03d}.png", (img * 255).astype(np.uint8))
    return root


def tiny_recipe(train: Path, val: Path, **engine) -> RecipeConfig:
    """A Chrysos recipe small enough for a few-second CPU run: 24 px faces, mild fixed Gaussian blur."""
    data = {
        "train": str(train),
        "val": str(val),
        "size": 24,
        "recipe": "deblur",
        "recipe_options": {
            "shake_probability": 0.0,
            "gaussian_sigma": [1.0, 1.2],
            "anisotropic_probability": 0.0,
            "noise_levels": [0.0, 0.0],
            "jpeg_probability": 0.0,
        },
        "val_limit": 4,
    }
    eng = {
        "steps": 6,
        "batch_size": 4,
        "accelerator": "cpu",
        "precision": "32-true",
        "ema_decay": 0.5,
        "log_every": 2,
        "val_every": 3,
        "ckpt_every": 100,
        "images": 2,
        "progress": False,
        "threads": 1,
    }
    eng.update(engine)
    options = {
        "net": {"width": 6, "blocks": 2},
        "crop": 16,
        "optimizer": {"name": "adam", "lr": 0.003},
        "scheduler": {"name": "step", "step_size": 2, "gamma": 0.7},
    }
    return RecipeConfig.from_mapping({"task": "chrysos", "options": options, "data": data, "engine": eng})
