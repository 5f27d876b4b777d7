"""Fit the NIQE pristine model shipped as ``src/facedeblur/eval/niqe_faces.npz`` on sharp UTKFace faces.

A seeded random sample of training faces (200 px, resized to 128 px with area interpolation) is ranked
by variance of the Laplacian; the sharpest ``--keep`` fraction are the pristine images. From each, the
32 px patches at least 0.75 as sharp as its sharpest patch give 36 NIQE features; their mean and
covariance are the model.

Usage (about half a minute on one core):
    python benchmarks/assets/fit_niqe.py ../shared/data/utkface/train --sample 4000 --keep 0.5 \
        -o src/facedeblur/eval/niqe_faces.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from facedeblur.eval.faces import laplacian_variance, list_images, load_face
    from facedeblur.eval.niqe import DEFAULT_PATCH_SIZE, fit_niqe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of sharp training faces (UTKFace train)")
    parser.add_argument("--sample", type=int, default=4000, help="faces sampled from the folder")
    parser.add_argument("--keep", type=float, default=0.5, help="fraction of the sharpest sampled faces kept")
    parser.add_argument("--size", type=int, default=128, help="face side in pixels")
    parser.add_argument("--patch-size", type=int, default=DEFAULT_PATCH_SIZE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=Path("src/facedeblur/eval/niqe_faces.npz"))
    args = parser.parse_args(argv)

    start = time.time()
    paths = list_images(args.folder)
    rng = np.random.default_rng(args.seed)
    if 0 < args.sample < len(paths):
        paths = [paths[i] for i in sorted(rng.choice(len(paths), size=args.sample, replace=False))]
    faces = [load_face(p, args.size) for p in paths]
    sharpness = np.array([laplacian_variance(f) for f in faces])
    order = np.argsort(-sharpness)[: max(1, int(round(args.keep * len(faces))))]
    pristine = [faces[i] for i in sorted(order)]
    info = {
        "source": f"{args.folder.name} of UTKFace (sharpest {args.keep:.0%} of {len(faces)} sampled, seed {args.seed})",
        "size": args.size,
        "min_laplacian_variance": float(sharpness[order].min()),
    }
    model = fit_niqe(pristine, args.patch_size, info)
    model.save(args.output)
    print(f"fitted NIQE on {model.info['images']} faces, {model.info['patches']} patches -> {args.output}")
    print(f"took {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
