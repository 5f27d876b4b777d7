"""Pair-synthesis throughput at 128 px: numpy path on one CPU core, torch path on the best device.

Faces come from a folder (UTKFace val, resized to 128 px) or are synthetic when no folder is given.
For each recipe it prints pairs/s of :func:`degrade_numpy` (one core, OpenCV and torch limited to one
thread; also per CPU-second of the process, the fair figure on a shared, loaded machine) and of
:func:`degrade_torch` (batched, on CUDA when available, else CPU), and the mean PSNR of both degraded
sets against the sharp faces (their statistics should agree), and the CPU time per sample of the torch
path's parameter sampler (what bounds it on a fast GPU). ``--bank`` also times
the ``deblur`` recipe drawing its shake kernels from a precomputed MSPL-like kernel bank.

Usage:
    python benchmarks/speed/degrade.py ../shared/data/utkface/val --pairs 1000 -o benchmarks/results/degrade.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def load_faces(folder: Path | None, count: int, size: int = 128) -> np.ndarray:
    from facedeblur.data.datasets import list_images
    from facedeblur.degrade.ops import square_resize
    from facedeblur.images import read_image, to_float_rgb

    if folder is None:
        rng = np.random.default_rng(0)
        return rng.random((count, size // 8, size // 8, 3)).astype(np.float32).repeat(8, 1).repeat(8, 2)
    files = list_images(folder)[:count]
    return np.stack([square_resize(to_float_rgb(read_image(p))[0], size) for p in files]).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 10 * np.log10(1 / np.maximum(np.mean((a - b) ** 2, axis=(1, 2, 3)), 1e-12))


def bench_numpy(faces, recipe, pairs: int) -> tuple[float, float, float]:
    """Returns (pairs per wall second, pairs per CPU second of this process, mean PSNR)."""
    from facedeblur.degrade.recipes import degrade_numpy, prepare_target

    rng = np.random.default_rng(0)
    scores = []
    bookkeeping = cpu_bookkeeping = 0.0
    cpu_start = time.process_time()
    start = time.perf_counter()
    for i in range(pairs):
        face = faces[i % len(faces)]
        lq, params = degrade_numpy(face, recipe, rng)
        if i < 512:  # PSNR bookkeeping, excluded from the timing
            t0 = time.perf_counter()
            c0 = time.process_time()
            scores.append(psnr(lq[None], prepare_target(face, params)[None])[0])
            bookkeeping += time.perf_counter() - t0
            cpu_bookkeeping += time.process_time() - c0
    seconds = time.perf_counter() - start - bookkeeping
    cpu_seconds = time.process_time() - cpu_start - cpu_bookkeeping
    return pairs / seconds, pairs / cpu_seconds, float(np.mean(scores))


def bench_torch(faces, recipe, pairs: int, device: str, batch: int) -> tuple[float, float, float]:
    """Returns (pairs per wall second, pairs per CPU second of this process, mean PSNR)."""
    import torch

    from facedeblur.degrade.recipes import degrade_torch, prepare_target

    x = torch.from_numpy(faces).permute(0, 3, 1, 2).contiguous().to(device)
    reps = int(np.ceil(batch / len(x)))
    x = x.repeat(reps, 1, 1, 1)[:batch]
    gen = torch.Generator(device=device).manual_seed(0)
    degrade_torch(x[:8], recipe, gen)  # warm-up
    scores = []
    done = 0
    bookkeeping = cpu_bookkeeping = 0.0
    if device == "cuda":
        torch.cuda.synchronize()
    cpu_start = time.process_time()
    start = time.perf_counter()
    while done < pairs:
        lq, params = degrade_torch(x, recipe, gen)
        if len(scores) < 512:  # PSNR of the first batches, excluded from the timing
            t0, c0 = time.perf_counter(), time.process_time()
            gt = prepare_target(x, params)
            scores.extend(psnr(lq.float().cpu().numpy(), gt.float().cpu().numpy()).tolist())
            bookkeeping += time.perf_counter() - t0
            cpu_bookkeeping += time.process_time() - c0
        done += len(x)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start - bookkeeping
    cpu_seconds = time.process_time() - cpu_start - cpu_bookkeeping
    return done / seconds, done / cpu_seconds, float(np.mean(scores[:512]))


def bench_sampling(recipe, samples: int = 1024, batch: int = 256) -> float:
    """CPU microseconds per sample of the vectorised parameter sampler used by the torch path."""
    from facedeblur.degrade.recipes import sample_params_batch

    rng = np.random.default_rng(0)
    start = time.process_time()
    for _ in range(samples // batch):
        sample_params_batch(recipe, rng, batch, 128, 128)
    return (time.process_time() - start) / samples * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces", nargs="?", type=Path, help="folder of faces (default: synthetic)")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs per measurement")
    parser.add_argument("--batch", type=int, default=256, help="torch batch size")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--bank", action="store_true", help="also time deblur with a precomputed kernel bank")
    parser.add_argument("-o", "--output", type=Path, help="JSON file for the results")
    args = parser.parse_args(argv)

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from facedeblur.degrade.kernels import kernel_bank
    from facedeblur.degrade.recipes import DeblurRecipe, RestoreRecipe

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    faces = load_faces(args.faces, 256)
    recipes = {"deblur": DeblurRecipe(), "restore": RestoreRecipe()}
    if args.bank:
        bank_path = Path(tempfile.mkdtemp()) / "bank.npz"
        np.savez(bank_path, **kernel_bank(100, seed=0))
        recipes["deblur+bank"] = DeblurRecipe(kernel_bank=str(bank_path))
    rows = []
    for name, recipe in recipes.items():
        np_rate, np_cpu_rate, np_psnr = bench_numpy(faces, recipe, args.pairs)
        t_rate, t_cpu_rate, t_psnr = bench_torch(faces, recipe, args.pairs, device, args.batch)
        sampling_us = bench_sampling(recipe)
        rows.append(
            {
                "recipe": name,
                "numpy_pairs_per_s_1core": round(np_rate, 1),
                "numpy_pairs_per_cpu_s": round(np_cpu_rate, 1),
                "torch_pairs_per_s": round(t_rate, 1),
                "torch_pairs_per_cpu_s": round(t_cpu_rate, 1) if device == "cpu" else None,
                "torch_device": device,
                "torch_param_sampling_us_per_sample": round(sampling_us, 1),
                "numpy_mean_psnr": round(np_psnr, 2),
                "torch_mean_psnr": round(t_psnr, 2),
            }
        )
        r = rows[-1]
        print(
            f"{name:12s} numpy 1 core {r['numpy_pairs_per_s_1core']:8.1f} pairs/s "
            f"({r['numpy_pairs_per_cpu_s']:.1f} per CPU-s)   "
            f"torch {device} {r['torch_pairs_per_s']:9.1f} pairs/s"
            + (f" ({t_cpu_rate:.1f} per CPU-s)   " if device == "cpu" else "   ")
            + f"sampling {sampling_us:.0f} us/sample   "
            + f"mean PSNR numpy {np_psnr:.2f} dB / torch {t_psnr:.2f} dB"
        )
    result = {
        "size": 128,
        "faces": os.path.relpath(args.faces) if args.faces else "synthetic",
        "pairs": args.pairs,
        "batch": args.batch,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__},
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "rows": rows,
    }
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
