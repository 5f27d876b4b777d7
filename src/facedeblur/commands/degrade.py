"""``facedeblur degrade``: blur kernel banks, degraded image pairs, frame-averaged video pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facedeblur.commands import add_skip_bad_argument
from facedeblur.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def parse_sizes(text: str) -> tuple[int, ...]:
    """``13:27`` (odd sizes 13, 15, ..., 27), ``13:27:4`` (explicit step) or ``13,17,21``."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            lo, hi = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 2
            sizes = tuple(range(lo, hi + 1, step))
        else:
            sizes = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise UserError(f"--sizes {text!r}: expected LO:HI, LO:HI:STEP or a comma list of odd integers") from None
    if not sizes or any(s < 3 or s % 2 == 0 for s in sizes):
        raise UserError(f"--sizes {text!r}: kernel sizes must be odd integers >= 3")
    return sizes


def register(subparsers) -> None:
    parser = subparsers.add_parser("degrade", help="synthesise blur: kernel banks, degraded pairs, video pairs")
    sub = parser.add_subparsers(dest="degrade_command", metavar="{kernels,images,video}")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])

    k = sub.add_parser("kernels", help="write a bank of blur kernels (.npz) in MSPL-like size classes")
    k.add_argument("--count", type=int, default=10, help="kernels per size class (default 10)")
    k.add_argument("--sizes", default="13:27", help="size classes: LO:HI (odd, step 2), LO:HI:STEP or a list")
    k.add_argument("--family", default="shake", choices=["shake", "motion", "gaussian", "defocus"])
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("-o", "--output", required=True, help="output .npz")
    k.add_argument("--no-progress", action="store_true")
    k.set_defaults(handler=_run_kernels)

    im = sub.add_parser("images", help="degrade a folder of sharp images into blurred/, gt/, params/")
    im.add_argument("input", help="folder of sharp images (searched recursively)")
    im.add_argument("-o", "--output", required=True, help="output folder")
    im.add_argument("--recipe", default="deblur", help="deblur, restore or a recipe YAML (default deblur)")
    im.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    im.add_argument("--seed", type=int, default=0)
    im.add_argument("--size", type=int, default=None, help="square-crop and resize to SIZE first")
    im.add_argument("--limit", type=int, default=None, help="first N images only")
    im.add_argument("--overwrite", action="store_true", help="redo pairs that already exist")
    add_skip_bad_argument(im, "files")
    im.add_argument("--no-progress", action="store_true")
    im.set_defaults(handler=_run_images)

    v = sub.add_parser("video", help="frame-averaged pairs from videos (middle frame = ground truth)")
    v.add_argument("videos", nargs="+", help="video files or folders of videos")
    v.add_argument("-o", "--output", required=True, help="output folder")
    v.add_argument("--frames", default="7,9,11", help="window lengths (odd), one drawn per window")
    v.add_argument("--stride", type=int, default=5, help="frames between window starts (default 5)")
    v.add_argument("--no-linear", action="store_true", help="average sRGB values instead of linear light")
    v.add_argument("--min-motion", type=float, default=1.0, help="reject windows moving less (px/frame)")
    v.add_argument("--psnr-range", default="22:35", help="accept PSNR(average, middle) in MIN:MAX dB")
    v.add_argument("--flow", choices=["dis", "farneback"], default="dis")
    v.add_argument("--face-crop", action="store_true", help="crop a square around the face (needs dlib)")
    v.add_argument("--margin", type=float, default=0.5, help="face box expansion for --face-crop")
    v.add_argument("--size", type=int, default=None, help="resize pairs to SIZE x SIZE")
    v.add_argument("--max-frames", type=int, default=None, help="read at most N frames per video")
    v.add_argument("--seed", type=int, default=0, help="seed of the window-length draws")
    add_skip_bad_argument(v, "videos")
    v.add_argument("--no-progress", action="store_true")
    v.set_defaults(handler=_run_video)


def _run_kernels(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from facedeblur.degrade.kernels import kernel_bank
    from facedeblur.images import write_bytes_atomic

    if args.count < 1:
        raise UserError("--count must be >= 1")
    sizes = parse_sizes(args.sizes)
    bank = kernel_bank(args.count, sizes, args.seed, args.family, progress=not args.no_progress)
    bank["seed"] = np.asarray(args.seed)
    buffer = io.BytesIO()
    np.savez(buffer, **bank)
    out = Path(args.output)
    if out.suffix != ".npz":
        raise UserError(f"{out}: the kernel bank is written as .npz")
    write_bytes_atomic(out, buffer.getvalue())
    print(f"wrote {args.count * len(sizes)} {args.family} kernels, sizes {list(sizes)}, to {out}")
    return 0


def _load_recipe(name: str, overrides: list[str]):
    from facedeblur.config import ConfigError
    from facedeblur.degrade.recipes import load_recipe

    try:
        return load_recipe(name, overrides)
    except ConfigError as err:
        raise UserError(f"recipe: {err}") from err


def _run_images(args: argparse.Namespace) -> int:
    from facedeblur.data.writers import synthesize_pairs
    from facedeblur.errors import InputError

    recipe = _load_recipe(args.recipe, args.set)
    if not Path(args.input).is_dir():
        raise UserError(f"{args.input}: not a folder")
    try:
        report = synthesize_pairs(
            args.input,
            args.output,
            recipe,
            seed=args.seed,
            size=args.size,
            skip_bad=args.skip_bad,
            overwrite=args.overwrite,
            limit=args.limit,
            progress=not args.no_progress,
        )
    except InputError as err:
        print(f"facedeblur degrade images: error: {err} (stopped by --no-skip-bad)", file=sys.stderr)
        return 1
    return _summary(report, f"{report['written']} pairs written to {args.output}")


def _summary(report: dict, message: str) -> int:
    print(message)
    for line in report["failed"]:
        print(f"failed: {line}", file=sys.stderr)
    if report["failed"]:
        print(f"{len(report['failed'])} input(s) failed; see report.json", file=sys.stderr)
        return 1
    return 0


def _expand_videos(items: list[str]) -> list[Path]:
    videos: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            videos.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS))
        elif path.exists():
            videos.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    if not videos:
        raise UserError("no videos found")
    return videos


def _run_video(args: argparse.Namespace) -> int:
    from facedeblur.data.writers import video_pairs
    from facedeblur.degrade.frames import WindowCriteria
    from facedeblur.errors import InputError

    try:
        frames = tuple(int(n) for n in args.frames.split(","))
        lo, hi = (float(x) for x in args.psnr_range.split(":"))
    except ValueError:
        raise UserError("--frames expects a comma list of odd integers and --psnr-range MIN:MAX") from None
    try:
        criteria = WindowCriteria(
            frames=frames,
            stride=args.stride,
            linear=not args.no_linear,
            min_motion=args.min_motion,
            psnr_range=(lo, hi),
            flow=args.flow,
            seed=args.seed,
        )
    except ValueError as err:
        raise UserError(str(err)) from err
    try:
        report = video_pairs(
            _expand_videos(args.videos),
            args.output,
            criteria,
            size=args.size,
            face_crop=args.face_crop,
            margin=args.margin,
            max_frames=args.max_frames,
            skip_bad=args.skip_bad,
            progress=not args.no_progress,
        )
    except InputError as err:
        print(f"facedeblur degrade video: error: {err} (stopped by --no-skip-bad)", file=sys.stderr)
        return 1
    counts = {name: v["windows"] for name, v in report["videos"].items()}
    return _summary(report, f"{report['written']} pairs written to {args.output}; windows: {json.dumps(counts)}")
