"""The dataset report: ``report.json`` from the per-video reports, and its plain-text table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from facedeblur.data.mining.config import MiningConfig
from facedeblur.images import write_text_atomic

REPORT_NAME = "report.json"


def write_summary(
    out: Path,
    reports: Sequence[dict[str, Any]],
    config: MiningConfig,
    seconds: float,
    pairs: bool,
    ray_address: str | None,
) -> dict[str, Any]:
    """Write ``out/report.json`` from the per-video reports and return it."""
    frames = sum(r["frames"] for r in reports)
    stages: dict[str, float] = {}
    for r in reports:
        for key, value in r.get("stage_cpu_seconds", {}).items():
            stages[key] = round(stages.get(key, 0.0) + value, 3)
    summary = {
        "command": "mine",
        "config": asdict(config),
        "ray": ray_address,
        "videos": {
            r["name"]: {
                "video": r["video"],
                "status": r["status"],
                "reason": r["reason"],
                "frames": r["frames"],
                "accepted_frames": r["accepted_frames"],
                "rejected_frames": r["rejected_frames"],
                **({"pairs": r.get("pairs")} if pairs else {}),
            }
            for r in reports
        },
        "accepted_videos": sum(r["status"] == "accepted" for r in reports),
        "rejected_videos": sum(r["status"] == "rejected" for r in reports),
        "failed_videos": sum(r["status"] == "failed" for r in reports),
        "frames": frames,
        "accepted_frames": sum(r["accepted_frames"] for r in reports),
        "pairs": sum((r.get("pairs") or {}).get("written", 0) for r in reports) if pairs else None,
        "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 3) if seconds > 0 else None,
        "stage_cpu_seconds": dict(sorted(stages.items())),
    }
    write_text_atomic(out / REPORT_NAME, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def is_unusable(video: dict[str, Any]) -> bool:
    """A video of a summary that could not be mined at all (failed, or unreadable)."""
    return video["status"] == "failed" or video["reason"].startswith("unreadable video")


def format_summary(summary: dict[str, Any], errors_below: bool = False) -> str:
    """A plain-text table of a dataset summary (one line per video), as printed by ``facedeblur mine``.

    With ``errors_below`` the reason of an unusable video reads "see the error line" (the command
    prints that line, naming the file, so each bad file is named once).
    """
    lines = [f"{'video':<12} {'status':<9} {'frames':>6} {'kept':>5}  reason / rejected frames"]
    for name, v in summary["videos"].items():
        detail = v["reason"] or ", ".join(f"{k}: {n}" for k, n in sorted(v["rejected_frames"].items())) or "-"
        if errors_below and is_unusable(v):
            detail = "see the error line"
        lines.append(f"{name:<12} {v['status']:<9} {v['frames']:>6} {v['accepted_frames']:>5}  {detail}")
    fps = summary["frames_per_second"]
    lines.append(
        f"{summary['accepted_videos']} of {len(summary['videos'])} videos kept, {summary['accepted_frames']} of"
        f" {summary['frames']} frames; {summary['seconds']:.1f} s, {fps if fps is not None else 0:.2f} frames/s"
        + (f"; {summary['pairs']} pairs" if summary.get("pairs") is not None else "")
    )
    return "\n".join(lines)
