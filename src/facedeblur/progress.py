"""One progress display for every long command: a bar on a terminal, a line every few seconds elsewhere.

:func:`progress` returns an object with the part of tqdm's interface the package uses (``update``,
``close``, ``set_postfix_str``, ``write``, iteration, use as a context manager):

- on a terminal: a tqdm bar (rate and ETA included);
- anywhere else (a log file, CI, a pipe): :class:`LineProgress`, one plain line at most every
  ``interval`` seconds (``restore: 120/500 frames (24%), 11.8 frames/s, ETA 0:32``) and a last line
  when it closes, so long runs are never silent and logs stay short;
- with ``enabled=False`` (``--quiet``): nothing at all.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> with progress(total=4, desc="demo", unit="frame", stream=out, interval=0) as bar:
    ...     bar.update(4)
    >>> out.getvalue().splitlines()[-1].startswith("demo: 4/4 frames (100%)")
    True
    >>> list(progress(range(3), enabled=False))
    [0, 1, 2]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

DEFAULT_INTERVAL = 5.0  # seconds between two lines when not on a terminal


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a bar can redraw itself there)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour) for an ETA or an elapsed time.

    Example:
        >>> format_duration(75.4), format_duration(3725)
        ('1:15', '1:02:05')
    """
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _plural(unit: str) -> str:
    return unit if unit.endswith("s") else unit + "s"


class LineProgress:
    """Progress as plain lines: at most one every ``interval`` seconds, and one when it closes.

    Args:
        iterable: optional items to iterate over (each counts 1).
        total: expected count (None: unknown; no percentage or ETA then).
        desc: what is running, at the start of each line.
        unit: what is counted (singular).
        stream: where lines go (default stderr).
        interval: least seconds between two lines (0: a line at every update).
    """

    def __init__(
        self,
        iterable: Iterable | None = None,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        stream: TextIO | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable = iterable
        self.total = None if total is None else int(total)
        self.desc, self.unit = desc, unit
        self.stream = stream or sys.stderr
        self.interval = float(interval)
        self.n = 0
        self.postfix = ""
        self.start = time.monotonic()
        self._last = self.start
        self._closed = False

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("this progress has no iterable to iterate over")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done; print a line when ``interval`` seconds passed since the last one."""
        self.n += int(n)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._print(now)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Text appended to each line (e.g. the file being worked on)."""
        self.postfix = str(text)

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = str(desc)

    def write(self, text: str) -> None:
        """Print a message line (the same call as ``tqdm.write``)."""
        print(text, file=self.stream, flush=True)

    def refresh(self) -> None:
        self._print(time.monotonic())

    def close(self) -> None:
        """Print the last line (when anything was counted) once."""
        if self._closed:
            return
        self._closed = True
        if self.n:
            self._print(time.monotonic())

    def line(self, now: float | None = None) -> str:
        """The current line: ``DESC: done/total units (pct), rate units/s, ETA m:ss [postfix]``."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.n / elapsed
        units = _plural(self.unit)
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            text = f"{head}{self.n}/{self.total} {units} ({100.0 * self.n / self.total:.0f}%)"
        else:
            text = f"{head}{self.n} {units}"
        text += f", {rate:.3g} {units}/s"
        if self.total and self.n < self.total and rate > 0:
            text += f", ETA {format_duration((self.total - self.n) / rate)}"
        elif self.total and self.n >= self.total:
            text += f", took {format_duration(elapsed)}"
        if self.postfix:
            text += f" [{self.postfix}]"
        return text

    def _print(self, now: float) -> None:
        try:
            print(self.line(now), file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stream never stops the work
            pass


class NoProgress(LineProgress):
    """What ``--quiet`` gets: counts, prints nothing."""

    def _print(self, now: float) -> None:
        return None

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def progress(
    iterable: Iterable | None = None,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    *,
    enabled: bool = True,
    stream: TextIO | None = None,
    interval: float = DEFAULT_INTERVAL,
    leave: bool = True,
) -> Any:
    """The progress display for this run: tqdm bar on a terminal, :class:`LineProgress` elsewhere.

    Args:
        iterable: optional items to iterate over.
        total: expected count (defaults to ``len(iterable)`` where it has one).
        desc: short name of the work (e.g. the command or the file).
        unit: what is counted, singular (``frame``, ``file``, ``pair``).
        enabled: False (``--quiet``) shows nothing.
        stream: where it goes (default stderr); decides bar or lines by whether it is a terminal.
        interval: seconds between two plain lines.
        leave: keep the finished bar on the terminal.

    Returns:
        A tqdm bar, a :class:`LineProgress` or a :class:`NoProgress`.
    """
    stream = stream or sys.stderr
    if not enabled:
        return NoProgress(iterable, total, desc, unit, stream, interval)
    if is_terminal(stream):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True, leave=leave)
    return LineProgress(iterable, total, desc, unit, stream, interval)
