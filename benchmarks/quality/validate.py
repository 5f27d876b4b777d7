"""Validation PSNR / SSIM / identity distance of restoration models on UTKFace validation faces (fixed seed).

The validation faces are degraded exactly as the training engine's validation does
(:func:`facedeblur.train.data.validation_set`: no flips, epoch 0, ``--seed``), once per recipe; PSNR/SSIM
are RGB, data range 1, outputs clamped to [0, 1] (:func:`facedeblur.train.validate.evaluate`, the
function the engine validates with, so both give the same figures for the same weights and set).
Identity distance is the L2 distance between the dlib face-recognition descriptors of restored and sharp
faces (:func:`facedeblur.face.identity.identity_from_aligned_face`; dlib calls < 0.6 the same person);
``--no-identity`` leaves it out. The degraded input is scored as a baseline. Prints markdown rows for the
README's Models tables and optionally writes JSON; with one model and one recipe the JSON also holds
``metrics`` (psnr, ssim, psnr_input, ssim_input), the form ``facedeblur export --metrics`` records.

    python benchmarks/quality/validate.py --models chrysos,dfpgnet,psfrgan --recipes deblur --limit 500
    python benchmarks/quality/validate.py --models runs/x/model.safetensors --no-identity --json val.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", "--model", default="default", help="comma-separated bundled names or .safetensors files"
    )
    parser.add_argument("--faces", "--val", default="../shared/data/utkface/val", help="folder of sharp faces")
    parser.add_argument("--recipes", "--recipe", default="deblur", help="comma-separated recipe names or YAMLs")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N faces (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="degradation seed")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-identity", action="store_true", help="skip the identity distance (no dlib network)")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)

    import torch
    from torch.utils.data import DataLoader

    from facedeblur.models.hub import load_weights, resolve_model
    from facedeblur.train.data import validation_set
    from facedeblur.train.validate import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    identity = None
    if not args.no_identity:
        from facedeblur.face.identity import identity_from_aligned_face, load_identity_network

        network = load_identity_network(device=args.device)

        def identity(restored: torch.Tensor, sharp: torch.Tensor) -> float:
            """Summed L2 distance between the descriptors of ``restored`` and ``sharp`` faces."""
            restored, sharp = restored.float().clamp(0, 1).to(args.device), sharp.float().to(args.device)
            diff = identity_from_aligned_face(restored, network) - identity_from_aligned_face(sharp, network)
            return float(diff.norm(dim=1).sum())

    models = {}
    for name in _names(args.models):
        model, meta = load_weights(resolve_model(name), device=args.device)
        models[name] = (model.eval(), meta)
    sizes = {meta.face_size for _, meta in models.values()}
    if len(sizes) != 1:
        print(f"models of different face sizes {sorted(sizes)}: validate them separately", file=sys.stderr)
        return 2
    size = sizes.pop()
    start = time.perf_counter()
    rows = []
    single = None
    for recipe in _names(args.recipes):
        data = validation_set(args.faces, size, recipe, seed=args.seed, limit=args.limit)
        loader = DataLoader(data, batch_size=args.batch_size, shuffle=False)
        baseline = None
        for name, (model, meta) in models.items():
            restored: list[torch.Tensor] = []

            def forward(lq: torch.Tensor, model=model, restored=restored) -> torch.Tensor:
                out = model(lq)
                restored.append(out.float().cpu())
                return out

            result = evaluate(forward, loader, device=args.device)
            m = result.metrics
            row = {"model": name, "recipe": recipe, "faces": result.count, "trained_on": meta.trained_on}
            row |= {"psnr": round(m["psnr"], 4), "ssim": round(m["ssim"], 4)}
            if baseline is None:
                baseline = {"model": "degraded input", "recipe": recipe, "faces": result.count, "trained_on": "-"}
                baseline |= {"psnr": round(m["psnr_input"], 4), "ssim": round(m["ssim_input"], 4)}
                if identity is not None:
                    baseline["id_l2"] = round(sum(identity(b["lq"], b["gt"]) for b in loader) / result.count, 4)
                rows.append(baseline)
            if identity is not None:
                total = sum(identity(out, batch["gt"]) for out, batch in zip(restored, loader, strict=True))
                row["id_l2"] = round(total / result.count, 4)
            rows.append(row)
            single = {k: round(v, 4) for k, v in m.items()}
    seconds = time.perf_counter() - start
    limit = f"first {args.limit}" if args.limit else "all"
    print(f"UTKFace validation ({args.faces}), {limit} faces, seed {args.seed}, {size} px\n")
    print("| model | trained on | recipe | PSNR (dB) | SSIM | identity L2 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        id_l2 = f"{r['id_l2']:.3f}" if "id_l2" in r else "-"
        print(f"| {r['model']} | {r['trained_on']} | {r['recipe']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {id_l2} |")
    print(f"\n({seconds:.0f} s)")
    if args.json:
        faces = args.faces if not os.path.isabs(args.faces) else os.path.relpath(args.faces)
        report = {"faces": faces, "seed": args.seed, "limit": args.limit, "size": size, "rows": rows}
        if len(models) == 1 and len(_names(args.recipes)) == 1:
            report["metrics"] = single  # what `facedeblur export --metrics` records
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
