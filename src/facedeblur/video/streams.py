"""Opening videos, probing them, and carrying everything that is not the picture into the output.

A restored video must be the input with better faces, nothing else: :func:`copy_streams` copies the
audio, subtitle and data streams packet for packet (a remux, never a re-encode) with their language
and titles, :func:`copy_metadata` the container's tags (title, creation time, location...), and
:func:`display_rotation` reads the display rotation a phone records so the writer can keep it.

Example:
    >>> first_line(ValueError("bad\\nworse"))
    'bad'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from facedeblur.errors import InputError

LOGGER = logging.getLogger("facedeblur.video")

# Stream kinds copied packet for packet from the input (the video stream is re-encoded).
COPIED_KINDS = ("audio", "subtitle", "data")
# Container tags the muxer writes itself: copying them would misdescribe the output.
_OWN_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration"}


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` and the writers report about a video.

    Attributes:
        width: frame width in pixels, as stored (before any display rotation).
        height: frame height in pixels, as stored.
        fps: average frame rate (frames per second).
        frames: number of frames (frames written by the writers; video packets counted without
            decoding by :func:`probe_video`).
        has_audio: the file has at least one audio stream.
        duration: seconds, or 0.0 when unknown.
        rotation: display rotation in degrees counter-clockwise (0, 90, 180 or 270).
        streams: number of streams besides the video (audio, subtitles, data).
    """

    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    duration: float
    rotation: int = 0
    streams: int = 0


def first_line(err: BaseException) -> str:
    """The first line of an error's message (its type name when it has none)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def open_input(path: Path):
    """Open a video for reading; bad files raise :class:`InputError` naming them."""
    import av

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable video ({first_line(err)})") from err
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream in the file")
    return container


def frame_rate(stream) -> Fraction:
    """The stream's average frame rate (guessed when the header has none; 25 as a last resort)."""
    return Fraction(stream.average_rate or stream.guessed_rate or 25)


def expected_frames(stream) -> int:
    """Frames the header announces (0 when it does not say): the count, else duration x rate."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base:
        return int(round(float(stream.duration * stream.time_base) * float(frame_rate(stream))))
    return 0


def display_rotation(frame_or_stream) -> int:
    """Display rotation in degrees counter-clockwise, as a multiple of 90 (0 when there is none).

    Reads a decoded frame's display matrix (``frame.rotation``: what phones record) or, for a
    stream, its legacy ``rotate`` tag (clockwise degrees).

    Example:
        >>> class Frame: rotation = -90
        >>> display_rotation(Frame())
        270
    """
    rotation = getattr(frame_or_stream, "rotation", None)
    if rotation is None:
        tag = getattr(frame_or_stream, "metadata", {}).get("rotate")
        rotation = -float(tag) if tag else 0
    return int(round(float(rotation or 0) / 90.0)) % 4 * 90


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's size, frame rate, frame count, rotation and whether it has audio.

    Args:
        path: a video file.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        InputError: unreadable file, no video stream or no frames.
    """
    path = Path(path)
    container = open_input(path)
    try:
        stream = container.streams.video[0]
        frames = _count_packets(container, stream, path)
        if frames == 0:
            raise InputError(f"{path}: the video has no frames")
        rotation = first_frame_rotation(path)
        return VideoInfo(
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            fps=float(frame_rate(stream)),
            frames=frames,
            has_audio=bool(container.streams.audio),
            duration=float(stream.duration * stream.time_base) if stream.duration else 0.0,
            rotation=rotation,
            streams=sum(1 for s in container.streams if s.type in COPIED_KINDS),
        )
    finally:
        container.close()


def _count_packets(container, stream, path: Path) -> int:
    # Headers can be missing or off by one (AVI); counting packets is exact for our codecs and needs no decoding.
    import av

    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
    except av.error.FFmpegError as err:
        if count == 0:
            raise InputError(f"{path}: video stream is corrupt ({first_line(err)})") from err
    return count


def first_frame_rotation(path: Path) -> int:
    """The display rotation of a video's first decodable frame (0 when there is none)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                return display_rotation(frame)
            return display_rotation(stream)
    except (av.error.FFmpegError, OSError, IndexError):
        return 0


def copy_metadata(source, output) -> None:
    """Copy the container's tags (title, creation time, location, comments...) to the output."""
    for key, value in dict(source.metadata).items():
        if key.lower() not in _OWN_TAGS:
            output.metadata[key] = value


def copy_streams(source, output, path: Path) -> tuple[dict[int, object], list[str]]:
    """Add a copy of every audio, subtitle and data stream of ``source`` to ``output`` (no re-encoding).

    Args:
        source: the input container.
        output: the output container (nothing muxed yet).
        path: the input, for messages.

    Returns:
        (input stream index -> output stream, warnings for streams the output container cannot hold).
    """
    import av

    copies: dict[int, object] = {}
    warnings = []
    supported = output.supported_codecs
    for stream in source.streams:
        if stream.type not in COPIED_KINDS:
            continue
        context = getattr(stream, "codec_context", None)
        name = getattr(context, "name", None) or "unknown codec"
        why = None
        if name not in supported:
            why = "the container has no place for it"
        else:
            try:
                copy = output.add_stream_from_template(stream)
            except (ValueError, TypeError, av.error.FFmpegError) as err:
                why = first_line(err)
        if why is not None:
            kind = Path(str(output.name)).suffix or output.format.name
            warnings.append(
                f"{path}: {stream.type} stream {stream.index} ({name}) cannot be stored in a {kind} file "
                f"and was left out ({why}; write a .mkv to keep it)"
            )
            continue
        for key, value in dict(stream.metadata).items():
            if key.lower() not in _OWN_TAGS:
                copy.metadata[key] = value
        copy.disposition = stream.disposition
        copies[stream.index] = copy
    return copies, warnings
