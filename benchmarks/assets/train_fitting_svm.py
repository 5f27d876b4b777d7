"""Train the shipped landmark-fitting classifier (src/facedeblur/data/fitting_svm.npz) and print its accuracy.

Positives: dlib 68-point fittings (HOG detector box) on the sharper half (variance of Laplacian) of a
seeded random sample of UTKFace train faces, and on every 5th frame of the development videos whose
face is sharp; each positive also appears once with a tiny jitter (1 % of the face extent) so that the
normal noise of a good fitting is not punished. Negatives: ``--negatives`` random perturbations
(:func:`facedeblur.data.fitting_quality.perturb_landmarks`) of every positive fitting. The accuracy is
5-fold cross-validated with all rows of one source image in the same fold.

Usage:
    python benchmarks/assets/train_fitting_svm.py [--faces 1200] [--out src/facedeblur/data/fitting_svm.npz]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def positives_from_images(paths, rng):
    from facedeblur.data.sharpness import laplacian_variance
    from facedeblur.face.detect import detect_faces, fit_landmarks
    from facedeblur.images import read_image

    rows = []
    for path in paths:
        image = read_image(path)[:, :, :3]
        faces = detect_faces(image, upsample=1)
        if not faces:
            continue
        rows.append((str(path.name), image, fit_landmarks(image, faces[0].box, 68), laplacian_variance(image, 128)))
    # keep the sharper half: the classifier learns what good fittings on sharp faces look like
    cut = np.median([r[3] for r in rows])
    return [r[:3] for r in rows if r[3] >= cut]


def positives_from_videos(videos, every=5, min_sharpness=100.0):
    from facedeblur.data.sharpness import laplacian_variance
    from facedeblur.face.align import loose_crop
    from facedeblur.face.detect import detect_faces, fit_landmarks
    from facedeblur.video import read_frames

    rows = []
    for video in videos:
        for i, frame in enumerate(read_frames(video)):
            if i % every:
                continue
            faces = detect_faces(frame, upsample=0)
            if not faces:
                continue
            points = fit_landmarks(frame, faces[0].box, 68)
            crop, _ = loose_crop(frame.astype(np.float32) / 255.0, points, 128)
            if laplacian_variance(crop) >= min_sharpness:
                rows.append((f"{video.name}#{i}", frame, points))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1200, help="UTKFace train faces to sample (half are kept)")
    parser.add_argument("--negatives", type=int, default=2, help="perturbed fittings per positive")
    parser.add_argument("--c", type=float, default=0.01, help="LinearSVC C")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "facedeblur" / "data" / "fitting_svm.npz")
    args = parser.parse_args()

    from facedeblur.data.fitting_quality import fitting_descriptor, perturb_landmarks, train_classifier

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    train = sorted((DATA / "utkface" / "train").glob("*.jpg"))
    if not train:
        print(f"no UTKFace faces under {DATA}", file=sys.stderr)
        return 2
    sample = [train[i] for i in rng.choice(len(train), size=min(args.faces, len(train)), replace=False)]
    positives = positives_from_images(sample, rng)
    n_faces = len(positives)
    positives += positives_from_videos(sorted((DATA / "videos").glob("*.mp4")))
    print(f"positives: {n_faces} UTKFace faces + {len(positives) - n_faces} video frames", flush=True)

    x, y, groups = [], [], []
    for group, (_, image, points) in enumerate(positives):
        extent = float(np.ptp(points, axis=0).max())
        variants = [(points, 1), (points + rng.normal(0, 0.01 * extent, points.shape), 1)]
        variants += [(perturb_landmarks(points, rng), 0) for _ in range(args.negatives)]
        for pts, label in variants:
            x.append(fitting_descriptor(image, pts))
            y.append(label)
            groups.append(group)
    model = train_classifier(np.stack(x), np.array(y), np.array(groups), c=args.c, folds=5, seed=args.seed)
    model.info.update(
        descriptor="sift-68x128",
        utkface_faces=n_faces,
        video_frames=len(positives) - n_faces,
        negatives_per_positive=args.negatives,
        seed=args.seed,
        trained_by="benchmarks/assets/train_fitting_svm.py",
    )
    model.save(args.out)
    info = model.info
    print(json.dumps(info, indent=1, sort_keys=True))
    print(
        f"5-fold grouped CV accuracy {info['cv_accuracy']:.4f} (good fittings accepted {info['cv_good_accepted']:.4f},"
        f" perturbed rejected {info['cv_bad_rejected']:.4f}) on {info['positives']} good + {info['negatives']} bad"
        f" fittings; {time.perf_counter() - start:.0f} s; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
