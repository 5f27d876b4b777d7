"""One set of face-detection options for every command that detects faces.

``restore``, ``faces``, ``serve`` and ``mine`` add them with :func:`add_detection_arguments` and turn
them into keyword arguments with :func:`detection_options` (the names :class:`facedeblur.restore.Restorer`
and :func:`facedeblur.face.detect.find_faces` take). Standard library only at import time.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_detection_arguments(parser)
    >>> detection_options(parser.parse_args(["--detector", "hog", "--upsample", "1"]))["upsample"]
    1
"""

from __future__ import annotations

import argparse

DETECTOR_NAMES = ("centerface", "hog", "cnn")  # = facedeblur.face.detectors.BACKENDS
DEFAULT_DETECTOR = "centerface"
DEFAULT_MIN_FACE_SIZE = 24.0  # = facedeblur.face.search.DEFAULT_MIN_FACE_SIZE


def add_detection_arguments(
    parser: argparse.ArgumentParser, min_face_size: float = DEFAULT_MIN_FACE_SIZE, defaults: bool = True
) -> None:
    """Add ``--detector``, ``--min-face-size``, ``--max-side``, ``--upsample`` and ``--threshold``.

    Args:
        parser: the command's parser.
        min_face_size: the command's default smallest face.
        defaults: False leaves every option None unless given (commands whose config file holds the
            defaults, e.g. ``mine``).
    """
    group = parser.add_argument_group("face detection")
    group.add_argument(
        "--detector",
        default=DEFAULT_DETECTOR if defaults else None,
        choices=DETECTOR_NAMES,
        help="centerface (default: CNN, finds small and blurred faces), hog (dlib, fast on large frontal "
        "faces) or cnn (dlib MMOD, slow on CPU)",
    )
    group.add_argument(
        "--min-face-size",
        "--min-size",
        dest="min_face_size",
        type=float,
        default=min_face_size if defaults else None,
        metavar="PX",
        help=f"smallest face to find and restore (box side, px; default {min_face_size:g}): the search is "
        "scaled and tiled to find faces this small; smaller ones are left as they are",
    )
    group.add_argument(
        "--max-side",
        type=int,
        default=None,
        metavar="PX",
        help="expert: search at most at this longer side (faster, misses small faces; default: automatic)",
    )
    group.add_argument(
        "--upsample",
        type=int,
        default=None,
        metavar="N",
        help="expert: search the image enlarged 2**N times (0: at full resolution; default: automatic "
        "from --min-face-size)",
    )
    group.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="expert: minimum detector score (default: the detector's; lower finds more faces and more false ones)",
    )


def detection_options(args: argparse.Namespace) -> dict:
    """Check the detection options and return them as keyword arguments.

    Returns:
        ``{"detector", "min_face_size", "detection_threshold", "max_side", "upsample"}``.

    Raises:
        UserError: a value out of range (the message names the option).
    """
    from facedeblur.errors import UserError

    if not args.min_face_size > 0:
        raise UserError(f"--min-face-size must be > 0 px, got {args.min_face_size:g}")
    if args.max_side is not None and args.max_side < 0:
        raise UserError(f"--max-side must be >= 0 (0: no cap), got {args.max_side}")
    if args.upsample is not None and not 0 <= args.upsample <= 3:
        raise UserError(f"--upsample must be between 0 and 3, got {args.upsample}")
    return {
        "detector": args.detector,
        "min_face_size": float(args.min_face_size),
        "detection_threshold": args.threshold,
        "max_side": args.max_side,
        "upsample": args.upsample,
    }
