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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "faces",
        help="detect faces, write aligned crops, landmarks JSON and a debug overlay",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=128, help="side of the crops in pixels (default 128)")
    parser.add_argument(
        "--crop",
        choices=("aligned", "loose"),
        default="aligned",
        help="aligned: similarity warp onto the UTKFace template (default); loose: Chrysos & Zafeiriou's "
        "crop around the 68 landmarks, no rotation",
    )
    parser.add_argument("--detector", choices=("hog", "cnn"), default="hog", help="dlib detector (default hog)")
    parser.add_argument("--min-size", type=float, default=16, help="skip faces smaller than this (px, default 16)")
    parser.add_argument("--threshold", type=float, default=0.0, help="minimum detector score (default 0)")
    parser.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="search on a copy at most this large (0: full size; default 1280 for hog, 960 for cnn)",
    )
    parser.add_argument("--upsample", type=int, default=None, help="detector upsamplings (default: automatic)")
    parser.add_argument("--landmarks68", action="store_true", help="also fit and write the 68 landmarks")
    parser.add_argument("--no-overlay", action="store_true", help="do not write the debug overlay")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from facedeblur.face.extract import ExtractOptions, extract_faces_batch

    options = ExtractOptions(
        size=args.size,
        crop=args.crop,
        detector=args.detector,
        min_size=args.min_size,
        score_threshold=args.threshold,
        max_side=args.max_side,
        upsample=args.upsample,
        landmarks68=args.landmarks68,
        overlay=not args.no_overlay,
    )
    return extract_faces_batch(args.images, args.output, options, progress=not args.quiet, stream=sys.stderr)
