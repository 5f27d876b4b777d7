"""``facedeblur evaluate``: score one model or baseline on a pairs folder (per-image table and means)."""

from __future__ import annotations

import argparse
import json
import sys

from facedeblur.commands.grammar import (
    add_command,
    add_device_argument,
    add_model_argument,
    add_quiet_argument,
    add_skip_bad_argument,
)

REPORT_NAME = "report.json"  # in -o: one record per pair (the batch core's report)
METRIC_SETS = {"fast": "psnr,ssim,psnr_y,ssim_y,ms_ssim,niqe"}


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "evaluate",
        help="score a model or baseline on blurred/ + gt/ pairs",
        description=(
            "Restore every image of PAIRS/blurred with a model and compare it with PAIRS/gt (matching file names). "
            "Prints one row per image and the means: PSNR and SSIM on RGB and on the Y channel, MS-SSIM, NIQE "
            "(no-reference, fitted on sharp faces), identity distance (cosine, L2) between face-recognition "
            "descriptors, 68-point landmark error normalised by the inter-ocular distance, and FID-ID, the "
            "Fréchet distance between the identity descriptors of the restored and true sets. Baselines: "
            "'blurred' (the input), 'wiener' and 'richardson-lucy' (non-blind: they read the true kernel of "
            "each pair from PAIRS/kernels/NAME.npy). Make pairs with `facedeblur benchmark` or bring your own. "
            "A pair that cannot be read or scored is named in one line and the others are scored; with -o, "
            "OUT/report.json holds one record per pair, written as the run goes, and --skip-existing resumes "
            "an interrupted run from it."
        ),
        examples=[
            ("evaluate --pairs pairs/ -m chrysos", "all metrics, one row per image"),
            ("evaluate --pairs pairs/ -m wiener --metrics fast -o scores/", "a baseline, CSV + JSON"),
            ("evaluate --pairs pairs/ -m my.safetensors --save-images restored/", "keep the restored faces"),
            ("evaluate --pairs pairs/ -m chrysos -o scores/ --skip-existing", "resume an interrupted run"),
        ],
    )
    add_model_argument(parser, extra=", or a baseline: blurred, wiener, richardson-lucy (default: default)")
    parser.add_argument("--pairs", help="folder with blurred/ and gt/ (and optionally kernels/)")
    parser.add_argument(
        "--video",
        metavar="CLIP",
        help="score a video restoration instead: flicker (motion-compensated frame-to-frame change in the face, "
        "against the input's) and fine detail kept, on the first --seconds of CLIP restored with --model "
        "(or given as --restored)",
    )
    parser.add_argument("--restored", metavar="VIDEO", help="with --video: an existing restoration of CLIP to score")
    parser.add_argument("--seconds", type=float, default=10.0, help="with --video: seconds compared (default 10)")
    parser.add_argument(
        "--metrics",
        default="all",
        help="comma-separated metrics, 'all' or 'fast' (no identity or landmark metrics) (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        help="folder for per_image.csv, summary.json and report.json, the per-pair records (not inside the "
        "pairs' sub-folders)",
    )
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="resume: keep the scores of pairs -o's report.json already holds for the same model, metrics and "
        "pair files (and whose --save-images image exists); score the rest",
    )
    parser.add_argument(
        "--save-images", metavar="DIR", help="also write the restored images to DIR (not inside the pairs' folders)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="faces per model call (default: %(default)s)")
    add_device_argument(parser, "the model")
    add_skip_bad_argument(parser, "pairs")
    add_quiet_argument(parser, "no progress bar; print only the means")
    parser.set_defaults(handler=_run)


def parse_metrics(text: str) -> list[str]:
    """``all``, ``fast`` or a comma-separated list, checked against the known metrics."""
    from facedeblur.errors import UserError
    from facedeblur.eval.runner import METRICS

    if text == "all":
        return list(METRICS)
    names = [m.strip() for m in METRIC_SETS.get(text, text).split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise UserError(f"unknown metrics {unknown or text!r}; known: {', '.join(METRICS)}, or 'all', 'fast'")
    return names


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.run import remove_stale_temps
    from facedeblur.errors import UserError
    from facedeblur.eval.report import markdown_table, write_csv
    from facedeblur.eval.runner import BASELINES, evaluate_method, load_method, read_pairs
    from facedeblur.images import write_text_atomic
    from facedeblur.restore import resolve_device

    if args.batch_size < 1:
        raise UserError("--batch-size must be >= 1")
    if args.video:
        return _run_video(args)
    if not args.pairs:
        raise UserError("give --pairs FOLDER (image pairs) or --video CLIP")
    metrics = parse_metrics(args.metrics)
    pairs = read_pairs(args.pairs)
    root = Path(args.pairs)
    policy = PathPolicy(
        [path for p in pairs for path in (p.blurred, p.gt, p.kernel) if path is not None],
        [root / sub for sub in ("blurred", "gt", "kernels", "params") if (root / sub).is_dir()],
    )
    if args.skip_existing and not args.output:
        raise UserError("--skip-existing resumes from the report in -o: give -o DIR")
    report_path = None
    if args.output:
        policy.check_folder(args.output, "--output")
        for name in ("per_image.csv", "summary.json"):
            policy.reserve(Path(args.output) / name, "--output")
        report_path = policy.reserve(Path(args.output) / REPORT_NAME, "--output")
    saved = []
    if args.save_images:
        policy.check_folder(args.save_images, "--save-images")
        for pair in pairs:
            saved.append(policy.reserve(Path(args.save_images) / f"{pair.name}.png", "--save-images", pair.blurred))
    for folder, what in ((args.output, "--output"), (args.save_images, "--save-images")):
        if folder:  # an output that cannot be written fails now, not after all the scoring
            check_writable_folder(folder, what)
    if args.output:
        out = Path(args.output)
        remove_stale_temps([out / "per_image.csv", out / "summary.json", out / REPORT_NAME, *saved])
    else:
        remove_stale_temps(saved)
    device = args.device if args.model in BASELINES else resolve_device(args.device)
    method = load_method(args.model, device)
    if method.needs_kernel and not any(p.kernel is not None for p in pairs):
        raise UserError(f"{args.model} needs the true blur kernels, but {args.pairs} has no kernels/NAME.npy files")
    result = evaluate_method(
        pairs,
        method,
        metrics,
        args.batch_size,
        save_dir=args.save_images,
        progress=not args.quiet,
        report_path=report_path,
        resume=args.skip_existing,
        options={"pairs": str(args.pairs), "save_images": args.save_images},
        skip_bad=args.skip_bad,
        debug=args.debug,
    )
    if result.stopped:  # said in one line; the report keeps what was scored (--skip-existing resumes)
        return 1
    if not args.quiet:
        print(markdown_table(result.rows, ["name", "group", *metrics], headers={"name": "Image", "group": "Group"}))
        print()
    summary = {"method": method.name, **result.means}
    columns = ["method", *metrics, *(["fid_id"] if "fid_id" in result.means else []), "count"]
    print(markdown_table([summary], columns))
    if result.skipped:
        print(f"{len(result.skipped)} pairs without a true kernel skipped", file=sys.stderr)
    carried = int(result.report.get("summary", {}).get("carried_over", 0))
    if carried:
        print(f"facedeblur evaluate: {carried} pair(s) kept from {report_path} (--skip-existing)", file=sys.stderr)
    if args.output:
        out = Path(args.output)
        write_csv(out / "per_image.csv", result.rows, ["name", "group", *metrics])
        record = {
            "method": method.name,
            "pairs": str(args.pairs),
            "means": {k: (v if v == v else None) for k, v in result.means.items()},
            "skipped": result.skipped,
            "failures": [{"name": n, "error": e} for n, e in result.failures],
            "report": REPORT_NAME,
        }
        write_text_atomic(out / "summary.json", json.dumps(record, indent=2) + "\n")
    if result.failures:  # each was named in one line as the run went
        where = f"; see {report_path}" if report_path else ""
        print(f"facedeblur evaluate: {len(result.failures)} of {len(pairs)} pairs failed{where}", file=sys.stderr)
    return result.exit_code


def _run_video(args: argparse.Namespace) -> int:
    """``--video``: flicker in vs out and detail kept of a video restoration."""
    from pathlib import Path

    from facedeblur.errors import UserError
    from facedeblur.eval.report import markdown_table
    from facedeblur.eval.video import evaluate_video
    from facedeblur.images import write_text_atomic

    if args.pairs:
        raise UserError("--video and --pairs score different things: give one of them")
    if args.seconds <= 0:
        raise UserError(f"--seconds must be > 0, got {args.seconds}")
    summary = None
    if args.output:  # refused up front: the summary may not land on or inside an input
        from facedeblur.batch.paths import PathPolicy, check_writable_folder

        policy = PathPolicy([args.video, *([args.restored] if args.restored else [])])
        policy.check_folder(args.output, "--output")
        check_writable_folder(args.output, "--output")
        summary = policy.reserve(Path(args.output) / "video_summary.json", "--output")
    restorer = None
    if not args.restored:
        from facedeblur.restore import Restorer

        restorer = Restorer(args.model, device=args.device)
    scores = evaluate_video(args.video, restorer=restorer, restored=args.restored, seconds=args.seconds)
    row = {"video": Path(args.video).name, "method": args.restored or args.model, **scores.to_dict()}
    columns = ["video", "method", "frames", "faces", "flicker_in", "flicker_out", "detail_kept", "detail_retained"]
    print(markdown_table([row], columns))
    if summary is not None:
        write_text_atomic(summary, json.dumps(row, indent=2) + "\n")
    return 0
