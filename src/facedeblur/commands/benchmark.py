"""``facedeblur benchmark``: make a public protocol's pairs (if needed), evaluate every method, write reports."""

from __future__ import annotations

import argparse
import os
import sys

from facedeblur.commands.grammar import (
    add_command,
    add_device_argument,
    add_quiet_argument,
    add_set_argument,
    model_names_help,
)

PROTOCOL_NAMES = ("mspl", "frames", "blind", "mild", "video")


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "benchmark",
        help="run a public protocol on the baselines and models; write tables, plots and grids",
        examples=[
            ("benchmark -p mspl -o runs/benchmarks/mspl", "every baseline and bundled model"),
            ("benchmark -p frames -o bench/ --models blurred chrysos --metrics fast", "two methods, fast metrics"),
            ("benchmark -p mspl -o bench/ --set faces=20", "a smaller protocol"),
        ],
        description=(
            "Benchmark on one of the public protocols with fixed seeds: 'mspl' (MSPL-like: validation faces x "
            "camera-shake kernels of sizes 13..27 px + noise 4/255), 'frames' (real motion blur by averaging 7, 9, "
            "11 video frames), 'blind' (the 'restore' degradation recipe), 'mild' (near-sharp faces: no blur, a small "
            "Gaussian or a short motion, JPEG 90-95; a restorer must not damage them) or 'video' (whole videos: "
            "each clip's most moving seconds blurred by averaging 9 frames, restored by each model; face-box PSNR, "
            "flicker "
            "and detail against the input's, in OUTPUT/video.md). The pairs are made once in "
            "OUTPUT/pairs (or --pairs) and reused. Writes results.md, summary/per_image/by_group/speed CSV files, "
            "PSNR plots by group and by model, and a comparison grid (input | each method | ground truth)."
        ),
    )
    parser.add_argument(
        "--protocol", "-p", choices=PROTOCOL_NAMES, default="mspl", help="the protocol (default: %(default)s)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="M",
        help="methods to compare: baselines (blurred, wiener, richardson-lucy), bundled names or .safetensors "
        f"paths (default: baselines + every bundled model; {model_names_help()})",
    )
    parser.add_argument("--output", "-o", required=True, help="report folder")
    parser.add_argument("--pairs", help="pairs folder to use or create (default: OUTPUT/pairs)")
    parser.add_argument(
        "--source",
        help="protocol source data: aligned faces (mspl, blind, mild) or videos (frames) "
        "(default: utkface/val or videos/ under $FACEDEBLUR_SHARED_DATA or ../shared/data)",
    )
    add_set_argument(parser, "protocol setting", "faces=80 kernels_per_size=10", dest="overrides")
    parser.add_argument(
        "--metrics", default="all", help="comma-separated metrics, 'all' or 'fast' (default: %(default)s)"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="video protocol: seconds restored per clip (default: %(default)s)"
    )
    parser.add_argument("--grid-faces", type=int, default=4, help="faces in the comparison grid (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="faces per model call (default: %(default)s)")
    add_device_argument(parser, "the models")
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="re-score every method (by default scores cached in OUTPUT/cache/ for the same pairs, weights "
        "file and metrics are reused, so adding a model only evaluates that model)",
    )
    add_quiet_argument(parser)
    parser.set_defaults(handler=_run)


def _shared_data() -> str:
    return os.environ.get("FACEDEBLUR_SHARED_DATA", os.path.join("..", "shared", "data"))


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facedeblur.commands.evaluate import parse_metrics
    from facedeblur.config import ConfigError
    from facedeblur.errors import UserError
    from facedeblur.eval.benchmark import default_methods, run_benchmark
    from facedeblur.eval.protocols import default_source, make_protocol, protocol_config
    from facedeblur.restore import resolve_device

    if args.batch_size < 1 or args.grid_faces < 0:
        raise UserError("--batch-size must be >= 1 and --grid-faces >= 0")
    if args.protocol == "video":
        return _run_video(args)
    metrics = parse_metrics(args.metrics)
    out = Path(args.output)
    pairs_dir = Path(args.pairs) if args.pairs else out / "pairs"
    try:
        config = protocol_config(args.protocol, args.overrides)
    except (ConfigError, ValueError) as err:
        raise UserError(f"--set: {err}") from err
    source = Path(args.source) if args.source else default_source(args.protocol, _shared_data())
    interactive = sys.stderr.isatty() and not args.quiet
    device = resolve_device(args.device)
    record = make_protocol(args.protocol, source, pairs_dir, config, progress=interactive)
    print(f"protocol {args.protocol}: {record['pairs']} pairs in {pairs_dir}", file=sys.stderr)
    methods = args.models or default_methods()
    bench = run_benchmark(
        pairs_dir,
        out,
        methods,
        protocol=args.protocol,
        metrics=metrics,
        speed=not args.no_speed,
        grid_faces=args.grid_faces,
        batch_size=args.batch_size,
        device=device,
        progress=interactive,
        reuse=not args.no_reuse,
    )
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"wrote {', '.join(bench.files)} to {out}", file=sys.stderr)
    if bench.failures:
        count = sum(len(f) for f in bench.failures.values())
        print(f"facedeblur benchmark: {count} pair evaluations failed (see {out / 'results.json'})", file=sys.stderr)
        return 1
    return 0


def _run_video(args: argparse.Namespace) -> int:
    """``--protocol video``: every model restores every clip's blurred stretch (see eval.video)."""
    from pathlib import Path

    from facedeblur.errors import UserError
    from facedeblur.eval.benchmark import default_methods
    from facedeblur.eval.protocols import default_source
    from facedeblur.eval.video import run_video_benchmark
    from facedeblur.video import is_video_path

    if args.seconds <= 0:
        raise UserError(f"--seconds must be > 0, got {args.seconds}")
    source = Path(args.source) if args.source else default_source("frames", _shared_data())
    videos = [source] if source.is_file() else sorted(p for p in source.glob("*") if is_video_path(p))
    if not videos:
        raise UserError(f"--source {source}: no videos")
    methods = args.models or [m for m in default_methods() if m not in ("wiener", "richardson-lucy")]
    unsupported = [m for m in methods if m in ("wiener", "richardson-lucy")]
    if unsupported:
        raise UserError(f"the video protocol has no true kernels: {', '.join(unsupported)} cannot run on it")
    out = Path(args.output)
    run_video_benchmark(
        videos, out, methods, seconds=args.seconds, device=args.device, progress=not getattr(args, "quiet", False)
    )
    print((out / "video.md").read_text(encoding="utf-8"))
    return 0
