"""Per-file records and the JSON report of a batch run, written atomically as the run goes.

A record is a dict with at least ``input`` (str) and ``status`` (``ok``, ``skipped`` or ``failed``;
a failure has ``error``, one line naming the file). :class:`BatchReport` keeps them in input order and
rewrites the report file atomically (temporary file + rename, the usual file mode) after the first
record, at most every ``interval`` seconds after that, and when the run ends or is interrupted, so a
killed run leaves a report of what it finished. Opened with ``resume=True`` it carries the records of
the earlier report at the same path over: a file skipped because its output exists keeps its earlier
record, and earlier records of files this run does not touch stay.

Layout::

    {"facedeblur": VERSION, "command": "restore", "complete": true, "stopped": null,
     "options": {...}, "summary": {"files": N, "ok": N, "skipped": N, "failed": N, "seconds": S, ...},
     "files": [record, ...], "failures": [{"input": ..., "error": ...}, ...]}

Example:
    >>> import tempfile, os, json
    >>> path = os.path.join(tempfile.mkdtemp(), "report.json")
    >>> report = BatchReport(path, "demo")
    >>> report.add({"input": "a.png", "status": "ok"})
    >>> report.add({"input": "b.png", "status": "failed", "error": "b.png: not a readable image"})
    >>> report.close()["summary"]["failed"]
    1
    >>> json.load(open(path))["failures"]
    [{'input': 'b.png', 'error': 'b.png: not a readable image'}]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATUSES = ("ok", "skipped", "failed")


class BatchReport:
    """The records of one batch run and their JSON report file.

    Args:
        path: the report file (None: records are kept in memory only).
        command: the command's name, e.g. ``"restore"`` or ``"degrade images"``.
        options: the settings the run used (recorded as given).
        resume: carry over the records of an earlier report of the same command at ``path``.
        carry: with ``resume``, which earlier records may be carried over (default: all); e.g. only
            those scored with the same model and settings.
        summarize: extra summary fields from the records (e.g. faces restored).
        interval: seconds between rewrites of the report while the run goes.
    """

    def __init__(
        self,
        path: str | Path | None,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        resume: bool = False,
        carry: Callable[[dict], bool] | None = None,
        summarize: Callable[[list[dict]], dict[str, Any]] | None = None,
        interval: float = 2.0,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.command = command
        self.options = dict(options or {})
        self.summarize = summarize
        self.interval = float(interval)
        self.stopped: str | None = None
        self.extra: dict[str, Any] = {}
        self._records: dict[str, dict] = {}
        self._earlier: dict[str, dict] = {}
        self._started = time.perf_counter()
        self._last_write = 0.0
        self._written = False
        if resume and self.path is not None:
            self._earlier = _read_records(self.path, command)
            if carry is not None:
                self._earlier = {key: r for key, r in self._earlier.items() if carry(r)}

    @property
    def records(self) -> list[dict]:
        """This run's records in input order, then the carried-over ones it did not touch."""
        seen = list(self._records.values())
        return seen + [r for key, r in self._earlier.items() if key not in self._records]

    def earlier(self, key: str | Path) -> dict | None:
        """The carried-over record of the input ``key`` (``resume``), or None."""
        return self._earlier.get(str(key))

    def add(self, record: dict) -> None:
        """Add one file's record (replacing an earlier record of the same input); may rewrite the report.

        A ``skipped`` record of a file whose earlier record was ``ok`` with the same output keeps the
        earlier record.
        """
        if record.get("status") not in STATUSES or "input" not in record:
            raise ValueError(f"a record needs 'input' and a status in {STATUSES}, got {record!r}")
        key = str(record["input"])
        earlier = self._earlier.get(key)
        if (
            record["status"] == "skipped"
            and earlier is not None
            and earlier.get("status") == "ok"
            and earlier.get("output") == record.get("output")
        ):
            record = {**earlier, "resumed": True}
        self._records[key] = record
        now = time.perf_counter()
        if self.path is not None and (not self._written or now - self._last_write >= self.interval):
            self.write()

    def reorder(self, inputs: list[str]) -> None:
        """Put this run's records in the order of ``inputs``; records of other inputs stay first."""
        rank = {str(key): i for i, key in enumerate(inputs)}
        items = sorted(self._records.items(), key=lambda kv: rank.get(kv[0], -1))
        self._records = dict(items)

    def failures(self) -> list[dict]:
        """``input`` and ``error`` of every failed record."""
        return [{"input": r["input"], "error": r.get("error", "")} for r in self.records if r["status"] == "failed"]

    def build(self, complete: bool = False) -> dict[str, Any]:
        """The report as a dict (what :meth:`write` writes)."""
        from facedeblur import __version__

        records = self.records
        summary: dict[str, Any] = {"files": len(records)}
        for status in STATUSES:
            summary[status] = sum(r["status"] == status for r in records)
        summary["carried_over"] = sum(1 for r in records if r.get("resumed") or str(r["input"]) not in self._records)
        if self.summarize is not None:
            summary.update(self.summarize(records))
        summary["seconds"] = round(time.perf_counter() - self._started, 3)
        return {
            "facedeblur": __version__,
            "command": self.command,
            "complete": bool(complete),
            "stopped": self.stopped,
            "options": self.options,
            **self.extra,
            "summary": summary,
            "files": records,
            "failures": self.failures(),
        }

    def write(self, complete: bool = False) -> dict[str, Any]:
        """Rewrite the report file atomically; returns the report.

        Raises:
            OSError: it cannot be written (the caller says so in one line).
        """
        from facedeblur.images import write_text_atomic

        report = self.build(complete)
        if self.path is not None:
            write_text_atomic(self.path, json.dumps(report, indent=2, default=str) + "\n")
            self._written = True
            self._last_write = time.perf_counter()
        return report

    def close(self) -> dict[str, Any]:
        """Write the final report (``complete`` unless the run was stopped); returns it."""
        return self.write(complete=self.stopped is None)


def _read_records(path: Path, command: str) -> dict[str, dict]:
    """The records of an earlier report of ``command`` at ``path`` (none when absent, unreadable or another's)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("command") != command or not isinstance(data.get("files"), list):
        return {}
    return {
        str(r["input"]): r
        for r in data["files"]
        if isinstance(r, dict) and "input" in r and r.get("status") in STATUSES
    }
