"""Measure the canonical face template: mean dlib landmarks over UTKFace training faces.

UTKFace's "aligned & cropped" faces (200 x 200 px) are the faces every bundled model trains on
(resized to 128). The alignment template is the mean 5-point landmark position over a seeded random
sample of them, measured with the same detector settings the toolkit uses (dlib HOG, one upsampling,
largest face). The 68-point mean and the mean detector box are stored too (the loose crop and the
parsing-label fallback use them).

Usage:
    python benchmarks/assets/measure_face_template.py ../shared/data/utkface/train --sample 5000 \
        -o src/facedeblur/face/template.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of UTKFace 200 px faces")
    parser.add_argument("--sample", type=int, default=5000, help="number of faces to sample (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True, help="template JSON to write")
    args = parser.parse_args(argv)

    import dlib
    from PIL import Image

    from facedeblur.face.model_files import dlib_model_path
    from facedeblur.images import write_text_atomic

    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.sample and args.sample < len(files):
        files = sorted(random.Random(args.seed).sample(files, args.sample))
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    sp68 = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
    pts5, pts68, boxes, sizes = [], [], [], set()
    missed = 0
    start = time.time()
    for k, path in enumerate(files):
        image = np.asarray(Image.open(path).convert("RGB"))
        sizes.add(image.shape[:2])
        rects, scores, _ = detector.run(image, 1, 0.0)
        if len(rects) == 0:
            missed += 1
            continue
        rect = max(rects, key=lambda r: r.area())
        pts5.append([(p.x, p.y) for p in sp5(image, rect).parts()])
        pts68.append([(p.x, p.y) for p in sp68(image, rect).parts()])
        boxes.append((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1))
        if (k + 1) % 500 == 0:
            print(f"{k + 1}/{len(files)} faces, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    if len(sizes) != 1:
        raise SystemExit(f"expected one image size, found {sorted(sizes)}")
    height, width = sizes.pop()
    p5, p68, b = np.asarray(pts5, float), np.asarray(pts68, float), np.asarray(boxes, float)
    result = {
        "source": "UTKFace aligned & cropped, train split",
        "image_size": [width, height],
        "detector": "dlib HOG frontal, upsample 1, largest face",
        "coordinates": "pixel indices (pixel centres at integers) in the source image",
        "sample": len(files),
        "seed": args.seed,
        "measured": len(p5),
        "missed": missed,
        "landmarks5_mean": np.round(p5.mean(0), 3).tolist(),
        "landmarks5_std": np.round(p5.std(0), 3).tolist(),
        "landmarks68_mean": np.round(p68.mean(0), 3).tolist(),
        "landmarks68_std": np.round(p68.std(0), 3).tolist(),
        "box_mean": np.round(b.mean(0), 3).tolist(),
        "box_std": np.round(b.std(0), 3).tolist(),
    }
    write_text_atomic(args.output, json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if "68" not in k}, indent=1))
    print(f"{len(p5)} measured, {missed} missed, {time.time() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
