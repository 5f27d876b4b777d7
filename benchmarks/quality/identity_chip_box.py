"""Where dlib's 150 px face chip lies inside an aligned (UTKFace-geometry) face, and what it buys.

For every face of a folder of UTKFace 200 px aligned faces: dlib HOG detection (one upsampling,
largest face), 5-point landmarks, ``dlib.get_face_chip_details(shape, 150, 0.25)``. The chip's square
is expressed as (centre x, centre y, side) in fractions of the face side (pixel-edge convention, the
one ``aligned_face_to_chip`` uses) and averaged: that is ``UTKFACE_CHIP_BOX`` in
``facedeblur/face/identity.py``.

It checks parity: our descriptor of each dlib chip against dlib's ``compute_face_descriptor`` of
the face (max absolute difference over all faces and the 128 dimensions). Then it compares, against
the descriptor of each face's own dlib chip, the descriptors of (a) the whole aligned face resized
to 150 px (what ``IdentityNet.forward`` does with it), (b) the fixed mean box cropped from the
200 px face and (c) from the face resized to 128 px
(``identity_from_aligned_face``), with the distance between different people for scale.

Usage:
    python benchmarks/quality/identity_chip_box.py ../shared/data/utkface/val
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def chip_box(details, size: int) -> tuple[float, float, float, float]:
    """(cx, cy, side, angle) of a dlib chip_details; cx, cy, side in fractions of ``size``."""
    rect = details.rect
    left, top, right, bottom = rect.left(), rect.top(), rect.right(), rect.bottom()
    rows = details.rows
    # dlib maps chip pixel 0 to rect.left and pixel rows-1 to rect.right (pixel centres): the chip's
    # outer edges lie half a chip pixel further out.
    side = (right - left) * rows / (rows - 1)
    return ((left + right) / 2 + 0.5) / size, ((top + bottom) / 2 + 0.5) / size, side / size, details.angle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of UTKFace 200 px aligned faces")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N faces (0: all)")
    args = parser.parse_args(argv)

    import dlib
    import torch
    import torch.nn.functional as F

    from facedeblur.face.identity import aligned_face_to_chip, descriptor_distance, load_identity_network
    from facedeblur.face.model_files import dlib_model_path
    from facedeblur.images import read_image

    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.limit:
        files = files[: args.limit]
    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    recognizer = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    faces, chips, boxes, dlib_desc = [], [], [], []
    for path in files:
        image = read_image(path)[..., :3]
        rects = detector(image, 1)
        if not rects:
            continue
        shape = sp5(image, max(rects, key=lambda r: r.area()))
        boxes.append(chip_box(dlib.get_face_chip_details(shape, 150, 0.25), image.shape[1]))
        chips.append(dlib.get_face_chip(image, shape, 150, 0.25))
        faces.append(image)
        dlib_desc.append(np.array(recognizer.compute_face_descriptor(image, shape)))
    if not faces:
        print("no faces found", file=sys.stderr)
        return 1
    b = np.array(boxes)
    mean_box = tuple(float(v) for v in b[:, :3].mean(0))
    print(f"faces: {len(faces)} of {len(files)} detected")
    print(f"chip box (cx, cy, side) mean: ({mean_box[0]:.4f}, {mean_box[1]:.4f}, {mean_box[2]:.4f})")
    print(f"  std: ({b[:, 0].std():.4f}, {b[:, 1].std():.4f}, {b[:, 2].std():.4f})")
    print(f"  angle (rad) mean {b[:, 3].mean():+.4f}, std {b[:, 3].std():.4f}")

    net = load_identity_network()

    def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0

    with torch.no_grad():
        face200 = to_tensor(faces)
        face128 = F.interpolate(face200, size=(128, 128), mode="area")
        ref = torch.cat([net(c) for c in to_tensor(chips).split(64)])
        diff = (ref - torch.from_numpy(np.stack(dlib_desc)).float()).abs()
        print(f"parity with dlib's compute_face_descriptor: max |diff| {diff.max():.2e}, mean {diff.mean():.2e}")
        variants = {
            "whole face resized to 150": torch.cat([net(f) for f in face200.split(64)]),
            "mean chip box from 200 px": torch.cat([net(aligned_face_to_chip(f, mean_box)) for f in face200.split(64)]),
            "mean chip box from 128 px": torch.cat([net(aligned_face_to_chip(f, mean_box)) for f in face128.split(64)]),
        }
        others = ref.roll(1, dims=0)  # a different person (almost surely) for scale
        print()
        print("| descriptor of | cosine similarity to own dlib chip (mean / min) | L2 to own chip (mean / max) |")
        print("|---|---|---|")
        for name, desc in variants.items():
            cos = 1 - descriptor_distance(desc, ref, "cosine")
            l2 = descriptor_distance(desc, ref, "l2")
            print(f"| {name} | {cos.mean():.4f} / {cos.min():.4f} | {l2.mean():.4f} / {l2.max():.4f} |")
        cos = 1 - descriptor_distance(others, ref, "cosine")
        l2 = descriptor_distance(others, ref, "l2")
        print(f"| another person's chip | {cos.mean():.4f} / {cos.min():.4f} | {l2.mean():.4f} / {l2.max():.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
