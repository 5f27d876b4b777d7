"""Cutting videos without re-encoding: trims, key-frame-aligned chunks, and joining chunks back.

A long video restored on several workers is cut at key frames (:func:`plan_chunks`): every chunk
starts with a frame that decodes on its own, so each worker decodes only its chunk
(``transcode_video(..., span=chunk.span)``). The restored chunks keep the input's timestamps and
start with a key frame each, so :func:`join_chunks` puts them back together by copying their
packets (the joins are not re-encoded), and copies the input's audio, subtitles and tags alongside.

Example:
    >>> plan_chunks([0, 100, 200, 300], end=400, chunks=2)
    [Chunk(index=0, start_pts=0, end_pts=200), Chunk(index=1, start_pts=200, end_pts=None)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facedeblur.errors import InputError
from facedeblur.images import atomic_path
from facedeblur.video.streams import (
    VideoInfo,
    copy_metadata,
    copy_streams,
    first_frame_rotation,
    first_line,
    open_input,
    probe_video,
)


@dataclass(frozen=True)
class Chunk:
    """A key-frame-aligned piece of a video: frames with ``start_pts <= pts < end_pts`` (None: to the end)."""

    index: int
    start_pts: int
    end_pts: int | None

    @property
    def span(self) -> tuple[int, int | None]:
        return self.start_pts, self.end_pts


def key_frame_times(path: str | Path) -> tuple[list[int], int, int]:
    """The pts of every key frame of a video (sorted), its last pts + 1, and its frame count; no decoding."""
    import av

    path = Path(path)
    container = open_input(path)
    try:
        stream = container.streams.video[0]
        keys, end, frames = [], 0, 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                frames += 1
                end = max(end, int(packet.pts) + max(1, int(packet.duration or 1)))
                if packet.is_keyframe:
                    keys.append(int(packet.pts))
        except av.error.FFmpegError as err:
            if not frames:
                raise InputError(f"{path}: video stream is corrupt ({first_line(err)})") from err
        return sorted(set(keys)), end, frames
    finally:
        container.close()


def plan_chunks(key_pts: list[int], end: int, chunks: int) -> list[Chunk]:
    """Split ``[first key frame, end)`` into at most ``chunks`` pieces of about equal length, cut at key frames.

    Args:
        key_pts: sorted pts of the key frames.
        end: pts past the last frame.
        chunks: pieces wanted (fewer come back when the video has fewer key frames).
    """
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    if not key_pts:
        return [Chunk(0, 0, None)]
    first = key_pts[0]
    starts = [first]
    for i in range(1, chunks):
        target = first + (end - first) * i / chunks
        best = min(key_pts, key=lambda k: abs(k - target))
        if best > starts[-1]:
            starts.append(best)
    return [Chunk(i, s, starts[i + 1] if i + 1 < len(starts) else None) for i, s in enumerate(starts)]


def join_chunks(parts: list[str | Path], dst: str | Path, source: str | Path) -> VideoInfo:
    """Join restored chunks into one video by copying their packets; add the source's other streams.

    Args:
        parts: the chunks' videos, in order (same codec settings, one key frame first each).
        dst: the joined video (same container type as the parts); written atomically.
        source: the original video, whose audio, subtitle and data streams and tags are copied.

    Returns:
        The :class:`VideoInfo` of the joined video.
    """
    import av

    dst, source = Path(dst), Path(source)
    if not parts:
        raise ValueError("no chunks to join")
    original = open_input(source)
    try:
        with atomic_path(dst, same_extension=True) as tmp:
            first = open_input(Path(parts[0]))
            with av.open(tmp, mode="w") as output:
                template = first.streams.video[0]
                video = output.add_stream_from_template(template)
                first.close()
                rotation = first_frame_rotation(Path(parts[0]))
                if rotation:
                    video.set_display_rotation(rotation)
                copy_metadata(original, output)
                copies, _ = copy_streams(original, output, source)
                last_dts = None
                for part in parts:
                    container = open_input(Path(part))
                    try:
                        stream = container.streams.video[0]
                        for packet in container.demux(stream):
                            if packet.size == 0:  # the demuxer's end-of-stream packet
                                continue
                            packet.time_base = stream.time_base
                            # B-frame delays make a chunk's first dts dip below the previous chunk's last one
                            # (or leave them unknown: Matroska stores none); one tick after it is as good.
                            if last_dts is not None and (packet.dts is None or packet.dts <= last_dts):
                                packet.dts = last_dts + 1
                                if packet.pts is not None and packet.pts < packet.dts:
                                    packet.pts = packet.dts
                            if packet.dts is not None:
                                last_dts = packet.dts
                            packet.stream = video
                            output.mux(packet)
                    finally:
                        container.close()
                if copies:
                    for packet in original.demux([original.streams[i] for i in copies]):
                        if packet.size == 0:
                            continue
                        packet.stream = copies[packet.stream.index]
                        output.mux(packet)
    finally:
        original.close()
    return probe_video(dst)


def trim_video(src: str | Path, dst: str | Path, seconds: float) -> VideoInfo:
    """Copy the first ``seconds`` of a video's video and audio streams without re-encoding, atomically.

    Packets are cut by decoding time, so every kept frame still has the frames it refers to.

    Args:
        src: input video.
        dst: output video (same container type, one of :data:`facedeblur.batch.inputs.VIDEO_EXTENSIONS`).
        seconds: length to keep.

    Returns:
        The :class:`VideoInfo` of the trimmed video.

    Raises:
        InputError: unreadable input, or nothing left after trimming.
    """
    import av

    src, dst = Path(src), Path(dst)
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    container = open_input(src)
    try:
        with atomic_path(dst, same_extension=True) as tmp:
            kept = [s for s in container.streams if s.type in ("video", "audio")]
            with av.open(tmp, mode="w") as output:
                streams = {s.index: output.add_stream_from_template(s) for s in kept}
                for packet in container.demux(kept):
                    when = packet.dts if packet.dts is not None else packet.pts  # Matroska: B-frames have no dts
                    if packet.size == 0 or when is None or float(when * packet.time_base) >= seconds:
                        continue
                    packet.stream = streams[packet.stream.index]
                    output.mux(packet)
    finally:
        container.close()
    return probe_video(dst)
