"""Rewrite a video through a chain of frame stages, keeping everything but the pixels the stages change.

:func:`transcode_video` is the one way the package rewrites a video. Decoding, the stages and the
encoder run in their own threads (:func:`facedeblur.video.pipeline.run_stages`); what comes out has:

- the same frames, in order, with the input's timestamps (variable frame rates kept; AVI, which
  counts frames, gets consecutive ones), size and display rotation (stages see upright frames, the
  output stores them as the input did and keeps its rotation flag);
- the input's audio, subtitle and data streams copied packet for packet, its container tags and
  the video's colour tags;
- the codec and quality of an :class:`~facedeblur.video.encode.EncodeOptions`;
- warnings (not failures) for packets that failed to decode, streams the output container cannot
  hold and inputs shorter than their header says.

The output is written to a temporary file next to it and renamed into place, with the usual file
mode, only when the whole video succeeded; bad input raises :class:`facedeblur.errors.InputError`.

Example:
    >>> import numpy as np, tempfile, os
    >>> from facedeblur.video import write_video
    >>> folder = tempfile.mkdtemp()
    >>> src = os.path.join(folder, "in.mp4")
    >>> write_video(src, [np.zeros((16, 16, 3), np.uint8)] * 3, fps=25)
    3
    >>> transcode_video(src, os.path.join(folder, "out.mp4"), lambda rgb, i: 255 - rgb).frames
    3
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.errors import InputError
from facedeblur.video.decode import DecodeStats, Frame, decode_frames
from facedeblur.video.encode import EncodeOptions, add_video_stream, check_extension, rgb_frame
from facedeblur.video.pipeline import Stage, StageStats, run_stages
from facedeblur.video.streams import VideoInfo, copy_metadata, copy_streams, first_line, frame_rate, open_input


@dataclass
class TranscodeResult:
    """What :func:`transcode_video` wrote and met.

    Attributes:
        info: the written video (``frames`` = frames written; ``streams`` = streams copied).
        warnings: one line per problem that did not stop the run (naming the input).
        stages: busy time and rate of every step (decode, the stages, encode).
        seconds: wall time.
        decode: what decoding met (see :class:`~facedeblur.video.decode.DecodeStats`).
    """

    info: VideoInfo
    warnings: list[str] = field(default_factory=list)
    stages: dict[str, StageStats] = field(default_factory=dict)
    seconds: float = 0.0
    decode: DecodeStats = field(default_factory=DecodeStats)

    # The VideoInfo's fields, for callers that only want those.
    def __getattr__(self, name: str) -> Any:
        if name == "info":
            raise AttributeError(name)
        return getattr(self.info, name)

    def stage_rates(self) -> dict[str, dict[str, float]]:
        """Per step: items, busy seconds and frames per busy second (JSON-ready)."""
        return {name: s.to_dict() for name, s in self.stages.items()}


def _per_frame(process: Callable[[np.ndarray, int], np.ndarray]) -> Stage:
    def run(frame: Frame) -> Frame:
        new = np.ascontiguousarray(process(frame.rgb, frame.index))
        if new.shape != frame.rgb.shape or new.dtype != np.uint8:
            raise ValueError(f"process() must return a {frame.rgb.shape} uint8 frame, got {new.shape} {new.dtype}")
        frame.rgb = new
        return frame

    return Stage("process", run)


def transcode_video(
    src: str | Path,
    dst: str | Path,
    process: Callable[[np.ndarray, int], np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    stages: list[Stage] | None = None,
    options: EncodeOptions | None = None,
    span: tuple[int, int | None] | None = None,
    copy_other_streams: bool = True,
    depth: int = 8,
    threads: int | None = None,
) -> TranscodeResult:
    """Rewrite a video frame by frame, keeping timing, rotation, metadata and the other streams.

    Args:
        src: input video.
        dst: output video (one of :data:`facedeblur.batch.inputs.VIDEO_EXTENSIONS`); written atomically.
        process: ``process(rgb, index)`` gets each frame as (H, W, 3) RGB ``uint8``, upright, and
            returns the new frame (same shape and dtype). Ignored when ``stages`` is given.
        progress: called with 1 after each frame is written.
        stages: the :class:`~facedeblur.video.pipeline.Stage` s each :class:`~facedeblur.video.decode.Frame`
            goes through (they replace ``frame.rgb``); with neither ``process`` nor ``stages`` the
            frames are re-encoded as they are (a plain re-encode).
        options: codec and quality (default: ``EncodeOptions()``).
        span: ``(start_pts, end_pts)`` in the video stream's time base: only those frames (start at a
            key frame; end None: to the end), for restoring a long video in chunks; the other streams
            are not copied then.
        copy_other_streams: copy audio, subtitle and data streams (default True).
        depth: frames each queue between two steps holds.
        threads: threads of the decoder and of the encoder each (None: FFmpeg's choice, about one
            per core and more).

    Returns:
        A :class:`TranscodeResult` (its ``frames``, ``width``... read through to its ``info``).

    Raises:
        InputError: unreadable input, no video stream, a stream corrupt from its start, or no frames.
    """
    import av

    from facedeblur.images import atomic_path

    start_time = time.perf_counter()
    src, dst = Path(src), Path(dst)
    ext = check_extension(dst)
    options = options or EncodeOptions()
    if stages is None:
        stages = [_per_frame(process)] if process is not None else []
    container = open_input(src)
    decode_stats = DecodeStats()
    warnings: list[str] = []
    written = 0
    try:
        in_video = container.streams.video[0]
        width, height = int(in_video.codec_context.width), int(in_video.codec_context.height)
        rate = frame_rate(in_video)
        # muxers pick the format by the extension: the temporary keeps it (.<stem>.XXXXXXXX<ext>)
        with atomic_path(dst, same_extension=True) as tmp, av.open(tmp, mode="w") as output:
            index_pts = ext == ".avi"  # AVI counts frames; the other containers keep the input's timestamps
            time_base = 1 / rate if index_pts else Fraction(in_video.time_base or 1 / rate)
            out_video = add_video_stream(output, ext, width, height, rate, time_base, options, source=in_video)
            if threads:
                in_video.thread_count = int(threads)
                out_video.codec_context.thread_count = int(threads)
            copies: dict[int, Any] = {}
            if span is None:
                copy_metadata(container, output)
                if copy_other_streams:
                    copies, lost = copy_streams(container, output, src)
                    warnings += lost
            side: collections.deque = collections.deque()  # other streams' packets, muxed by the encoder thread
            state = {"turns": None, "last_pts": None}

            def on_packet(packet) -> None:
                side.append(packet)

            def mux_side() -> None:
                while side:
                    packet = side.popleft()
                    packet.stream = copies[packet.stream.index]
                    output.mux(packet)

            def encode(frame: Frame) -> None:
                nonlocal written
                if state["turns"] is None:
                    state["turns"] = decode_stats.rotation // 90
                    if state["turns"]:  # keep the display rotation flag; store the pixels as the input did
                        out_video.set_display_rotation(decode_stats.rotation)
                rgb = frame.rgb
                if state["turns"]:
                    rgb = np.ascontiguousarray(np.rot90(rgb, -state["turns"]))
                out = rgb_frame(rgb, out_video.pix_fmt)
                pts = frame.pts
                if index_pts or pts is None:
                    pts = written if index_pts else _next_pts(state["last_pts"], time_base, rate)
                    out.pts = pts
                else:
                    out.pts, out.time_base = pts, frame.time_base
                state["last_pts"] = pts
                packets = out_video.encode(out)
                mux_side()
                output.mux(packets)
                written += 1
                if progress is not None:
                    progress(1)

            frames = decode_frames(
                container,
                src,
                decode_stats,
                on_packet=on_packet if copies else None,
                copied=set(copies),
                start_pts=None if span is None else span[0],
                end_pts=None if span is None else span[1],
            )
            try:
                stats = run_stages(frames, stages, encode, depth=depth)
            except av.error.FFmpegError as err:
                raise InputError(f"{src}: video stream is corrupt ({first_line(err)})") from err
            if written == 0:
                raise InputError(f"{src}: the video has no frames" + ("" if span is None else " in this span"))
            flush_start = time.perf_counter()
            output.mux(out_video.encode(None))
            mux_side()
            stats["encode"].seconds += time.perf_counter() - flush_start
    finally:
        container.close()
    warnings = decode_stats.warnings(src) + warnings
    info = VideoInfo(
        width=width,
        height=height,
        fps=float(rate),
        frames=written,
        has_audio=any(s.type == "audio" for s in copies.values()),
        duration=float(written / rate) if rate else 0.0,
        rotation=decode_stats.rotation,
        streams=len(copies),
    )
    return TranscodeResult(info, warnings, stats, time.perf_counter() - start_time, decode_stats)


def _next_pts(last: int | None, time_base: Fraction, rate: Fraction) -> int:
    """A pts one frame after ``last`` (inputs without timestamps)."""
    step = max(1, round(1 / (rate * time_base))) if rate and time_base else 1
    return 0 if last is None else int(last) + step
