"""End-to-end restore time and peak memory for a 1080p photo with one and with ten faces; batched faces/s.

Each photo is a 1920x1080 JPEG composed of real UTKFace validation faces on a smooth synthetic
background (one face of 360 px, or ten faces of 200-260 px). "End to end" is what ``facedeblur restore``
does per file once the model is loaded: read the JPEG, detect, align, restore (batched), paste back,
write the JPEG. Every configuration runs in a fresh process so its peak resident memory (ru_maxrss,
model and libraries included) is its own. Then aligned 128 px faces are pushed through the model in
batches to give faces/s on the chosen device (``--device cuda`` on a GPU machine; without one the
script says so and measures the CPU). As a check that detection, alignment and paste-back work with
the model, the ten-face photo is blurred (Gaussian, ``--sigma``) and restored, and the PSNR inside the
faces is printed for the blurred and the restored photo.

Usage:
    python benchmarks/speed/restore_photo.py ../shared/data/utkface/val [--model default] [--device cpu] \
        [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYOUTS = {
    1: [(780, 300, 360)],
    10: [(80 + 360 * (i % 5), 120 + 480 * (i // 5), 200 + 15 * (i % 5)) for i in range(10)],
}


def compose(faces_dir: Path, count: int, path: Path) -> int:
    """Write a 1920x1080 JPEG with ``count`` UTKFace faces; returns how many the detector should find."""
    import cv2

    from facedeblur.face.detect import detect_faces
    from facedeblur.images import read_image, write_image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1080, 0:1920].astype(np.float32)
    image = np.stack([90 + 60 * xx / 1920, 120 + 40 * yy / 1080, 140 - 50 * xx / 1920], axis=2)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    faces = []
    for candidate in sorted(faces_dir.glob("*.jpg")):
        face = read_image(candidate)
        if len(detect_faces(face)) == 1:
            faces.append(face)
        if len(faces) == count:
            break
    for face, (x, y, side) in zip(faces, LAYOUTS[count], strict=True):
        image[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    write_image(path, image)
    return count


def run_one(args: argparse.Namespace) -> dict:
    """Child process: load the model, warm up, time ``repeats`` end-to-end restores of one photo."""
    import resource

    import torch

    from facedeblur.images import read_image, write_image
    from facedeblur.restore import Restorer

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    restorer = Restorer(args.model, device=args.device)
    load = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp()) / "out.jpg"
    times, stages, faces = [], [], 0
    for i in range(args.repeats + 1):  # the first run warms up (allocators, detector construction)
        t0 = time.perf_counter()
        result = restorer.restore(read_image(args.photo))
        write_image(out, result.image)
        if i:
            times.append(time.perf_counter() - t0)
            stages.append(result.timings)
        faces = len(result.faces)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "faces": faces,
        "seconds_median": float(np.median(times)),
        "seconds_min": float(np.min(times)),
        "stages": {k: round(float(np.median([s[k] for s in stages])), 4) for k in stages[0]},
        "model_load_s": round(load, 3),
        "peak_rss_mib": round(peak, 1),
        "device": restorer.device,
        "model": restorer.model.name,
        "torch_threads": torch.get_num_threads(),
    }


def blur_quality(args: argparse.Namespace, photo: Path, sigma: float) -> dict:
    """Blur the ten-face photo (Gaussian, ``sigma`` px), restore it, PSNR inside the faces' boxes vs sharp."""
    import cv2

    from facedeblur.images import read_image
    from facedeblur.restore import Restorer

    sharp = read_image(photo).astype(np.float32) / 255
    blurred = cv2.GaussianBlur(sharp, (0, 0), sigma)
    restorer = Restorer(args.model, device=args.device)
    result = restorer.restore((blurred * 255 + 0.5).astype(np.uint8))
    restored = result.image.astype(np.float32) / 255
    quantised = np.round(blurred * 255) / 255
    mask = np.zeros(sharp.shape[:2], bool)
    for x, y, side in LAYOUTS[10]:
        m = side // 8  # the inner face, away from the pasted square's edges
        mask[y + m : y + side - m, x + m : x + side - m] = True

    def psnr(a: np.ndarray) -> float:
        return float(10 * np.log10(1.0 / np.mean((a[mask] - sharp[mask]) ** 2)))

    return {"faces": len(result.faces), "blurred": psnr(quantised), "restored": psnr(restored)}


def faces_per_second(args: argparse.Namespace) -> dict:
    """Aligned 128 px faces through the model in batches of ``--batch``: faces/s on the device."""
    import torch

    from facedeblur.restore import load_face_model, resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_face_model(args.model, device=device, batch_size=args.batch)
    size = model.face_size
    batch = np.random.default_rng(0).random((args.batch, 3, size, size), dtype=np.float32)
    model(batch)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    rounds = max(1, args.repeats)
    t0 = time.perf_counter()
    for _ in range(rounds):
        model(batch)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"device": device, "batch": args.batch, "faces_per_s": round(rounds * args.batch / seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces_dir", type=Path, nargs="?", default=Path("../shared/data/utkface/val"))
    parser.add_argument("--model", default="default", help="bundled name, 'default' or a .safetensors path")
    parser.add_argument("--device", default="cpu", help="auto|cpu|cuda|mps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="batch size for the faces/s measure")
    parser.add_argument("--sigma", type=float, default=3.0, help="Gaussian blur for the quality check (px)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--photo", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        args.child.write_text(json.dumps(run_one(args)))
        return 0

    import torch

    print(f"cpu cores: {os.cpu_count()}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp())
    rows = []
    for count in (1, 10):
        photo = workdir / f"photo_{count}.jpg"
        compose(args.faces_dir, count, photo)
        result_file = workdir / f"result_{count}.json"
        cmd = [sys.executable, __file__, "--child", str(result_file), "--photo", str(photo)]
        cmd += ["--model", args.model, "--device", args.device, "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads)]
        subprocess.run(cmd, check=True)
        result = json.loads(result_file.read_text())
        rows.append((count, result))
        print(
            f"1920x1080 photo, {count:2d} face(s) placed, {result['faces']:2d} restored: "
            f"{result['seconds_median']:.3f} s end to end (median of {args.repeats}, min {result['seconds_min']:.3f}) "
            f"on {result['device']} ({result['torch_threads']} torch threads); "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB; stages {result['stages']}; "
            f"model load {result['model_load_s']} s"
        )
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("faces/s on GPU: no CUDA GPU on this machine (run with --device cuda where one is available)")
        args.device = "cpu"
    elif args.device in ("cpu", "auto") and not torch.cuda.is_available():
        print("faces/s on GPU: no CUDA GPU on this machine; measuring the CPU instead")
    quality = blur_quality(args, workdir / "photo_10.jpg", args.sigma)
    print(
        f"ten faces blurred (Gaussian sigma {args.sigma:g} px), {quality['faces']} restored: PSNR in the faces "
        f"{quality['blurred']:.2f} dB blurred -> {quality['restored']:.2f} dB restored"
    )
    fps = faces_per_second(args)
    print(f"batched aligned faces: {fps['faces_per_s']:.1f} faces/s on {fps['device']} (batch {fps['batch']})")
    model = rows[0][1]["model"]
    print("\nREADME rows:")
    for count, result in rows:
        print(
            f"| restore 1080p photo, {count} face(s), {model}, {result['device']} | "
            f"{result['seconds_median']:.2f} s | {result['peak_rss_mib']:.0f} MiB peak RSS | "
            f"`python benchmarks/speed/restore_photo.py` |"
        )
    print(
        f"| 1080p photo, 10 faces blurred (sigma {args.sigma:g}), {model} | PSNR in faces {quality['blurred']:.2f} -> "
        f"{quality['restored']:.2f} dB | | `python benchmarks/speed/restore_photo.py` |"
    )
    print(
        f"| batched faces/s, {model}, {fps['device']} (batch {fps['batch']}) | {fps['faces_per_s']:.1f} faces/s | | "
        f"`python benchmarks/speed/restore_photo.py --device {fps['device']}` |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
