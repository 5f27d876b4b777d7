"""The ``facedeblur`` command line.

Each subcommand lives in ``facedeblur.commands.<name>`` and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` (a callable taking the parsed namespace and returning
an exit code). Command modules import only the standard library at module level; every heavy
import happens inside the handler so that ``facedeblur --help`` is instant.

The error contract: a :class:`~facedeblur.errors.UserError` (anything the user can cause or fix)
is one line ``facedeblur COMMAND: error: ...`` and exit 2; a failed write (disk full, read-only
output) or running out of memory is one line and exit 1; any other error is one line naming it
and exit 1. Only ``--debug`` (or ``FACEDEBLUR_DEBUG=1``) adds the traceback. SIGTERM stops a run
like Ctrl-C: clean-ups and reports run, temporary files go, exit 143.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence

from facedeblur import __version__
from facedeblur.errors import OutputError, UserError, describe_os_error

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
DEBUG_HELP = "show the traceback of errors (also FACEDEBLUR_DEBUG=1)"


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so that a run ends as after Ctrl-C (clean-ups, report)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facedeblur",
        description="Make blurry faces sharp again in photos and videos (offline).",
        epilog="Run `facedeblur COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"facedeblur {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"facedeblur.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"facedeblur.commands.{name}":
                continue
            raise
        module.register(subparsers)
    for _, sub in subcommand_parsers(parser):
        # default SUPPRESS: a sub-command's parser must not reset a --debug given before the command
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def subcommand_parsers(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every sub-command's parser, nested ones included, as ``("degrade images", parser)``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                yield full, sub
                yield from subcommand_parsers(sub, full)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    args.debug = bool(getattr(args, "debug", False) or os.environ.get("FACEDEBLUR_DEBUG"))
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print escaped, never crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    command = " ".join(x for x in (args.command, *_nested_commands(args)) if x)
    previous = _catch_sigterm()
    try:
        return int(handler(args) or 0)
    except Terminated:
        _say(command, "terminated")
        return 143
    except KeyboardInterrupt:
        _say(command, "interrupted")
        return 130
    except BrokenPipeError:  # `facedeblur models | head`: the reader left; nothing more to say
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        except OSError:
            pass
        return 0
    except BaseException as err:  # noqa: BLE001 - the error contract: one line, traceback only with --debug
        if isinstance(err, SystemExit):
            raise
        if args.debug:
            traceback.print_exception(err, file=sys.stderr)
        line, code = describe_failure(err)
        _say(command, line)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def describe_failure(err: BaseException) -> tuple[str, int]:
    """One line and the exit code for an error that ended a command (see the module docstring)."""
    if isinstance(err, OutputError):
        return f"error: {err}", 1
    if isinstance(err, UserError):
        return f"error: {err}", 2
    if isinstance(err, OSError):
        return f"error: {describe_os_error(err)}", 1
    if isinstance(err, MemoryError):
        return "error: out of memory (an input is too large for this machine's memory)", 1
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    detail = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return f"internal error: {detail} (run with --debug for the traceback)", 1


def _nested_commands(args: argparse.Namespace) -> list[str]:
    return [v for k, v in vars(args).items() if k.endswith("_command") and isinstance(v, str)]


def _say(command: str, message: str) -> None:
    print(f"facedeblur {command}: {message}", file=sys.stderr)


def _terminate(signum, frame) -> None:
    raise Terminated()


def _catch_sigterm():
    """Turn SIGTERM into :class:`Terminated` in the main thread; returns the previous handler (None: unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGTERM, _terminate)
    except (ValueError, OSError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
