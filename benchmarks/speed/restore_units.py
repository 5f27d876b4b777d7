"""Restore cost per aligned face in reference units, on one CPU thread, through ``Restorer.restore_aligned``.

One reference unit is one 3x3 convolution 64 -> 64 channels on a 128x128 map at batch 1, timed in the same
process (so the figure does not depend on how fast or busy the machine is). The default restorer's target
is at most 3 units per face.

    python benchmarks/speed/restore_units.py                             # default model
    python benchmarks/speed/restore_units.py --models default chrysos --repeats 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    times = []
    for i in range(repeats + warmup):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["default"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    import numpy as np
    import torch

    from facedeblur.restore import Restorer

    torch.set_num_threads(args.threads)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    feature = torch.rand(1, 64, 128, 128)
    face = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    rows = []
    for name in args.models:
        restorer = Restorer(model=name, device="cpu")
        with torch.inference_mode():
            unit = median_ms(lambda: conv(feature), args.repeats)
        per_face = median_ms(lambda r=restorer: r.restore_aligned(face), args.repeats)
        with torch.inference_mode():
            unit = (unit + median_ms(lambda: conv(feature), args.repeats)) / 2  # before and after: drift-robust
        units = per_face / unit
        rows.append({"model": name, "ms_per_face": per_face, "unit_ms": unit, "units": units})
        print(f"{name}: {per_face:.1f} ms/face = {units:.2f} units (unit {unit:.1f} ms, {args.threads} thread)")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
