"""Reading a video's frames for mining (up to a limit) and charging CPU time to the stages that use it."""

from __future__ import annotations

import time
from pathlib import Path


def read_frames_upto(video: Path, max_frames: int | None):
    """The video's RGB frames (:func:`facedeblur.video.read_frames`), at most ``max_frames`` (None: all)."""
    from facedeblur.video import read_frames

    for i, frame in enumerate(read_frames(video)):
        if max_frames is not None and i >= max_frames:
            return
        yield frame


class StageClock:
    """CPU seconds of this process per stage (each :meth:`lap` charges the CPU time since the previous
    one): unlike wall time, this stays meaningful on a machine shared with other jobs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.process_time()

    def lap(self, stage: str) -> None:
        now = time.process_time()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now
