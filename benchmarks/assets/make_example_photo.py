"""Make docs/images/example.jpg: two UTKFace val faces on a plain canvas, camera-shake blurred.

The README's first set-up command restores this photo. Reproduce with:
    python benchmarks/assets/make_example_photo.py ../shared/data/utkface/val -o docs/images/example.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from facedeblur.degrade.kernels import shake_kernel
from facedeblur.degrade.ops import blur_numpy
from facedeblur.images import read_image, write_image

PLACEMENTS = [(60, 110, 270), (390, 90, 290)]  # x0, y0, side in px
FACES = ["25_0_2_20170116172425264.jpg.chip.jpg", "26_1_3_20170113011802678.jpg.chip.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("val_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/images/example.jpg"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    h, w = 480, 720
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    canvas = np.stack([0.55 + 0.2 * xx / w, 0.5 + 0.1 * yy / h, 0.45 + 0.0 * xx], -1)
    for name, (x0, y0, side) in zip(FACES, PLACEMENTS, strict=True):
        face = read_image(args.val_dir / name).astype(np.float32) / 255
        canvas[y0 : y0 + side, x0 : x0 + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    blurred = blur_numpy(canvas.astype(np.float32), shake_kernel(17, rng))
    blurred = np.clip(blurred + rng.normal(0, 2 / 255, canvas.shape), 0, 1)
    write_image(args.output, (blurred * 255 + 0.5).astype(np.uint8), quality=92)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
