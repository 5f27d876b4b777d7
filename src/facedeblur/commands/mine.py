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
from facedeblur.commands.grammar import add_command, add_quiet_argument, add_set_argument, add_skip_bad_argument
from facedeblur.errors import UserError


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "mine",
        help="mine aligned face frames (and frame-averaged pairs) from videos",
        description=(
            "Mine training faces from videos: detect, track (CSRT), check tracker/detector agreement, fit "
            "68 landmarks, reject bad fittings (linear SVM) and frames without movement (optical flow). "
            "Writes DATASET/<video>/crops, landmarks.json and report.json, and DATASET/report.json."
        ),
        examples=[
            ("mine ../shared/data/videos -o mined/", "aligned 128 px crops + landmarks"),
            ("mine clips/ -o mined/ --pairs --full-frames", "also frame-averaged pairs and frames"),
            ("mine clips/ -o mined/ --set iou_threshold=0.6 --ray local", "a threshold, one Ray task per video"),
        ],
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="VIDEO", help="video files, folders of videos (recursive), globs or @list.txt"
    )
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
    add_set_argument(parser, "mining config field", "iou_threshold=0.6")
    add_skip_bad_argument(parser, "videos")
    add_quiet_argument(parser)
    add_detection_arguments(parser, min_face_size=40, defaults=False)
    parser.set_defaults(handler=_run)


def find_videos(items: list[str]):
    """Video files named directly and found in folders (recursively), and one-line problems."""
    from facedeblur.batch.inputs import VIDEO_EXTENSIONS, expand_inputs

    return expand_inputs(items, VIDEO_EXTENSIONS, "videos")


def _run(args: argparse.Namespace) -> int:
    from facedeblur.batch.paths import PathPolicy
    from facedeblur.config import apply_overrides, from_dict, load_yaml, to_dict
    from facedeblur.data.mining import MiningConfig, format_summary, mine_videos

    found = find_videos(args.inputs)
    for _, message in found.problems:
        print(f"facedeblur mine: {message}", file=sys.stderr)
    if not found.files:
        raise UserError("no videos to mine")
    PathPolicy([f.path for f in found.files], found.folders).check_folder(args.output, "-o")
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
    out = Path(args.output)
    videos = [f.path for f in found.files]
    problems = [(str(item), message) for item, message in found.problems]
    if args.ray:
        from facedeblur.distributed.ray_jobs import mine_videos_with_ray

        report = mine_videos_with_ray(videos, out, config, pairs=args.pairs, address=args.ray, problems=problems)
    else:
        report = mine_videos(
            videos,
            out,
            config,
            pairs=args.pairs,
            progress=not args.quiet,
            skip_bad=args.skip_bad,
            problems=problems,
            debug=args.debug,
        )
    print(format_summary(report, errors_below=True))  # each unusable video's line was printed as it failed
    print(f"report: {out / 'report.json'}")
    return 1 if report["summary"]["failed"] or report["stopped"] else 0
