"""``facedeblur data``: curate ground truths by sharpness, inspect datasets, precompute parsing labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facedeblur.commands.grammar import add_command, add_quiet_argument, add_skip_bad_argument
from facedeblur.errors import UserError


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "data",
        help="curate and inspect training data",
        description="Curate ground truths by sharpness, inspect face and pair folders, precompute parsing labels.",
        examples=[
            ("data curate faces/ --list 20", "the 20 blurriest faces"),
            ("data inspect pairs/ --check", "count and decode every pair"),
            ("data parse-labels faces/ -o labels/", "PSFR-GAN parsing maps"),
        ],
    )
    sub = parser.add_subparsers(dest="data_command", metavar="{curate,inspect,parse-labels}", help="what to do")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])

    c = add_command(
        sub,
        "curate",
        help="score ground-truth sharpness; list or drop the blurriest",
        examples=[
            ("data curate faces/ --list 20", "print the 20 blurriest faces"),
            ("data curate faces/ --threshold 50 --keep-list keep.txt --report scores.json", "keep the sharp ones"),
            ("data curate faces/ --threshold 50 --move-rejected rejected/", "move the blurry ones out"),
        ],
    )
    c.add_argument("folder", help="folder of sharp faces (searched recursively)")
    c.add_argument(
        "--metric", choices=["laplacian", "crete"], default="laplacian", help="score used to select (default laplacian)"
    )
    c.add_argument("--threshold", type=float, default=None, help="faces scoring below are rejected")
    c.add_argument("--size", type=int, default=128, help="score faces resized to SIZE px, the training size (0: as is)")
    c.add_argument("--list", type=int, default=0, metavar="N", help="print the N blurriest faces")
    c.add_argument("--report", default=None, metavar="JSON", help="write all scores and the summary to this JSON")
    c.add_argument(
        "--keep-list", default=None, metavar="TXT", help="write the paths that pass --threshold to this file"
    )
    c.add_argument("--move-rejected", default=None, metavar="DIR", help="move faces below --threshold into DIR")
    c.add_argument("--limit", type=int, default=None, help="first N images only")
    add_skip_bad_argument(c, "files")
    add_quiet_argument(c)
    c.set_defaults(handler=_run_curate)

    i = add_command(
        sub,
        "inspect",
        help="summarise a folder of faces or of pairs (blurred/ + gt/)",
        examples=[("data inspect faces/", "count images by extension"), ("data inspect pairs/ --check", "decode all")],
    )
    i.add_argument("folder", help="a folder of faces, or of pairs (blurred/ and gt/ inside)")
    i.add_argument("--check", action="store_true", help="decode every image to find bad files")
    add_skip_bad_argument(i, "files")
    i.set_defaults(handler=_run_inspect)

    p = add_command(
        sub,
        "parse-labels",
        help="precompute face parsing maps from 68 landmarks (PSFR-GAN)",
        examples=[("data parse-labels faces/ -o labels/ --size 128", "one label PNG per face, resumable")],
    )
    p.add_argument("input", help="folder of sharp faces")
    p.add_argument("-o", "--output", required=True, help="folder for the label PNGs (not inside the input folder)")
    p.add_argument("--size", type=int, default=128, help="side of the label maps (default 128)")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog", help="dlib face detector (default hog)")
    p.add_argument("--overwrite", action="store_true", help="recompute labels that already exist")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    add_skip_bad_argument(p, "files")
    add_quiet_argument(p)
    p.set_defaults(handler=_run_parse_labels)


def _percentiles(values) -> dict[str, float]:
    import numpy as np

    qs = (1, 5, 10, 25, 50, 75, 90, 95, 99)
    pct = np.percentile(np.asarray(values, dtype=np.float64), qs)
    return {f"p{q}": round(float(v), 4) for q, v in zip(qs, pct, strict=True)}


def _run_curate(args: argparse.Namespace) -> int:
    import shutil

    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy
    from facedeblur.data.sharpness import METRICS, score_files
    from facedeblur.errors import InputError
    from facedeblur.images import write_text_atomic

    root = Path(args.folder)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    found = expand_inputs([root], IMAGE_EXTENSIONS, "images")
    files = [f.path for f in found.files]
    if args.limit is not None:
        files = files[: args.limit]
    if not files:
        raise UserError(f"{root}: no images found")
    for _, message in found.problems:  # dangling links, FIFOs named like images
        print(f"facedeblur data curate: {message}", file=sys.stderr)
    if (args.keep_list or args.move_rejected) and args.threshold is None:
        raise UserError("--keep-list and --move-rejected need --threshold")
    policy = PathPolicy(files, [root])
    for path, what in ((args.report, "--report"), (args.keep_list, "--keep-list")):
        if path:
            policy.reserve(path, what)
    if args.move_rejected:
        policy.check_folder(args.move_rejected, "--move-rejected")
    try:
        size = args.size or None
        scores, failed = score_files(files, METRICS, args.skip_bad, not args.quiet, size)
        failed = [message for _, message in found.problems] + failed
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
    for line in failed[len(found.problems) :]:  # the problems were named before scoring
        print(f"facedeblur data curate: {line}", file=sys.stderr)
    return 1 if failed else 0


def _run_inspect(args: argparse.Namespace) -> int:
    from collections import Counter

    from facedeblur.batch.run import run_one
    from facedeblur.data.datasets import list_images
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

        def describe(path: Path) -> dict:
            image = read_image(path)
            return {"pixels": f"{image.shape[1]}x{image.shape[0]}x{image.shape[2]} {image.dtype}"}

        for path in files:
            record = run_one(path, lambda path=path: describe(path))
            if record["status"] == "failed":
                bad.append(record["error"])
                print(f"facedeblur data inspect: {record['error']}", file=sys.stderr)
                if not args.skip_bad:
                    break
                continue
            sizes[record["pixels"]] += 1
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
        progress=not args.quiet,
        skip_bad=args.skip_bad,
        debug=args.debug,
    )
    print(json.dumps(report["summary"], indent=1))
    return 1 if report["summary"]["failed"] or report.get("stopped") else 0
