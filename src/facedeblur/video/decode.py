"""Decoding a video's frames upright, with their timestamps, going on past damage and saying so.

:func:`decode_frames` demuxes the input once: video packets are decoded to :class:`Frame` s (RGB
``uint8``, turned upright by the display rotation, with the input's pts), every other packet goes to
``on_packet`` untouched (the writer copies audio and subtitles from there). A packet that fails to
decode is counted and skipped, a stream that ends with an error stops the decoding there, and
:meth:`DecodeStats.warnings` turns both, and a video shorter than its header says (a truncated file),
into one line each.

Example:
    >>> stats = DecodeStats(frames=90, expected=120)
    >>> stats.warnings("clip.mp4")
    ['clip.mp4: the video looks truncated: 90 frames decoded, the header announces 120']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.errors import InputError
from facedeblur.video.streams import display_rotation, expected_frames, first_line

# A decoded video shorter than this share of the frames its header announces is reported as truncated.
TRUNCATED_SHARE = 0.98


@dataclass
class Frame:
    """One decoded video frame on its way through a pipeline.

    Attributes:
        index: position among the decoded frames (0-based).
        rgb: (H, W, 3) RGB ``uint8``, upright (the display rotation applied).
        pts: presentation timestamp in ``time_base`` units (None when the input has none).
        time_base: the pts unit.
        key: the input had a key frame here.
        data: what the pipeline's stages attach (faces, crops, timings).
    """

    index: int
    rgb: np.ndarray
    pts: int | None
    time_base: Fraction
    key: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DecodeStats:
    """What decoding met: frames decoded, frames the header announced, packets that failed, how it ended.

    Attributes:
        frames: frames decoded (and handed on).
        expected: frames the header announces (0: it does not say).
        failed: video packets that failed to decode and were skipped.
        damaged: frames the decoder flagged as corrupt (shown with error concealment).
        ended_by: the error that stopped the demuxing before the end of the file (None: a clean end).
        rotation: the display rotation (degrees counter-clockwise) of the first frame.
    """

    frames: int = 0
    expected: int = 0
    failed: int = 0
    damaged: int = 0
    ended_by: str | None = None
    rotation: int = 0

    def warnings(self, path: str | Path) -> list[str]:
        """One line per problem met, naming the file."""
        out = []
        if self.failed:
            out.append(f"{path}: {self.failed} frame(s) failed to decode and were left out")
        if self.damaged:
            out.append(f"{path}: {self.damaged} frame(s) are damaged in the input (decoded with error concealment)")
        if self.ended_by:
            out.append(f"{path}: the video stream ends with an error after {self.frames} frames ({self.ended_by})")
        elif self.expected and self.frames < TRUNCATED_SHARE * self.expected - 1:
            out.append(
                f"{path}: the video looks truncated: {self.frames} frames decoded, the header announces {self.expected}"
            )
        return out


def decode_frames(
    container,
    path: Path,
    stats: DecodeStats,
    *,
    on_packet: Callable[[Any], None] | None = None,
    copied: frozenset[int] | set[int] = frozenset(),
    start_pts: int | None = None,
    end_pts: int | None = None,
) -> Iterator[Frame]:
    """Yield the video's frames upright, in order; hand other streams' packets to ``on_packet``.

    Args:
        container: an open input container (see :func:`facedeblur.video.streams.open_input`).
        path: the input, for messages.
        stats: filled while decoding (see :class:`DecodeStats`).
        on_packet: called with each packet of the streams in ``copied`` (flush packets left out).
        copied: indexes of the streams whose packets go to ``on_packet``.
        start_pts: only frames with ``pts >= start_pts`` (the container is first sought to the key
            frame at or before it); None: from the start.
        end_pts: only frames with ``pts < end_pts``; None: to the end.

    Raises:
        InputError: the stream is corrupt before any frame could be decoded.
    """
    import av

    video = container.streams.video[0]
    video.thread_type = "AUTO"
    stats.expected = expected_frames(video) if start_pts is None and end_pts is None else 0
    if start_pts is not None:
        container.seek(int(start_pts), stream=video, backward=True, any_frame=False)
    streams = [video] + [s for s in container.streams if s.index in copied]
    turns = None
    time_base = Fraction(video.time_base) if video.time_base else Fraction(1, 25)
    index = 0
    packets = container.demux(streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as err:
            if index == 0 and stats.failed == 0:
                raise InputError(f"{path}: video stream is corrupt ({first_line(err)})") from err
            stats.ended_by = first_line(err)
            break
        if packet.stream.index != video.index:
            if packet.size > 0 and on_packet is not None:
                on_packet(packet)
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            stats.failed += 1
            continue
        for frame in frames:
            pts = frame.pts
            if end_pts is not None and pts is not None and pts >= end_pts:
                return
            if start_pts is not None and pts is not None and pts < start_pts:
                continue  # decoded to reach the first frame of the span
            if turns is None:
                stats.rotation = display_rotation(frame)
                turns = stats.rotation // 90
            if getattr(frame, "is_corrupt", False):
                stats.damaged += 1
            rgb = frame.to_ndarray(format="rgb24")
            if turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, turns))
            yield Frame(index, rgb, pts, Fraction(frame.time_base) if frame.time_base else time_base, frame.key_frame)
            index += 1
            stats.frames = index


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield a video's frames as (H, W, 3) RGB ``uint8`` arrays, in order, as stored (not rotated).

    Raises:
        InputError: unreadable file, no video stream or a corrupt stream.
    """
    import av

    from facedeblur.video.streams import open_input

    path = Path(path)
    container = open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as err:
            raise InputError(f"{path}: video stream is corrupt ({first_line(err)})") from err
    finally:
        container.close()
