"""Time face detection + landmarks on CPU for a 1080p photo and a 4000 x 3000 photo with several faces.

The photos are synthetic: real UTKFace validation faces placed at photo-like sizes on a smooth
background (so the number of faces to find is known). Prints a table and writes JSON.

Usage:
    python benchmarks/bench_face_detect.py ../shared/data/utkface/val --repeat 5 -o benchmarks/results/face_detect.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SCENES = {
    # name: (height, width, face sides in px)
    "1080p": (1080, 1920, [300, 260, 220, 180]),
    "4000x3000": (3000, 4000, [700, 600, 520, 460, 420]),
}


def build_scene(faces: list[np.ndarray], height: int, width: int, sides: list[int]) -> np.ndarray:
    from _face_helpers import canvas, place

    image = canvas(height, width, seed=height)
    x, y = width // 20, height // 6
    for face, side in zip(faces, sides, strict=False):
        if x + side > width:
            x, y = width // 20, y + max(sides) + height // 20
        place(image, face, x, y, side)
        x += side + width // 25
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces", type=Path, help="folder of UTKFace faces (validation split)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cnn", action="store_true", help="also time the MMOD CNN detector (slow)")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the results")
    args = parser.parse_args(argv)

    from _face_helpers import val_faces
    from facedeblur.face.detect import find_faces

    faces = val_faces(args.faces, 5)
    find_faces(faces[0], landmarks68=True)  # load the models before timing
    rows = []
    settings = [("hog", False), ("hog", True)] + ([("cnn", False)] if args.cnn else [])
    for name, (height, width, sides) in SCENES.items():
        image = build_scene(faces, height, width, sides)
        for detector, lm68 in settings:
            times, cpu = [], []
            for _ in range(args.repeat if detector == "hog" else 1):
                start, start_cpu = time.perf_counter(), time.process_time()
                search = find_faces(image, detector=detector, landmarks68=lm68)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            rows.append(
                {
                    "photo": name,
                    "detector": detector,
                    "landmarks": "5+68" if lm68 else "5",
                    "faces_placed": len(sides),
                    "faces_found": len(search.faces),
                    "search_scale": round(search.scale, 3),
                    "seconds_median": round(float(np.median(times)), 3),
                    "seconds_min": round(float(np.min(times)), 3),
                    "cpu_seconds_median": round(float(np.median(cpu)), 3),
                }
            )
            row = rows[-1]
            print(
                f"{name:>10} {detector:>4} landmarks {row['landmarks']:>4}: {row['seconds_median']:.3f} s wall "
                f"(min {row['seconds_min']:.3f}), {row['cpu_seconds_median']:.3f} s CPU, "
                f"{row['faces_found']}/{row['faces_placed']} faces",
                flush=True,
            )
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "rows": rows,
    }
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
