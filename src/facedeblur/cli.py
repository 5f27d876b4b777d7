"""The ``facedeblur`` command line.

Each subcommand lives in ``facedeblur.commands.<name>`` and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` (a callable taking the parsed namespace and returning
an exit code). Command modules import only the standard library at module level; every heavy
import happens inside the handler so that ``facedeblur --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from facedeblur import __version__
from facedeblur.errors import UserError

# Order is the order shown in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "restore",
    "models",
    "faces",
    "degrade",
    "data",
    "train",
    "export",
    "evaluate",
    "benchmark",
    "mine",
    "serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facedeblur",
        description="Make blurry faces sharp again in photos and videos (offline).",
    )
    parser.add_argument("--version", action="version", version=f"facedeblur {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"facedeblur.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"facedeblur.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("facedeblur: interrupted", file=sys.stderr)
        return 130
    except UserError as err:
        print(f"facedeblur {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
