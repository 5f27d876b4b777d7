"""Exceptions shared across the package (standard library only)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad option, missing file); the CLI prints it as one line, exit 2."""


class InputError(Exception):
    """One input file cannot be processed (unreadable, truncated, no frames...).

    The message names the file; batch runs record it and continue with the next file.
    """


class ModelMismatchError(Exception):
    """A weights file's metadata does not match what the loader expects."""
