"""The loop of every batch command: one record per file, one line per problem, the run goes on.

:func:`run_one` runs the work of one file and turns whatever it raises into that file's failure
record with a one-line message naming the file: an :class:`~facedeblur.errors.InputError` as it is,
an unexpected error as ``FILE: TypeName: message`` (its traceback only with ``debug``), a
``MemoryError`` as "out of memory". Writes that every later file would fail alike (disk full,
quota, read-only file system, :class:`~facedeblur.errors.OutputError`) mark the record ``fatal``:
:func:`run_batch` then stops, says why in one line, and still writes the report (or says why it
could not). Ctrl-C and SIGTERM stop the run the same way, after the report is written.

:func:`remove_stale_temps` removes the temporary files a killed run left next to its outputs.

Example:
    >>> from facedeblur.errors import InputError
    >>> def work():
    ...     raise InputError("a.png: not a readable image")
    >>> run_one("a.png", work)["error"]
    'a.png: not a readable image'
    >>> run_one("b.png", lambda: {"faces": 2})["status"]
    'ok'
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from facedeblur.errors import OutputError, UserError, describe_os_error, is_output_fatal

OUT_OF_MEMORY = "out of memory (the file is too large for this machine's memory)"


def describe_error(err: BaseException, name: str | Path) -> str:
    """One line for an error of processing the file ``name``, naming it.

    Example:
        >>> describe_error(ValueError("bad shape\\nmore"), "a.png")
        'a.png: ValueError: bad shape'
    """
    name = str(name)
    if isinstance(err, MemoryError):
        return f"{name}: {OUT_OF_MEMORY}"
    if isinstance(err, OSError) and not isinstance(err, UserError):
        text = describe_os_error(err, name)
        return text if text.startswith(name) or err.filename is not None else f"{name}: {text}"
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, UserError):
        text = first or type(err).__name__
        return text if name in text else f"{name}: {text}"
    return f"{name}: {type(err).__name__}: {first}" if first else f"{name}: {type(err).__name__}"


def run_one(
    name: str | Path, work: Callable[[], dict | None], debug: bool = False, stream: TextIO | None = None
) -> dict:
    """Run ``work()`` for the file ``name``; returns its record.

    Args:
        name: the input, as the record's ``input``.
        work: does the file's work; returns the record's fields (``status`` defaults to ``ok``).
        debug: print the traceback of unexpected errors to ``stream``.
        stream: where tracebacks go (default stderr).

    Returns:
        ``{"input": name, "status": ..., ...fields, "seconds": s}``; a failure has ``error`` (one line)
        and, for writes every later file would fail alike, ``fatal: True``.
    """
    start = time.perf_counter()
    record: dict[str, Any] = {"input": str(name)}
    try:
        fields = work() or {}
        record.update(fields)
        record.setdefault("status", "ok")
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as err:  # noqa: BLE001 - one file's failure never stops the batch
        record.update(status="failed", error=describe_error(err, name))
        if isinstance(err, OutputError) or is_output_fatal(err):
            record["fatal"] = True
        if debug:
            traceback.print_exception(err, file=stream or sys.stderr)
    record["seconds"] = round(time.perf_counter() - start, 4)
    return record


@dataclass
class BatchResult:
    """How a run ended: its report dict, failed count, and why it stopped early (None: it did not)."""

    report: dict[str, Any] = field(default_factory=dict)
    failed: int = 0
    stopped: str | None = None
    report_error: str | None = None
    said: bool = False  # the stop was already printed

    @property
    def exit_code(self) -> int:
        """0 when every file succeeded and the report was written, else 1."""
        return 1 if self.failed or self.stopped or self.report_error else 0


def run_batch(
    jobs: Sequence[Any],
    work: Callable[[Any], dict | None],
    report,
    *,
    command: str,
    name: Callable[[Any], str | Path] = lambda job: job,
    skip: Callable[[Any], dict | None] | None = None,
    skip_bad: bool = True,
    progress: bool = True,
    debug: bool = False,
    unit: str = "file",
    stream: TextIO | None = None,
) -> BatchResult:
    """Run ``work(job)`` for each job, record each in ``report``, print one line per problem.

    Args:
        jobs: the work items.
        work: does one job; returns the record's fields (see :func:`run_one`).
        report: a :class:`facedeblur.batch.report.BatchReport`; closed (written) at the end, also when
            the run is interrupted.
        command: the command's name in messages (``facedeblur COMMAND: ...``).
        name: the job's input, for records and messages.
        skip: returns a ``skipped`` record's fields for jobs not to run (e.g. output exists), else None.
        skip_bad: go on past failed files (False: stop at the first).
        progress: show progress (a bar on a terminal, a line every few seconds elsewhere; stderr).
        debug: print tracebacks of unexpected errors.
        unit: what a job is, for the progress bar.
        stream: where messages go (default stderr).

    Returns:
        A :class:`BatchResult`; its ``exit_code`` is 1 when any file failed or the run stopped early.
    """
    from facedeblur.progress import progress as progress_display

    stream = stream or sys.stderr
    say = sayer(command, stream)
    result = BatchResult()
    bar = progress_display(jobs, desc=command.split()[0], unit=unit, enabled=progress and len(jobs) > 1, stream=stream)
    done = 0
    try:
        for job in bar:
            label = name(job)
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(str(label)[-30:], refresh=False)
            fields = skip(job) if skip is not None else None
            if fields is not None:
                record = {"input": str(label), **fields, "status": "skipped", "seconds": 0.0}
            else:
                record = run_one(label, lambda job=job: work(job), debug=debug, stream=stream)
            done += 1
            for warning in record.get("warnings", []):
                say(f"warning: {warning}")
            fatal = record.pop("fatal", False)
            report.add(record)
            if record["status"] == "failed":
                if fatal or not skip_bad:
                    left = len(jobs) - done
                    why = "stopped" if fatal else "stopped by --no-skip-bad"
                    result.stopped = f"{why}: {record['error']}" + (f"; {left} file(s) not processed" if left else "")
                    say(result.stopped)
                    result.said = True
                    break
                say(record["error"])
    except KeyboardInterrupt:
        result.stopped = f"interrupted; {len(jobs) - done} file(s) not processed"
        raise
    finally:
        bar.close()
        finish_batch(report, result, say)
    return result


def finish_batch(report, result: BatchResult, say: Callable[[str], None]) -> BatchResult:
    """Write the report's final state into ``result`` (or why it could not be written) and say how the run ended."""
    report.stopped = result.stopped
    try:
        result.report = report.close()
    except OSError as err:
        result.report = report.build()
        result.report_error = f"the report could not be written: {describe_os_error(err, report.path)}"
    if result.stopped and not result.said:
        say(result.stopped)
    if result.report_error:
        say(result.report_error)
    result.failed = int(result.report["summary"]["failed"])
    return result


def sayer(command: str, stream: TextIO | None = None) -> Callable[[str], None]:
    """A function printing ``facedeblur COMMAND: message`` lines to ``stream`` (default stderr), above any bar."""
    stream = stream or sys.stderr

    def say(message: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"facedeblur {command}: {message}", file=stream)

    return say


# mkstemp names: ``.<output name>.<8 random chars>.tmp`` (images.write_bytes_atomic) and
# ``.<output stem>.<8 random chars><ext>`` (video.transcode_video, write_video).
_TEMP_RE = re.compile(r"^\.(?P<base>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]+)$")


def remove_stale_temps(outputs: Iterable[str | Path]) -> list[Path]:
    """Remove temporary files a killed run left next to these outputs; returns the removed paths.

    Only files named like the package's own temporaries *of these outputs* go: other files in the
    output folders are never touched.
    """
    by_folder: dict[Path, set[str]] = {}
    for out in outputs:
        out = Path(out)
        names = by_folder.setdefault(out.parent, set())
        names.add(f"{out.name}|.tmp")
        names.add(f"{out.stem}|{out.suffix.lower()}")
    removed = []
    for folder, names in by_folder.items():
        try:
            entries = [e for e in os.scandir(folder) if e.name.startswith(".")]
        except OSError:
            continue
        for entry in entries:
            match = _TEMP_RE.match(entry.name)
            if not match or f"{match['base']}|{match['suffix'].lower()}" not in names:
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed
