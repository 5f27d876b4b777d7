"""Validation PSNR / SSIM / identity distance of restoration models on UTKFace validation faces (fixed seed).

The validation faces are degraded exactly as the training engine's validation does
(:func:`facedeblur.train.data.validation_set`: no flips, epoch 0, ``--seed``), once per recipe; PSNR/SSIM
are RGB, data range 1 (:mod:`facedeblur.eval.metrics`), identity distance is the L2 distance between the
dlib face-recognition descriptors of restored and sharp faces (:func:`facedeblur.face.identity.
identity_from_aligned_face`; dlib calls < 0.6 the same person). The degraded input is scored as a baseline.
Prints markdown rows for the README's Models table and optionally writes JSON.

    python benchmarks/validate_models.py --models psfrgan,parsenet --recipes deblur,restore --limit 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="psfrgan", help="comma-separated bundled names or .safetensors files")
    parser.add_argument("--faces", default="../shared/data/utkface/val")
    parser.add_argument("--recipes", default="deblur,restore")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)

    import torch
    from torch.utils.data import DataLoader

    from facedeblur.eval.metrics import psnr, ssim
    from facedeblur.face.identity import identity_from_aligned_face, load_identity_network
    from facedeblur.models.hub import load_weights, resolve_model
    from facedeblur.train.data import validation_set

    torch.set_grad_enabled(False)
    idnet = load_identity_network()
    models = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model, meta = load_weights(resolve_model(name))
        models[name] = (model.eval(), meta)
    sizes = {meta.face_size for _, meta in models.values()} or {128}
    if len(sizes) != 1:
        print(f"models of different face sizes {sorted(sizes)}: validate them separately", file=sys.stderr)
        return 2
    size = sizes.pop()
    rows = []
    start = time.time()
    for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        data = validation_set(args.faces, size, recipe, seed=args.seed, limit=args.limit)
        sums: dict[str, dict[str, float]] = {}
        count = 0
        for batch in DataLoader(data, batch_size=args.batch_size, shuffle=False):
            lq, gt = batch["lq"].float(), batch["gt"].float()
            gt_desc = identity_from_aligned_face(gt, idnet)
            outputs = {"degraded input": lq}
            for name, (model, _) in models.items():
                outputs[name] = model(lq).float().clamp(0, 1)
            for name, out in outputs.items():
                s = sums.setdefault(name, {"psnr": 0.0, "ssim": 0.0, "id_l2": 0.0})
                s["psnr"] += float(psnr(out, gt).sum())
                s["ssim"] += float(ssim(out, gt).sum())
                s["id_l2"] += float((identity_from_aligned_face(out, idnet) - gt_desc).norm(dim=1).sum())
            count += lq.shape[0]
        for name, s in sums.items():
            trained = models[name][1].trained_on if name in models else "-"
            rows.append(
                {
                    "model": name,
                    "recipe": recipe,
                    "faces": count,
                    "trained_on": trained,
                    **{k: round(v / count, 4) for k, v in s.items()},
                }
            )
    print(f"UTKFace validation ({args.faces}), first {args.limit} faces, seed {args.seed}, {size} px\n")
    print("| model | trained on | recipe | PSNR (dB) | SSIM | identity L2 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        figures = f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['id_l2']:.3f}"
        print(f"| {r['model']} | {r['trained_on']} | {r['recipe']} | {figures} |")
    print(f"\n({time.time() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "limit": args.limit, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
