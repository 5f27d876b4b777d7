"""Identity network speed: descriptors per second (ours in PyTorch vs dlib) and load times.

Prints a markdown table: for each batch size, descriptors per second of ``IdentityNet`` on the chosen
device (no gradients, 150x150 chips) and of dlib's ``compute_face_descriptor`` on the same chips
(CPU only), plus the one-off conversion time and the cached load time.

Usage:
    python benchmarks/speed/identity_speed.py --device cpu --threads 2 --batches 1 16 64
    python benchmarks/speed/identity_speed.py --device cuda --batches 1 64 256
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np


def rate(fn, count: int, min_seconds: float) -> float:
    """Items per second of ``fn`` (processing ``count`` items), after one warm-up call."""
    fn()
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return runs * count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per measurement")
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib's timings")
    args = parser.parse_args(argv)

    import os

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from facedeblur.face import identity_weights
    from facedeblur.face.identity import load_identity_network

    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "id.safetensors")
        start = time.perf_counter()
        identity_weights.load_identity_state(cache_path=cache)
        convert_s = time.perf_counter() - start
        start = time.perf_counter()
        identity_weights.load_identity_state(cache_path=cache)
        cached_s = time.perf_counter() - start
    device = torch.device(args.device)
    net = load_identity_network(device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"first-run conversion from .dat: {convert_s:.2f} s; load from cache: {cached_s:.2f} s")

    recognizer = None
    if not args.no_dlib:
        import dlib

        from facedeblur.face.model_files import dlib_model_path

        recognizer = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    rng = np.random.default_rng(0)
    print()
    print(f"| batch | ours on {device} (desc/s) | dlib CPU (desc/s) |")
    print("|---|---|---|")
    for batch in args.batches:
        chips = rng.integers(0, 256, size=(batch, 150, 150, 3), dtype=np.uint8)
        x = torch.from_numpy(chips).permute(0, 3, 1, 2).float().div(255).to(device)

        def ours(x=x) -> None:
            with torch.no_grad():
                net(x)
            if device.type == "cuda":
                torch.cuda.synchronize()

        ours_rate = rate(ours, batch, args.seconds)
        theirs = "-"
        if recognizer is not None:
            images = list(chips)

            def dlib_batch(images=images) -> None:
                recognizer.compute_face_descriptor(images)

            theirs = f"{rate(dlib_batch, batch, args.seconds):.1f}"
        print(f"| {batch} | {ours_rate:.1f} | {theirs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
