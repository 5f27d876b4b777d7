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


CURATE = "data curate"


def _percentiles(values) -> dict[str, float]:
    import numpy as np

    qs = (1, 5, 10, 25, 50, 75, 90, 95, 99)
    pct = np.percentile(np.asarray(values, dtype=np.float64), qs)
    return {f"p{q}": round(float(v), 4) for q, v in zip(qs, pct, strict=True)}


def curate_summary(metrics, metric: str, threshold: float | None):
    """The summary fields a curate report adds to the batch counts (``summarize`` of its BatchReport).

    Args:
        metrics: the metrics every face is scored with.
        metric: the one ``--threshold`` applies to.
        threshold: faces scoring below are rejected (None: every scored face is kept).

    Returns:
        A function of the records giving ``scored``, ``kept`` and ``percentiles`` (per metric: p1 ... p99).

    Example:
        >>> summarize = curate_summary(("laplacian",), "laplacian", 10)
        >>> records = [{"status": "ok", "scores": {"laplacian": v}, "kept": v >= 10} for v in (5, 20, 30)]
        >>> summary = summarize(records + [{"status": "failed"}])
        >>> summary["scored"], summary["kept"], summary["percentiles"]["laplacian"]["p50"]
        (3, 2, 20.0)
    """

    def summarize(records: list[dict]) -> dict:
        scored = [r["scores"] for r in records if r["status"] == "ok" and "scores" in r]
        kept = sum(1 for r in records if r["status"] == "ok" and r.get("kept", True) and "scores" in r)
        percentiles = {m: _percentiles([s[m] for s in scored]) for m in metrics} if scored else {}
        return {
            "scored": len(scored),
            "kept": kept if threshold is not None else len(scored),
            "percentiles": percentiles,
        }

    return summarize


def _run_curate(args: argparse.Namespace) -> int:
    import shutil

    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import run_batch
    from facedeblur.data.sharpness import METRICS, score_file
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
        print(f"facedeblur {CURATE}: {message}", file=sys.stderr)
    if (args.keep_list or args.move_rejected) and args.threshold is None:
        raise UserError("--keep-list and --move-rejected need --threshold")
    policy = PathPolicy(files, [root])
    for path, what in ((args.report, "--report"), (args.keep_list, "--keep-list")):
        if path:
            policy.reserve(path, what)
    if args.move_rejected:
        policy.check_folder(args.move_rejected, "--move-rejected")
    size = args.size or None
    options = {
        "folder": str(root),
        "metric": args.metric,
        "threshold": args.threshold,
        "size": size,
        "limit": args.limit,
        "keep_list": args.keep_list,
        "move_rejected": args.move_rejected,
    }
    # the batch core's report; "size" also at the top, where facedeblur.data.datasets.load_scores checks it
    report = BatchReport(args.report, CURATE, options, summarize=curate_summary(METRICS, args.metric, args.threshold))
    report.extra = {"size": size}
    for item, message in found.problems:  # named above
        report.add({"input": str(item), "status": "failed", "error": message})

    def work(path: Path) -> dict:
        scores = score_file(path, METRICS, size)
        return {
            "scores": scores,
            **({"kept": scores[args.metric] >= args.threshold} if args.threshold is not None else {}),
        }

    result = run_batch(
        files,
        work,
        report,
        command=CURATE,
        skip_bad=args.skip_bad,
        progress=not args.quiet,
        debug=args.debug,
        unit="img",
    )
    if result.stopped:
        return 1
    records = [r for r in result.report["files"] if r["status"] == "ok" and "scores" in r]
    summary = result.report["summary"]
    print(f"{summary['scored']} faces scored in {root}" + (f" at {size} px" if size else ""))
    for m, values in summary["percentiles"].items():
        print(f"  {m:9s} " + " ".join(f"{k}={v:g}" for k, v in values.items()))
    ranked = sorted(records, key=lambda r: r["scores"][args.metric])
    kept = [r["input"] for r in ranked if r.get("kept", True)]
    if args.threshold is not None:
        share = 100.0 * len(kept) / max(1, len(ranked))
        print(f"{args.metric} >= {args.threshold:g}: {len(kept)} of {len(ranked)} faces kept ({share:.1f}%)")
    for r in ranked[: args.list]:
        print(f"{r['scores'][args.metric]:12.4f}  {r['input']}")
    if args.keep_list:
        write_text_atomic(args.keep_list, "".join(f"{p}\n" for p in sorted(kept)))
    if args.move_rejected:
        dest_root = Path(args.move_rejected)
        rejected = [r for r in ranked if not r["kept"]]
        for r in rejected:
            dest = dest_root / Path(r["input"]).relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(r["input"], dest)
            report.add({**r, "moved_to": str(dest)})
        print(f"moved {len(rejected)} faces to {dest_root}")
        try:
            report.close()
        except OSError as err:
            from facedeblur.errors import describe_os_error

            why = describe_os_error(err, args.report)
            print(f"facedeblur {CURATE}: the report could not be written: {why}", file=sys.stderr)
            return 1
    return result.exit_code


def _run_inspect(args: argparse.Namespace) -> int:
    from collections import Counter

    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.run import run_one
    from facedeblur.images import read_image

    root = Path(args.folder)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    report: dict = {"folder": str(root)}
    problems: list[str] = []  # one line each, on stderr; the report counts them
    pairs: list[tuple[Path, Path]] = []
    if (root / "blurred").is_dir() and (root / "gt").is_dir():
        from facedeblur.data.datasets import match_pairs

        report["kind"] = "pairs"
        pairs, missing = match_pairs(root)
        report["pairs"] = len(pairs)
        found = expand_inputs([root / "blurred", root / "gt"], IMAGE_EXTENSIONS, "images")
        problems += [f"{path}: no ground truth in {root / 'gt'}" for path in missing]
    else:
        report["kind"] = "faces"
        found = expand_inputs([root], IMAGE_EXTENSIONS, "images")
    files = [f.path for f in found.files]
    problems = [message for _, message in found.problems] + problems  # dangling links, FIFOs, ...
    report["images"] = len(files)
    report["extensions"] = dict(Counter(p.suffix.lower() for p in files))

    def complain(message: str) -> None:
        problems.append(message)
        print(f"facedeblur data inspect: {message}", file=sys.stderr)

    for message in list(problems):
        print(f"facedeblur data inspect: {message}", file=sys.stderr)
    if args.check and (args.skip_bad or not problems):
        sizes: Counter = Counter()
        shapes: dict[Path, tuple[int, ...]] = {}

        def describe(path: Path) -> dict:
            image = read_image(path)
            shapes[path] = image.shape[:2]
            return {"pixels": f"{image.shape[1]}x{image.shape[0]}x{image.shape[2]} {image.dtype}"}

        for path in files:
            record = run_one(path, lambda path=path: describe(path))
            if record["status"] == "failed":
                complain(record["error"])
                if not args.skip_bad:
                    break
                continue
            sizes[record["pixels"]] += 1
        for blurred, gt in pairs:
            if blurred in shapes and gt in shapes and shapes[blurred] != shapes[gt]:
                complain(f"{blurred}: size {shapes[blurred]} differs from its ground truth {shapes[gt]}")
        report["decoded"] = sum(sizes.values())
        report["sizes"] = dict(sizes.most_common(10))  # the 10 commonest
    report["bad"] = len(problems)
    print(json.dumps(report, indent=1))
    return 1 if problems else 0


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
