"""``facedeblur degrade``: blur kernel banks, degraded image pairs, frame-averaged video pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facedeblur.commands.grammar import add_command, add_quiet_argument, add_set_argument, add_skip_bad_argument
from facedeblur.errors import UserError


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
    parser = add_command(
        subparsers,
        "degrade",
        help="synthesise blur: kernel banks, degraded pairs, video pairs",
        description="Synthesise training and test data: blur kernel banks, degraded image pairs "
        "(blurred/, gt/, params/) and frame-averaged pairs from videos.",
        examples=[
            ("degrade kernels -o kernels.npz --count 20", "a kernel bank"),
            ("degrade images faces/ -o pairs/ --recipe restore", "degraded pairs"),
            ("degrade video clips/ -o video_pairs/ --face-crop", "real motion blur pairs"),
        ],
    )
    sub = parser.add_subparsers(dest="degrade_command", metavar="{kernels,images,video}", help="what to make")
    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])

    k = add_command(
        sub,
        "kernels",
        help="write a bank of blur kernels (.npz) in MSPL-like size classes",
        examples=[
            ("degrade kernels -o kernels.npz", "10 camera-shake kernels per size 13, 15, ..., 27"),
            ("degrade kernels -o motion.npz --family motion --sizes 13,21 --seed 1", "linear motion kernels"),
        ],
    )
    k.add_argument("--count", type=int, default=10, help="kernels per size class (default 10)")
    k.add_argument(
        "--sizes", default="13:27", help="size classes: LO:HI (odd, step 2), LO:HI:STEP or a comma list (default 13:27)"
    )
    k.add_argument(
        "--family",
        default="shake",
        choices=["shake", "motion", "gaussian", "defocus"],
        help="kernel kind: camera shake (random walk), linear motion, Gaussian or defocus disc (default shake)",
    )
    k.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same bank (default 0)")
    k.add_argument("-o", "--output", required=True, help="output .npz")
    add_quiet_argument(k)
    k.set_defaults(handler=_run_kernels)

    im = add_command(
        sub,
        "images",
        help="degrade a folder of sharp images into blurred/, gt/, params/",
        description="Degrade every image of a folder (recursively) with a recipe into OUT/blurred, OUT/gt and "
        "OUT/params (one JSON per pair); the same inputs, recipe and seed give byte-identical files. Existing "
        "pairs are kept (resume) unless --overwrite. OUT may not lie inside the input folder.",
        examples=[
            ("degrade images faces/ -o pairs/", "the deblur recipe, seed 0"),
            ("degrade images faces/ -o pairs/ --recipe restore --size 128", "the blind recipe at 128 px"),
            ("degrade images faces/ -o pairs/ --set noise_levels=[0,2] jpeg_probability=0", "override recipe fields"),
        ],
    )
    im.add_argument("input", help="folder of sharp images (searched recursively)")
    im.add_argument("-o", "--output", required=True, help="output folder")
    im.add_argument("--recipe", default="deblur", help="deblur, restore or a recipe YAML (default deblur)")
    add_set_argument(im, "recipe field", "jpeg_probability=0")
    im.add_argument(
        "--seed", type=int, default=0, help="base seed; each pair's seed also depends on its name (default 0)"
    )
    im.add_argument("--size", type=int, default=None, help="square-crop and resize to SIZE first")
    im.add_argument("--limit", type=int, default=None, help="first N images only")
    im.add_argument("--overwrite", action="store_true", help="redo pairs that already exist")
    add_skip_bad_argument(im, "files")
    add_quiet_argument(im)
    im.set_defaults(handler=_run_images)

    v = add_command(
        sub,
        "video",
        help="frame-averaged pairs from videos (middle frame = ground truth)",
        examples=[
            ("degrade video clip.mp4 -o video_pairs/", "windows of 7, 9 or 11 frames"),
            ("degrade video clips/ -o video_pairs/ --face-crop --size 128", "face crops, Chrysos protocol"),
        ],
    )
    v.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, folders of videos, globs or @list.txt")
    v.add_argument("-o", "--output", required=True, help="output folder")
    v.add_argument("--frames", default="7,9,11", help="window lengths (odd), one drawn per window (default 7,9,11)")
    v.add_argument("--stride", type=int, default=5, help="frames between window starts (default 5)")
    v.add_argument("--no-linear", action="store_true", help="average sRGB values instead of linear light")
    v.add_argument("--min-motion", type=float, default=1.0, help="reject windows moving less (px/frame, default 1)")
    v.add_argument("--psnr-range", default="22:35", help="accept PSNR(average, middle) in MIN:MAX dB (default 22:35)")
    v.add_argument(
        "--flow", choices=["dis", "farneback"], default="dis", help="optical flow for the motion test (default dis)"
    )
    v.add_argument("--face-crop", action="store_true", help="crop a square around the face (needs dlib)")
    v.add_argument("--margin", type=float, default=0.5, help="face box expansion for --face-crop (default 0.5)")
    v.add_argument("--size", type=int, default=None, help="resize pairs to SIZE x SIZE")
    v.add_argument("--max-frames", type=int, default=None, help="read at most N frames per video")
    v.add_argument("--seed", type=int, default=0, help="seed of the window-length draws (default 0)")
    add_skip_bad_argument(v, "videos")
    add_quiet_argument(v)
    v.set_defaults(handler=_run_video)


def _run_kernels(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from facedeblur.degrade.kernels import kernel_bank
    from facedeblur.images import write_bytes_atomic

    if args.count < 1:
        raise UserError("--count must be >= 1")
    sizes = parse_sizes(args.sizes)
    bank = kernel_bank(args.count, sizes, args.seed, args.family, progress=not args.quiet)
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

    recipe = _load_recipe(args.recipe, args.set)
    result = synthesize_pairs(
        args.input,
        args.output,
        recipe,
        seed=args.seed,
        size=args.size,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        limit=args.limit,
        progress=not args.quiet,
        debug=args.debug,
    )
    return _summary(result, "degrade images", args.output)


def _summary(result, command: str, out: str, extra: str = "") -> int:
    summary = result.report["summary"]
    print(f"{summary['written']} pairs written to {out}{extra}")
    if summary["failed"]:
        print(
            f"facedeblur {command}: {summary['failed']} input(s) failed; see {Path(out) / 'report.json'}",
            file=sys.stderr,
        )
    return result.exit_code


def _run_video(args: argparse.Namespace) -> int:
    from facedeblur.data.writers import video_pairs
    from facedeblur.degrade.frames import WindowCriteria

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
    result = video_pairs(
        args.videos,
        args.output,
        criteria,
        size=args.size,
        face_crop=args.face_crop,
        margin=args.margin,
        max_frames=args.max_frames,
        skip_bad=args.skip_bad,
        progress=not args.quiet,
        debug=args.debug,
    )
    counts = {Path(r["input"]).name: r["windows"] for r in result.report["files"] if r["status"] == "ok"}
    return _summary(result, "degrade video", args.output, f"; windows: {json.dumps(counts)}")
