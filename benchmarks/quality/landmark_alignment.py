"""Alignment error of each detector's landmarks against dlib's 68 points, on sharp and blurred faces.

For every UTKFace validation face (placed at 200 px on a grey canvas) the reference alignment is the
similarity taking dlib's 68 points, fitted on the sharp face in its HOG box, onto the template's mean
68 points at 128 px. Each method's alignment is the similarity from its own 5 points onto their
template positions; its error is the mean distance, in pixels of the 128 px aligned crop, between where
the two alignments put the 68 reference points. Methods:

- ``hog+dlib5``: dlib's 5-point predictor in the HOG box (the pipeline before CenterFace);
- ``centerface+dlib5``: dlib's 5-point predictor in CenterFace's box (what the pipeline does now);
- ``centerface points``: CenterFace's own 5 points (eye centres, nose tip, mouth corners).

Also the normalised mean error of CenterFace's points against the same points derived from the 68
(eye centres = means of the eye contours, nose tip 30, mouth corners 48/54), per inter-ocular distance.
Blurred faces get the strongest ``deblur`` settings (as in face_recall.py); the reference stays the
sharp face's.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/quality/landmark_alignment.py ../shared/data/utkface/val --count 300 \\
        -o benchmarks/results/landmark_alignment.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces", type=Path, help="UTKFace validation folder")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)

    import cv2
    from face_recall import strong_blur

    from facedeblur.face.align import similarity_matrix, template, template68, transform_points
    from facedeblur.face.detect import fit_landmarks
    from facedeblur.face.detectors import get_backend
    from facedeblur.face.detectors.centerface import _canonical
    from facedeblur.images import read_image

    rng = np.random.default_rng(args.seed)
    hog, centerface = get_backend("hog"), get_backend("centerface")
    cf_template = ((_canonical()[0] + 0.5) * 128 / 200 - 0.5).astype(np.float32)
    errors: dict[str, dict[str, list[float]]] = {"sharp": {}, "blurred": {}}
    nme: dict[str, list[float]] = {"sharp": [], "blurred": []}
    missed = {"sharp": {"hog": 0, "centerface": 0}, "blurred": {"hog": 0, "centerface": 0}}
    used = 0
    for path in sorted(args.faces.glob("*.jpg"))[: args.count]:
        chip = read_image(path)
        sharp = np.full((320, 320, 3), 128, np.uint8)
        sharp[60:260, 60:260] = chip
        hog_sharp = hog.detect(sharp, 0.0)
        if not hog_sharp:
            continue  # no reference without a HOG box on the sharp face
        used += 1
        ref68 = fit_landmarks(sharp, max(hog_sharp, key=lambda f: f.size).box, 68)
        ref = similarity_matrix(ref68, template68(128))
        ref_points = transform_points(ref68, ref)
        derived = np.stack([ref68[36:42].mean(0), ref68[42:48].mean(0), ref68[30], ref68[48], ref68[54]])
        blurred = sharp.copy()
        blurred[60:260, 60:260] = cv2.resize(strong_blur(chip, rng), (200, 200), interpolation=cv2.INTER_CUBIC)
        for kind, image in (("sharp", sharp), ("blurred", blurred)):
            table = errors[kind]

            def score(
                name: str, points: np.ndarray, target: np.ndarray, table=table, ref68=ref68, ref_points=ref_points
            ):
                moved = transform_points(ref68, similarity_matrix(points, target))
                table.setdefault(name, []).append(float(np.linalg.norm(moved - ref_points, axis=1).mean()))

            found = hog.detect(image, 0.0)
            if found:
                score("hog+dlib5", fit_landmarks(image, max(found, key=lambda f: f.size).box, 5), template(128))
            else:
                missed[kind]["hog"] += 1
            found = centerface.detect(image, centerface.default_threshold)
            if found:
                face = max(found, key=lambda f: f.score)
                score("centerface+dlib5", fit_landmarks(image, face.box, 5), template(128))
                score("centerface points", face.points, cf_template)
                iod = float(np.linalg.norm(derived[1] - derived[0]))
                nme[kind].append(float(np.linalg.norm(face.points - derived, axis=1).mean() / iod))
            else:
                missed[kind]["centerface"] += 1
    result = {"faces": used, "missed": missed, "alignment_error_px_at_128": {}, "centerface_points_nme": {}}
    print(f"{used} faces; alignment error (px of the 128 px crop) against dlib's 68 points on the sharp face")
    print(f"{'method':20} {'sharp mean':>10} {'p90':>6} {'blurred mean':>13} {'p90':>6}")
    for name in ("hog+dlib5", "centerface+dlib5", "centerface points"):
        row = {}
        for kind in ("sharp", "blurred"):
            values = np.asarray(errors[kind].get(name, [np.nan]))
            row[kind] = {"mean": round(float(values.mean()), 3), "p90": round(float(np.percentile(values, 90)), 3)}
            row[kind]["faces"] = int(len(errors[kind].get(name, [])))
        result["alignment_error_px_at_128"][name] = row
        print(
            f"{name:20} {row['sharp']['mean']:10.2f} {row['sharp']['p90']:6.2f} "
            f"{row['blurred']['mean']:13.2f} {row['blurred']['p90']:6.2f}"
        )
    for kind in ("sharp", "blurred"):
        result["centerface_points_nme"][kind] = round(float(np.mean(nme[kind])), 4)
    print(f"CenterFace points vs 68-derived points, NME per inter-ocular distance: {result['centerface_points_nme']}")
    print(f"missed: {missed}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
