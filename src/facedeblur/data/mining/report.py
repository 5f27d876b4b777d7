"""The dataset report ``DATASET/report.json`` in the batch core's layout, and its plain-text table.

One record per video (:func:`video_record`) in a :class:`facedeblur.batch.report.BatchReport` of command
``mine``: ``status`` is the batch status (``ok``: the video was mined, whether kept or not; ``failed``: it
could not be read or mining it failed, with ``error``, one line naming it), ``verdict`` what mining
decided (``accepted``, ``rejected`` or ``failed``), ``name`` its folder in the dataset, ``reason``, the
frame counts and ``pairs``. The options are the mining settings, the summary adds the dataset's counts::

    {"facedeblur": VERSION, "command": "mine", "complete": true, "stopped": null,
     "options": {<MiningConfig>, "pairs": false}, "ray": null,
     "summary": {"files": 3, "ok": 3, "skipped": 0, "failed": 0, "carried_over": 0,
                 "accepted_videos": 1, "rejected_videos": 2, "failed_videos": 0, "frames": 120,
                 "accepted_frames": 30, "pairs": null, "frames_per_second": 14.2,
                 "stage_cpu_seconds": {...}, "seconds": 8.4},
     "files": [{"input": "clips/a.mp4", "status": "ok", "name": "a", "verdict": "accepted", ...}, ...],
     "failures": [...]}

The report is rewritten as videos finish, so a run that is killed leaves the records of what it mined.

Example:
    >>> record = video_record({"video": "a.mp4", "name": "a", "status": "rejected", "frames": 9,
    ...                        "reason": "no face detected in the first frame", "accepted_frames": 0,
    ...                        "rejected_frames": {}, "seconds": 0.5})
    >>> record["status"], record["verdict"]
    ('ok', 'rejected')
    >>> video_record({"video": "b.mp4", "name": "b", "status": "rejected", "frames": 0, "accepted_frames": 0,
    ...               "reason": "unreadable video: b.mp4: no video stream", "rejected_frames": {}})["error"]
    'b.mp4: no video stream'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from facedeblur.batch.report import BatchReport
from facedeblur.data.mining.config import MiningConfig

REPORT_NAME = "report.json"
COMMAND = "mine"
_UNREADABLE = "unreadable video: "
_FAILED = "failed: "


def is_unusable(video: dict[str, Any]) -> bool:
    """A video (a per-video report or a dataset record) that could not be mined at all: failed, or unreadable."""
    verdict = video.get("verdict", video["status"])
    return verdict == "failed" or video["reason"].startswith(_UNREADABLE.strip())


def video_record(report: dict[str, Any], pairs: bool = False) -> dict[str, Any]:
    """The dataset report's record of one video from its own report (``DATASET/<name>/report.json``).

    Args:
        report: what :func:`facedeblur.data.mining.mine_video_or_report` returned for the video.
        pairs: the run builds pairs (the record then has the video's ``pairs``).

    Returns:
        ``{"input", "status", "name", "verdict", "reason", "frames", "accepted_frames", "rejected_frames",
        ["pairs"], ["error"], "seconds"}``; ``status`` is ``failed`` for an unusable video, with ``error``,
        its one line naming the video.
    """
    record: dict[str, Any] = {
        "input": str(report["video"]),
        "status": "failed" if is_unusable(report) else "ok",
        "name": report["name"],
        "verdict": report["status"],
        "reason": report["reason"],
        "frames": report["frames"],
        "accepted_frames": report["accepted_frames"],
        "rejected_frames": report["rejected_frames"],
    }
    if pairs:
        record["pairs"] = report.get("pairs")
    if record["status"] == "failed":
        video, message = str(report["video"]), report["reason"].removeprefix(_FAILED).removeprefix(_UNREADABLE)
        record["error"] = message if Path(video).name in message else f"{video}: {message or 'failed'}"
        record["stage_cpu_seconds"] = {}
    else:
        record["stage_cpu_seconds"] = dict(report.get("stage_cpu_seconds", {}))
    record["seconds"] = report.get("seconds", 0.0)
    return record


def dataset_summary(pairs: bool, started: float) -> Callable[[list[dict]], dict[str, Any]]:
    """The summary fields a dataset report adds to the batch counts (``summarize`` of its BatchReport).

    Args:
        pairs: the run builds pairs (else the summary's ``pairs`` is None).
        started: ``time.perf_counter()`` when mining began (frames per second are over the wall time since).

    Returns:
        A function of the records giving videos kept, rejected and failed, frames, pairs, frames per
        second and CPU seconds by stage.
    """

    def summarize(records: list[dict]) -> dict[str, Any]:
        videos = [r for r in records if "verdict" in r]  # not the inputs named but never mined (links, FIFOs)
        frames = sum(r["frames"] for r in videos)
        stages: dict[str, float] = {}
        for r in videos:
            for key, value in r.get("stage_cpu_seconds", {}).items():
                stages[key] = round(stages.get(key, 0.0) + value, 3)
        seconds = time.perf_counter() - started
        return {
            "accepted_videos": sum(r["verdict"] == "accepted" for r in videos),
            "rejected_videos": sum(r["verdict"] == "rejected" for r in videos),
            "failed_videos": sum(r["verdict"] == "failed" for r in videos),
            "frames": frames,
            "accepted_frames": sum(r["accepted_frames"] for r in videos),
            "pairs": sum((r.get("pairs") or {}).get("written", 0) for r in videos) if pairs else None,
            "frames_per_second": round(frames / seconds, 3) if seconds > 0 else None,
            "stage_cpu_seconds": dict(sorted(stages.items())),
        }

    return summarize


def open_report(
    out: Path,
    config: MiningConfig,
    pairs: bool,
    ray_address: str | None,
    problems: Sequence[tuple[str, str]] = (),
) -> BatchReport:
    """The dataset report of a mining run, with a failure record for each input that is no video.

    Args:
        out: the dataset folder (the report is ``out/report.json``).
        config: the mining settings (the report's options).
        pairs: the run builds pairs.
        ray_address: the Ray cluster the run uses (None: in this process), recorded as ``ray``.
        problems: ``(input, one-line message)`` of inputs found but not mineable (dangling links, FIFOs).

    Returns:
        The open :class:`BatchReport` (the caller adds the videos' records and closes it).
    """
    report = BatchReport(
        Path(out) / REPORT_NAME,
        COMMAND,
        {**asdict(config), "pairs": bool(pairs)},
        summarize=dataset_summary(pairs, time.perf_counter()),
    )
    report.extra = {"ray": ray_address}
    for item, message in problems:
        report.add({"input": str(item), "status": "failed", "error": message})
    return report


def format_summary(summary: dict[str, Any], errors_below: bool = False) -> str:
    """A plain-text table of a dataset report (one line per video), as printed by ``facedeblur mine``.

    Args:
        summary: the dataset report (``DATASET/report.json``).
        errors_below: the reason of an unusable video reads "see the error line" (the command prints
            that line, naming the file, so each bad file is named once).

    Returns:
        The table and a last line with the totals.
    """
    lines = [f"{'video':<12} {'status':<9} {'frames':>6} {'kept':>5}  reason / rejected frames"]
    for v in summary["files"]:
        if "verdict" not in v:  # an input that is no video: named on its own line
            continue
        detail = v["reason"] or ", ".join(f"{k}: {n}" for k, n in sorted(v["rejected_frames"].items())) or "-"
        if errors_below and is_unusable(v):
            detail = "see the error line"
        lines.append(f"{v['name']:<12} {v['verdict']:<9} {v['frames']:>6} {v['accepted_frames']:>5}  {detail}")
    s = summary["summary"]
    fps = s["frames_per_second"]
    videos = s["accepted_videos"] + s["rejected_videos"] + s["failed_videos"]
    lines.append(
        f"{s['accepted_videos']} of {videos} videos kept, {s['accepted_frames']} of"
        f" {s['frames']} frames; {s['seconds']:.1f} s, {fps if fps is not None else 0:.2f} frames/s"
        + (f"; {s['pairs']} pairs" if s.get("pairs") is not None else "")
    )
    return "\n".join(lines)
