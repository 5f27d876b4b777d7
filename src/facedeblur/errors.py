"""The package's error contract (standard library only).

Everything a user can cause is a :class:`UserError`: ``facedeblur`` prints it as one line naming
what is wrong and exits non-zero, with no traceback (``--debug`` shows one). Its kinds:

- :class:`InputError`: one input file cannot be processed; batch runs record it and go on.
- :class:`OutputError`: an output cannot be written (disk full, read-only or not permitted);
  batch runs stop, since every later file would fail the same way, and still write their report.
- :class:`ModelMismatchError`: a weights file is not what the loader expects.
- :class:`facedeblur.config.ConfigError`: a config key, value or YAML file is wrong.

Example:
    >>> import errno
    >>> err = OSError(errno.ENOSPC, "No space left on device", "out/a.png")
    >>> print(describe_os_error(err))
    out/a.png: disk full (no space left on the device)
    >>> is_output_fatal(err)
    True
"""

from __future__ import annotations

import errno

# errno -> what it means for a user writing files (one phrase, no jargon).
_OS_REASONS: dict[int, str] = {
    errno.ENOSPC: "disk full (no space left on the device)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a parent is not a folder",
    errno.EISDIR: "is a folder",
    errno.ELOOP: "symbolic link loop",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
}
if hasattr(errno, "EDQUOT"):
    _OS_REASONS[errno.EDQUOT] = "disk quota exceeded"

# Errors of writing that every later write would hit too: a batch stops on them.
FATAL_WRITE_ERRNOS: frozenset[int] = frozenset(
    e for e in (errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", None)) if e is not None
)


class UserError(Exception):
    """A problem the user can fix (bad option, missing file); the CLI prints it as one line, exit 2."""


class InputError(UserError):
    """One input file cannot be processed (unreadable, truncated, no frames...).

    The message names the file; batch runs record it and continue with the next file.
    """


class OutputError(UserError):
    """An output cannot be written: disk full, read-only file system, permission denied.

    The message names the path; batch runs stop (every later file would fail alike) and say why.
    """


class ModelMismatchError(UserError):
    """A weights file's metadata does not match what the loader expects."""


def describe_os_error(err: OSError, path: object = None) -> str:
    """One line for an :class:`OSError`: ``PATH: reason`` with a plain reason for common errnos.

    Args:
        err: the error.
        path: the path to name when the error carries none.

    Returns:
        The line, e.g. ``out/a.png: read-only file system``.
    """
    name = err.filename if err.filename is not None else path
    reason = _OS_REASONS.get(err.errno or -1) or (err.strerror or str(err) or type(err).__name__)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    return f"{name}: {reason}" if name is not None else reason


def is_output_fatal(err: BaseException) -> bool:
    """True for write errors every later write would hit too (disk full, quota, read-only)."""
    return isinstance(err, OSError) and err.errno in FATAL_WRITE_ERRNOS
