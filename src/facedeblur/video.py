"""Reading and writing videos frame by frame with PyAV, keeping size, frame rate, timing and audio.

:func:`transcode_video` is the one way the package rewrites a video: it demuxes the input once,
decodes each video frame to an RGB ``uint8`` array, hands it to a callback, encodes what the callback
returns with the same size and timestamps, and copies every audio packet untouched (no re-encoding),
so the result has the same frame count, frame rate and audio track as the input.

Bad input (not a video, no video stream, no decodable frames) raises
:class:`facedeblur.errors.InputError` naming the file; the output is written to a temporary file in
the destination folder and renamed into place only when the whole video succeeded.

Example:
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> src = os.path.join(folder, "in.mp4")
    >>> write_video(src, [np.zeros((16, 16, 3), np.uint8)] * 3, fps=25)
    3
    >>> probe_video(src).frames
    3
    >>> transcode_video(src, os.path.join(folder, "out.mp4"), lambda rgb, i: 255 - rgb).frames
    3
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from facedeblur.batch.inputs import VIDEO_EXTENSIONS, is_video_path  # noqa: F401 - the one list, re-exported
from facedeblur.errors import InputError
from facedeblur.images import give_usual_mode

# Codec used for the restored video stream, by container; pixel format chosen by frame size.
_VIDEO_CODECS = {
    ".mp4": "libx264",
    ".m4v": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".avi": "mpeg4",
    ".webm": "libvpx-vp9",
}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` and :func:`transcode_video` report about a video.

    Attributes:
        width: frame width in pixels.
        height: frame height in pixels.
        fps: average frame rate (frames per second).
        frames: number of frames (frames written by :func:`transcode_video`; video packets counted
            without decoding by :func:`probe_video`).
        has_audio: the file has at least one audio stream.
        duration: seconds, or 0.0 when unknown.
    """

    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    duration: float


def _open_input(path: Path):
    import av

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable video ({_first_line(err)})") from err
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream in the file")
    return container


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's size, frame rate, frame count and whether it has audio.

    Args:
        path: a video file.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        InputError: unreadable file, no video stream or no frames.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        frames = _count_packets(container, stream, path)
        if frames == 0:
            raise InputError(f"{path}: the video has no frames")
        return VideoInfo(
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            fps=float(stream.average_rate or stream.guessed_rate or 0),
            frames=frames,
            has_audio=bool(container.streams.audio),
            duration=float(stream.duration * stream.time_base) if stream.duration else 0.0,
        )
    finally:
        container.close()


def _count_packets(container, stream, path: Path) -> int:
    # Headers can be missing or off by one (AVI); counting packets is exact for our codecs and needs no decoding.
    import av

    try:
        return sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.error.FFmpegError as err:
        raise InputError(f"{path}: video stream is corrupt ({_first_line(err)})") from err


def _decode_frames(container, stream, path: Path) -> Iterator:
    import av

    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as err:
        raise InputError(f"{path}: video stream is corrupt ({_first_line(err)})") from err


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield a video's frames as (H, W, 3) RGB ``uint8`` arrays, in order, as stored (not rotated).

    Raises:
        InputError: unreadable file, no video stream or a corrupt stream.
    """
    path = Path(path)
    container = _open_input(path)
    try:
        for frame in _decode_frames(container, container.streams.video[0], path):
            yield frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def _add_video_stream(output, ext: str, width: int, height: int, rate: Fraction, time_base: Fraction):
    codec = _VIDEO_CODECS.get(ext, "libx264")
    stream = output.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    # 4:2:0 needs even sizes; odd-sized videos keep full chroma instead of being cropped.
    even = width % 2 == 0 and height % 2 == 0
    stream.pix_fmt = "yuv420p" if even or codec != "libx264" else "yuv444p"
    if codec == "libx264":
        stream.options = {"crf": "17", "preset": "medium"}
    else:
        stream.bit_rate = max(2_000_000, width * height * 8)
    stream.time_base = time_base
    return stream


def _quarter_turns(frame) -> int:
    """Counter-clockwise quarter turns that show a decoded frame upright (its display rotation)."""
    rotation = getattr(frame, "rotation", 0) or 0
    return int(round(float(rotation) / 90.0)) % 4


def transcode_video(
    src: str | Path,
    dst: str | Path,
    process: Callable[[np.ndarray, int], np.ndarray],
    progress: Callable[[int], None] | None = None,
) -> VideoInfo:
    """Rewrite a video frame by frame through ``process``, keeping size, timing and audio.

    Args:
        src: input video.
        dst: output video (same container types as :data:`VIDEO_EXTENSIONS`); written atomically.
        process: called as ``process(rgb, index)`` with each frame as (H, W, 3) RGB ``uint8``, upright
            (a display rotation, as phones record, is applied first and undone after), and its index;
            returns the new frame, same shape and dtype.
        progress: optional callback called with 1 after each frame.

    Returns:
        The :class:`VideoInfo` of the written video (``frames`` = frames written).

    Raises:
        InputError: unreadable input, no video stream, a corrupt stream or no frames at all.
    """
    import av

    src, dst = Path(src), Path(dst)
    ext = dst.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise ValueError(f"{dst}: unsupported video extension {ext!r} (use one of {VIDEO_EXTENSIONS})")
    container = _open_input(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=ext, dir=dst.parent)
    os.close(fd)
    written = turns = 0
    try:
        in_video = container.streams.video[0]
        in_video.thread_type = "AUTO"
        in_audio = list(container.streams.audio)
        width, height = int(in_video.codec_context.width), int(in_video.codec_context.height)
        rate = in_video.average_rate or in_video.guessed_rate or Fraction(25)
        with av.open(tmp, mode="w") as output:
            index_pts = ext == ".avi"
            time_base = 1 / rate if index_pts else in_video.time_base
            out_video = _add_video_stream(output, ext, width, height, rate, time_base)
            audio_map = {}
            for stream in in_audio:
                try:
                    audio_map[stream.index] = output.add_stream_from_template(stream)
                except (ValueError, av.error.FFmpegError):  # codec the container cannot hold: leave out
                    continue
            try:
                for packet in container.demux([in_video, *in_audio]):
                    if packet.stream.index in audio_map:
                        if packet.dts is None:  # flush packet of the demuxer
                            continue
                        packet.stream = audio_map[packet.stream.index]
                        output.mux(packet)
                        continue
                    for frame in packet.decode():
                        if written == 0:
                            turns = _quarter_turns(frame)
                            if turns:  # phone videos: keep the display rotation flag, restore upright pixels
                                out_video.set_display_rotation(90 * turns)
                        rgb = np.rot90(frame.to_ndarray(format="rgb24"), turns)
                        new = np.ascontiguousarray(process(np.ascontiguousarray(rgb), written))
                        if new.shape != rgb.shape or new.dtype != np.uint8:
                            raise ValueError(
                                f"process() must return a {rgb.shape} uint8 frame, got {new.shape} {new.dtype}"
                            )
                        new = np.ascontiguousarray(np.rot90(new, -turns))
                        out = av.VideoFrame.from_ndarray(new, format="rgb24")
                        if index_pts:  # AVI counts frames; other containers keep the input's timestamps
                            out.pts = written
                        else:
                            out.pts, out.time_base = frame.pts, frame.time_base
                        output.mux(out_video.encode(out))
                        written += 1
                        if progress is not None:
                            progress(1)
            except av.error.FFmpegError as err:
                raise InputError(f"{src}: video stream is corrupt ({_first_line(err)})") from err
            if written == 0:
                raise InputError(f"{src}: the video has no frames")
            output.mux(out_video.encode(None))
        give_usual_mode(tmp)
        os.replace(tmp, dst)
    finally:
        container.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return VideoInfo(
        width=width,
        height=height,
        fps=float(rate),
        frames=written,
        has_audio=bool(audio_map),
        duration=float(written / rate) if rate else 0.0,
    )


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0) -> int:
    """Write RGB ``uint8`` frames to a new video file (no audio), atomically.

    Args:
        path: output file with one of :data:`VIDEO_EXTENSIONS`.
        frames: (H, W, 3) ``uint8`` arrays, all the same size.
        fps: frame rate.

    Returns:
        The number of frames written (a file with no frames is still written, with a video stream).
    """
    import av

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise ValueError(f"{path}: unsupported video extension {ext!r} (use one of {VIDEO_EXTENSIONS})")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=ext, dir=path.parent)
    os.close(fd)
    count = 0
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(tmp, mode="w") as output:
            stream = None
            for rgb in frames:
                rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
                if stream is None:
                    stream = _add_video_stream(output, ext, rgb.shape[1], rgb.shape[0], rate, 1 / rate)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = count
                output.mux(stream.encode(frame))
                count += 1
            if stream is None:  # a valid header with a video stream and no frames (tests use it)
                stream = _add_video_stream(output, ext, 16, 16, rate, 1 / rate)
                output.start_encoding()
            output.mux(stream.encode(None))
        give_usual_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count


def trim_video(src: str | Path, dst: str | Path, seconds: float) -> VideoInfo:
    """Copy the first ``seconds`` of a video's video and audio streams without re-encoding, atomically.

    Packets are cut by decoding time, so every kept frame still has the frames it refers to.

    Args:
        src: input video.
        dst: output video (same container type, one of :data:`VIDEO_EXTENSIONS`).
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
    container = _open_input(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    try:
        kept = [s for s in container.streams if s.type in ("video", "audio")]
        with av.open(tmp, mode="w") as output:
            streams = {s.index: output.add_stream_from_template(s) for s in kept}
            for packet in container.demux(kept):
                if packet.dts is None or float(packet.dts * packet.time_base) >= seconds:
                    continue
                packet.stream = streams[packet.stream.index]
                output.mux(packet)
        give_usual_mode(tmp)
        os.replace(tmp, dst)
    finally:
        container.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return probe_video(dst)
