"""``facedeblur faces IMAGE... -o DIR``: detect faces, write aligned crops, landmarks JSON and an overlay.

For every input image ``NAME.ext`` the output folder gets ``NAME.json``
(``{"faces": [{"box": [x0, y0, x1, y1], "score": s, "landmarks5": [[x, y], ...], ...}]}``),
``NAME_face<k>.png`` crops (same bit depth and channels as the input) and ``NAME_overlay.png``, plus
``faces_report.json`` for the whole batch. Bad files are reported and skipped; the exit code is 1 if
any failed.
"""

from __future__ import annotations

import argparse
import sys

from facedeblur.commands.detection_args import add_detection_arguments, detection_options
from facedeblur.commands.grammar import add_command, add_quiet_argument, add_skip_bad_argument


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "faces",
        help="detect faces, write aligned crops, landmarks JSON and a debug overlay",
        description=" ".join(__doc__.split("\n\n")[1].split()) if __doc__ else None,
        examples=[
            ("faces photo.jpg shoot/ -o faces/", "aligned 128 px crops, landmarks JSON, overlay"),
            ("faces group.jpg -o faces/ --size 256 --landmarks68 --crop loose", "loose crops with 68 landmarks"),
        ],
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders, globs or @list.txt")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=128, help="side of the crops in pixels (default 128)")
    parser.add_argument(
        "--crop",
        choices=("aligned", "loose"),
        default="aligned",
        help="aligned: similarity warp onto the UTKFace template (default); loose: Chrysos & Zafeiriou's "
        "crop around the 68 landmarks, no rotation",
    )
    parser.add_argument("--landmarks68", action="store_true", help="also fit and write the 68 landmarks")
    parser.add_argument("--no-overlay", action="store_true", help="do not write the debug overlay")
    add_quiet_argument(parser)
    add_skip_bad_argument(parser, "images")
    add_detection_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from facedeblur.face.extract import ExtractOptions, extract_faces_batch

    detection = detection_options(args)
    options = ExtractOptions(
        size=args.size,
        crop=args.crop,
        detector=detection["detector"],
        min_size=detection["min_face_size"],
        score_threshold=detection["detection_threshold"],
        max_side=detection["max_side"],
        upsample=detection["upsample"],
        landmarks68=args.landmarks68,
        overlay=not args.no_overlay,
    )
    return extract_faces_batch(
        args.images,
        args.output,
        options,
        progress=not args.quiet,
        stream=sys.stderr,
        skip_bad=args.skip_bad,
        debug=getattr(args, "debug", False),
    )
