"""Validation PSNR/SSIM of a restoration model on degraded aligned faces (the figures in README ## Models).

Degrades the validation faces with a recipe and a fixed seed (the same pairs every run), restores them
with the model, and prints mean PSNR/SSIM (RGB, data range 1; facedeblur.eval.metrics) of the degraded
input and of the restored faces.

    python benchmarks/validate_model.py --model chrysos                       # bundled model, all 500 val faces
    python benchmarks/validate_model.py --model runs/x/model.safetensors --limit 100 --json val.json
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="bundled model name, 'default' or a .safetensors file")
    parser.add_argument("--val", default="../shared/data/utkface/val", help="folder of sharp aligned faces")
    parser.add_argument("--recipe", default="deblur", help="degradation recipe name or YAML")
    parser.add_argument("--seed", type=int, default=0, help="degradation seed")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N faces")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    args = parser.parse_args()

    import torch
    from torch.utils.data import DataLoader

    from facedeblur.models.hub import load_weights, resolve_model
    from facedeblur.train.data import validation_set
    from facedeblur.train.validate import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve_model(args.model)
    model, meta = load_weights(path, device=args.device)
    dataset = validation_set(args.val, meta.face_size, args.recipe, seed=args.seed, limit=args.limit)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False)
    start = time.perf_counter()
    result = evaluate(model, loader, device=args.device)
    seconds = time.perf_counter() - start
    report = {
        "model": str(path),
        "name": meta.name,
        "val": args.val,
        "faces": result.count,
        "recipe": args.recipe,
        "seed": args.seed,
        "metrics": {k: round(v, 4) for k, v in result.metrics.items()},
        "seconds": round(seconds, 1),
    }
    m = report["metrics"]
    print(
        f"{meta.name}: {result.count} faces, {args.recipe} recipe, seed {args.seed}: "
        f"input PSNR {m['psnr_input']:.2f} dB / SSIM {m['ssim_input']:.4f} -> "
        f"restored PSNR {m['psnr']:.2f} dB / SSIM {m['ssim']:.4f}"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
