"""The one grammar of the ``facedeblur`` sub-commands (standard library only).

Every sub-command is made by :func:`add_command` (a description, help on every option, and an
"examples" section) and spells its common options with these helpers:

- ``--quiet``: no progress bars (``--no-progress`` is kept as a hidden old spelling);
- ``--set KEY=VALUE``: config overrides, repeatable and several after one ``--set``;
- ``--device auto|cpu|cuda|mps`` (default ``auto``);
- ``--skip-bad/--no-skip-bad``: batch commands go on past bad inputs unless told to stop;
- ``--model``: its help lists the bundled restoration models (read from their metadata headers).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_set_argument(parser, "recipe field")
    >>> parser.parse_args(["--set", "a=1", "b=2", "--set", "c=3"]).set
    ['a=1', 'b=2', 'c=3']
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

DEVICES = ("auto", "cpu", "cuda", "mps")


def add_command(
    subparsers,
    name: str,
    *,
    help: str,
    description: str | None = None,
    examples: Sequence[tuple[str, str]] = (),
) -> argparse.ArgumentParser:
    """A sub-command's parser with an "examples" section (``facedeblur ...`` lines with comments).

    Args:
        subparsers: what ``add_subparsers`` returned.
        name: the sub-command.
        help: one line for the command list.
        description: the paragraph at the top of its ``--help`` (default: ``help``).
        examples: ``(command line without "facedeblur ", what it does)`` pairs.
    """
    lines = []
    if examples:
        width = max(len(cmd) for cmd, _ in examples) + 13
        lines.append("examples:")
        for cmd, comment in examples:
            line = f"  facedeblur {cmd}"
            lines.append(f"{line:<{width}}  # {comment}" if comment else line)
    return subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        epilog="\n".join(lines) or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_quiet_argument(parser: argparse.ArgumentParser, what: str = "no progress bars") -> None:
    """``--quiet`` (and the hidden old spelling ``--no-progress``), stored as ``args.quiet``."""
    parser.add_argument("--quiet", "-q", action="store_true", help=what)
    parser.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)


class _KeyValues(argparse.Action):
    """Collects ``KEY=VALUE`` items of one or more ``--set``; refuses an item without ``=``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for value in values:
            if "=" not in value or value.startswith("="):
                raise argparse.ArgumentError(
                    self, f"{value!r} is not KEY=VALUE (put inputs before --set, or end its list with --)"
                )
        items = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, items + list(values))


def add_set_argument(parser: argparse.ArgumentParser, what: str, example: str = "", dest: str = "set") -> None:
    """``--set KEY=VALUE [KEY=VALUE ...]``, repeatable, collected in ``args.<dest>``."""
    hint = f", e.g. --set {example}" if example else ""
    parser.add_argument(
        "--set",
        dest=dest,
        nargs="+",
        action=_KeyValues,
        default=[],
        metavar="KEY=VALUE",
        help=f"override a {what} (repeatable; several may follow one --set){hint}",
    )


def add_device_argument(parser: argparse.ArgumentParser, what: str = "the network") -> None:
    """``--device auto|cpu|cuda|mps`` (also ``cuda:N``), default ``auto``."""
    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help=f"where {what} runs: auto (CUDA, then Apple MPS, then CPU), cpu, cuda[:N] or mps (default: auto)",
    )


def add_skip_bad_argument(parser: argparse.ArgumentParser, noun: str = "files") -> None:
    """``--skip-bad/--no-skip-bad``: batch commands go on past unreadable inputs unless told to stop."""
    parser.add_argument(
        "--skip-bad",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"go on past unreadable {noun} and list them at the end (default); --no-skip-bad stops at the first",
    )


def model_names_help() -> str:
    """``bundled: chrysos (default), dfpgnet, psfrgan (experimental)``: the restoration models installed."""
    try:
        from facedeblur.models.hub import bundled_catalogue

        entries = [e for e in bundled_catalogue() if e.architecture and not e.component]
    except Exception:  # noqa: BLE001 - help text must never fail
        return "bundled: see `facedeblur models`"
    if not entries:
        return "no bundled model installed"
    from facedeblur.models.hub import DEFAULT_MODEL

    names = []
    for entry in entries:
        default = " (default)" if entry.name == DEFAULT_MODEL and entry.name != "default" else ""
        names.append(entry.name + default + (" (experimental)" if entry.experimental else ""))
    return "bundled: " + ", ".join(names)


def add_model_argument(parser: argparse.ArgumentParser, default: str | None = "default", extra: str = "") -> None:
    """``--model NAME|PATH`` whose help lists the bundled restoration models."""
    parser.add_argument(
        "--model",
        "-m",
        default=default,
        metavar="MODEL",
        help=f"bundled model name, 'default' or a .safetensors file{extra} ({model_names_help()}; "
        "see `facedeblur models`)",
    )
