"""Subcommands of the ``facedeblur`` CLI; each module imports only the standard library at top level."""

import argparse


def add_skip_bad_argument(parser: argparse.ArgumentParser, noun: str = "files") -> None:
    """``--skip-bad/--no-skip-bad``: batch commands go on past unreadable inputs unless told to stop."""
    parser.add_argument(
        "--skip-bad",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"go on past unreadable {noun} and list them at the end (default); --no-skip-bad stops at the first",
    )
