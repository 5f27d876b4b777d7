"""Mining a set of videos in this process: dataset folder checks, names, one failure record per bad video."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facedeblur.data.mining.config import MiningConfig
from facedeblur.data.mining.report import COMMAND, REPORT_NAME, open_report, video_record
from facedeblur.data.mining.video import mine_video
from facedeblur.errors import UserError, is_output_fatal
from facedeblur.images import write_text_atomic


def unique_names(videos: Sequence[Path]) -> list[str]:
    """Dataset folder names: the file stems, with ``-2``, ``-3``... added to repeated stems (and to ``pairs``).

    Example:
        >>> unique_names([Path("a/clip.mp4"), Path("b/clip.mp4"), Path("pairs.mp4")])
        ['clip', 'clip-2', 'pairs-2']
    """
    seen: dict[str, int] = {"pairs": 1}  # the pairs folder's name is taken
    names = []
    for video in videos:
        stem = video.stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def mine_video_or_report(
    video: str | Path, out_dir: str | Path, config: MiningConfig, name: str, pairs: bool = False
) -> dict[str, Any]:
    """:func:`mine_video`, with an unexpected error turned into a "failed" report so a batch goes on."""
    from facedeblur.batch.run import describe_error

    try:
        return mine_video(video, out_dir, config, name, pairs)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # noqa: BLE001 - the batch core's contract: one line, the batch goes on
        if is_output_fatal(err):
            raise
        report = {
            "video": str(video),
            "name": name,
            "status": "failed",
            "reason": f"failed: {describe_error(err, video)}",
            "frames": 0,
            "accepted_frames": 0,
            "rejected_frames": {},
            "records": [],
        }
        write_text_atomic(Path(out_dir) / name / REPORT_NAME, json.dumps(report, indent=1, sort_keys=True) + "\n")
        return report


def prepare_dataset(videos: Sequence[str | Path], out_dir: str | Path) -> tuple[list[Path], list[str]]:
    """Check the dataset folder against the inputs (not one of them, not above one, writable) and name the videos.

    Returns:
        The video paths and their folder names in the dataset (:func:`unique_names`).

    Raises:
        UserError: the dataset folder is an input, holds an input video, or cannot be written.
    """
    from facedeblur.batch.paths import PathPolicy, check_writable_folder

    paths = [Path(v) for v in videos]
    out = Path(out_dir)
    PathPolicy(paths).check_folder(out, "the dataset folder")
    for video in paths:
        if out.resolve() in video.resolve().parents:
            raise UserError(f"the dataset folder {out} must not contain the input video {video}")
    check_writable_folder(out, "the dataset folder")
    return paths, unique_names(paths)


def mine_videos(
    videos: Sequence[str | Path],
    out_dir: str | Path,
    config: MiningConfig = MiningConfig(),
    pairs: bool = False,
    progress: bool = True,
    skip_bad: bool = True,
    problems: Sequence[tuple[str, str]] = (),
    debug: bool = False,
) -> dict[str, Any]:
    """Mine several videos in this process through the batch core and write the dataset report.

    One Ray task per video instead: :func:`facedeblur.distributed.ray_jobs.mine_videos_with_ray` (same
    arguments and dataset). Each unusable video's one line is printed (``facedeblur mine: ...``) as it fails.

    Args:
        videos: video files.
        out_dir: the dataset folder (created).
        config: mining settings.
        pairs: also build frame-averaged pairs of accepted videos.
        progress: show progress.
        skip_bad: go on past videos that fail (False: stop at the first).
        problems: ``(input, message)`` of inputs that are no videos, recorded as failures (already named).
        debug: print the traceback of an unexpected error in the batch loop itself.

    Returns:
        The dataset report written to ``out_dir/report.json`` (:mod:`facedeblur.data.mining.report`):
        settings, one record per video with its verdict and reason, counts and frames per second.
    """
    from facedeblur.batch.run import run_batch

    paths, names = prepare_dataset(videos, out_dir)
    out = Path(out_dir)
    report = open_report(out, config, pairs, None, problems)

    def work(job: tuple[Path, str]) -> dict[str, Any]:
        video, name = job
        record = video_record(mine_video_or_report(video, out, config, name, pairs), pairs)
        del record["input"]
        return record

    result = run_batch(
        list(zip(paths, names, strict=True)),
        work,
        report,
        command=COMMAND,
        name=lambda job: job[0],
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="video",
    )
    return result.report
