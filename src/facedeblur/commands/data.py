"""``facedeblur data``: curate ground truths by sharpness, inspect datasets, precompute parsing labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facedeblur.commands import add_skip_bad_argument
from facedeblur.errors import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="curate and inspect training data")
    sub = parser.add_subparsers(dest="data_command", metavar="{curate,inspect,parse-labels}")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])

    c = sub.add_parser("curate", help="score ground-truth sharpness; list or drop the blurriest")
    c.add_argument("folder", help="folder of sharp faces (searched recursively)")
    c.add_argument("--metric", choices=["laplacian", "crete"], default="laplacian", help="score used to select")
    c.add_argument("--threshold", type=float, default=None, help="faces scoring below are rejected")
    c.add_argument("--size", type=int, default=128, help="score faces resized to SIZE px, the training size (0: as is)")
    c.add_argument("--list", type=int, default=0, metavar="N", help="print the N blurriest faces")
    c.add_argument("--report", default=None, help="write all scores and the summary to this JSON")
    c.add_argument("--keep-list", default=None, help="write the paths that pass --threshold to this file")
    c.add_argument("--move-rejected", default=None, metavar="DIR", help="move faces below --threshold into DIR")
    c.add_argument("--limit", type=int, default=None, help="first N images only")
    add_skip_bad_argument(c, "files")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(handler=_run_curate)

    i = sub.add_parser("inspect", help="summarise a folder of faces or of pairs (blurred/ + gt/)")
    i.add_argument("folder")
    i.add_argument("--check", action="store_true", help="decode every image to find bad files")
    i.set_defaults(handler=_run_inspect)

    p = sub.add_parser("parse-labels", help="precompute face parsing maps from 68 landmarks (PSFR-GAN)")
    p.add_argument("input", help="folder of sharp faces")
    p.add_argument("-o", "--output", required=True, help="folder for the label PNGs")
    p.add_argument("--size", type=int, default=128, help="side of the label maps (default 128)")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_run_parse_labels)


def _percentiles(values) -> dict[str, float]:
    import numpy as np

    qs = (1, 5, 10, 25, 50, 75, 90, 95, 99)
    pct = np.percentile(np.asarray(values, dtype=np.float64), qs)
    return {f"p{q}": round(float(v), 4) for q, v in zip(qs, pct, strict=True)}


def _run_curate(args: argparse.Namespace) -> int:
    import shutil

    from facedeblur.data.datasets import list_images
    from facedeblur.data.sharpness import METRICS, score_files
    from facedeblur.errors import InputError
    from facedeblur.images import write_text_atomic

    root = Path(args.folder)
    files = list_images(root)
    if args.limit is not None:
        files = files[: args.limit]
    if not files:
        raise UserError(f"{root}: no images found")
    if (args.keep_list or args.move_rejected) and args.threshold is None:
        raise UserError("--keep-list and --move-rejected need --threshold")
    try:
        size = args.size or None
        scores, failed = score_files(files, METRICS, args.skip_bad, not args.no_progress, size)
    except InputError as err:
        print(f"facedeblur data curate: error: {err} (stopped by --no-skip-bad)", file=sys.stderr)
        return 1
    ranked = sorted(scores, key=lambda p: scores[p][args.metric])
    summary = {m: _percentiles([s[m] for s in scores.values()]) for m in METRICS}
    print(f"{len(scores)} faces scored in {root}" + (f" at {size} px" if size else ""))
    for m in METRICS:
        print(f"  {m:9s} " + " ".join(f"{k}={v:g}" for k, v in summary[m].items()))
    kept = ranked
    if args.threshold is not None:
        kept = [p for p in ranked if scores[p][args.metric] >= args.threshold]
        share = 100.0 * len(kept) / max(1, len(scores))
        print(f"{args.metric} >= {args.threshold:g}: {len(kept)} of {len(scores)} faces kept ({share:.1f}%)")
    for path in ranked[: args.list]:
        print(f"{scores[path][args.metric]:12.4f}  {path}")
    kept_set = set(kept)
    rejected = [p for p in ranked if p not in kept_set]
    if args.keep_list:
        write_text_atomic(args.keep_list, "".join(f"{p}\n" for p in sorted(kept)))
    if args.move_rejected:
        dest_root = Path(args.move_rejected)
        if dest_root.resolve() == root.resolve() or root.resolve() in dest_root.resolve().parents:
            raise UserError("--move-rejected must be outside the curated folder")
        for path in rejected:
            dest = dest_root / Path(path).relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, dest)
        print(f"moved {len(rejected)} faces to {dest_root}")
    if args.report:
        report = {
            "command": "data curate",
            "folder": str(root),
            "metric": args.metric,
            "threshold": args.threshold,
            "size": size,
            "scored": len(scores),
            "kept": len(kept),
            "summary": summary,
            "failed": failed,
            "scores": scores,
        }
        write_text_atomic(args.report, json.dumps(report, indent=1, sort_keys=True) + "\n")
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def _run_inspect(args: argparse.Namespace) -> int:
    from collections import Counter

    from facedeblur.data.datasets import list_images
    from facedeblur.errors import InputError
    from facedeblur.images import read_image

    root = Path(args.folder)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    report: dict = {"folder": str(root)}
    if (root / "blurred").is_dir() and (root / "gt").is_dir():
        from facedeblur.data.datasets import PairedFolder

        report["kind"] = "pairs"
        report["pairs"] = len(PairedFolder(root).pairs)
        files = list_images(root / "blurred") + list_images(root / "gt")
    else:
        report["kind"] = "faces"
        files = list_images(root)
    report["images"] = len(files)
    report["extensions"] = dict(Counter(p.suffix.lower() for p in files))
    bad: list[str] = []
    if args.check:
        sizes: Counter = Counter()
        for path in files:
            try:
                image = read_image(path)
            except InputError as err:
                bad.append(str(err))
                continue
            sizes[f"{image.shape[1]}x{image.shape[0]}x{image.shape[2]} {image.dtype}"] += 1
        report["sizes"] = dict(sizes.most_common(10))
        report["bad"] = bad
    print(json.dumps(report, indent=1))
    return 1 if bad else 0


def _run_parse_labels(args: argparse.Namespace) -> int:
    from facedeblur.face.parsing import precompute_parse_labels

    if not Path(args.input).is_dir():
        raise UserError(f"{args.input}: not a folder")
    report = precompute_parse_labels(
        args.input,
        args.output,
        size=args.size,
        detector=args.detector,
        overwrite=args.overwrite,
        limit=args.limit,
        progress=not args.no_progress,
    )
    failed = report.get("failed", []) if isinstance(report, dict) else []
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (list, dict))}, indent=1))
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0
