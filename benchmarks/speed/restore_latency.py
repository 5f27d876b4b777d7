"""Restore latency per aligned face on the CPU with a hub-loaded model (the figure in docs/benchmarks.md).

Loads the model exactly as `facedeblur restore --aligned` does (facedeblur.models.hub), then times the
forward pass on 128x128 faces (the model's face size) one at a time and in batches; prints the median.

    python benchmarks/speed/restore_latency.py                     # bundled default model, 1 and 2 threads
    python benchmarks/speed/restore_latency.py --model dfpgnet --threads 1 --batch 1 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts to time")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="faces per forward pass")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    args = parser.parse_args()

    import torch

    from facedeblur.models.hub import load_weights, resolve_model

    path = resolve_model(args.model)
    model, meta = load_weights(path, device=args.device)
    size = meta.face_size
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch:
            x = torch.rand(batch, 3, size, size, device=args.device)
            times = []
            with torch.inference_mode():
                for i in range(args.repeats + 3):
                    start = time.perf_counter()
                    model(x)
                    if args.device.startswith("cuda"):
                        torch.cuda.synchronize()
                    if i >= 3:  # warm-up
                        times.append(time.perf_counter() - start)
            per_face = statistics.median(times) / batch * 1000
            rows.append({"threads": threads, "batch": batch, "ms_per_face": round(per_face, 2)})
            print(f"{meta.name} ({size}px, {args.device}, {threads} thread(s), batch {batch}): {per_face:.1f} ms/face")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"model": args.model, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
