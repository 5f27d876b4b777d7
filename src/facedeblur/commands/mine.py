"""``facedeblur mine``: mine face training data from videos (Chrysos & Zafeiriou's framework).

Per video: face detection on the first frame, CSRT tracking checked against the detector, 68-point
landmarks judged by the shipped fitting classifier, an optical-flow movement test; accepted frames are
written as aligned crops (optionally full frames) with their landmarks, and every rejected video and
frame gets its reason in the JSON reports. ``--pairs`` adds frame-averaged training pairs;
``--ray`` runs one Ray task per video.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facedeblur.commands.detection_args import add_detection_arguments
from facedeblur.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "mine",
        help="mine aligned face frames (and frame-averaged pairs) from videos",
        description=(
            "Mine training faces from videos: detect, track (CSRT), check tracker/detector agreement, fit "
            "68 landmarks, reject bad fittings (linear SVM) and frames without movement (optical flow). "
            "Writes DATASET/<video>/crops, landmarks.json and report.json, and DATASET/report.json."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR", help="video files or folders of videos")
    parser.add_argument("-o", "--output", required=True, metavar="DATASET", help="dataset folder")
    parser.add_argument("--size", type=int, default=None, help="side of the aligned crops (default 128)")
    parser.add_argument("--full-frames", action="store_true", help="also write the accepted full frames")
    parser.add_argument("--pairs", action="store_true", help="also build frame-averaged training pairs")
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="one Ray task per video: auto (this machine's cluster, else a local one), local or a cluster address",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="read at most N frames per video")
    parser.add_argument("--config", metavar="YAML", help="MiningConfig YAML (thresholds, detector, pair windows)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_detection_arguments(parser, min_face_size=40, defaults=False)
    parser.set_defaults(handler=_run)


def find_videos(items: list[str]) -> list[Path]:
    """Video files named directly, and videos inside folders (recursively, sorted)."""
    videos: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise UserError(f"{path}: no videos in this folder ({', '.join(VIDEO_EXTENSIONS)})")
            videos.extend(found)
        elif path.is_file():
            videos.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return videos


def _run(args: argparse.Namespace) -> int:
    from facedeblur.config import ConfigError, apply_overrides, from_dict, load_yaml, to_dict
    from facedeblur.data.mining import MiningConfig, format_summary, mine_videos

    videos = find_videos(args.inputs)
    try:
        config = load_yaml(MiningConfig, args.config, args.set) if args.config else MiningConfig()
        if not args.config and args.set:
            config = apply_overrides(config, args.set)
        fields = {
            "size": args.size,
            "full_frames": True if args.full_frames else None,
            "max_frames": args.max_frames,
            "detector": args.detector,
            "min_face_size": args.min_face_size,
            "max_side": args.max_side,
            "upsample": args.upsample,
            "detection_threshold": args.threshold,
        }
        config = from_dict(MiningConfig, {**to_dict(config), **{k: v for k, v in fields.items() if v is not None}})
    except (ConfigError, ValueError, OSError) as err:
        raise UserError(str(err)) from err
    out = Path(args.output)
    summary = mine_videos(videos, out, config, pairs=args.pairs, ray_address=args.ray, progress=not args.quiet)
    print(format_summary(summary))
    unreadable = [
        v["reason"]
        for v in summary["videos"].values()
        if v["status"] == "failed" or v["reason"].startswith("unreadable video")
    ]
    for reason in unreadable:
        print(f"facedeblur mine: {reason}", file=sys.stderr)
    print(f"report: {out / 'report.json'}")
    return 1 if unreadable else 0
