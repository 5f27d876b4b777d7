"""Small synthetic videos made with PyAV: variable frame rate, audio, subtitles, tags, rotation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

SUBTITLES = "1\n00:00:00,000 --> 00:00:00,400\nHello\n\n2\n00:00:00,400 --> 00:00:00,800\nWorld\n"


def pattern(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A textured frame that moves with ``index`` (so every frame differs)."""
    yy, xx = np.mgrid[0:height, 0:width]
    red = (xx * 4 + index * 9) % 256
    green = (yy * 5) % 256
    blue = ((xx + yy) * 3 + index * 17) % 256
    return np.dstack([red, green, blue]).astype(np.uint8)


def make_clip(
    path: Path,
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 1000),
    size: tuple[int, int] = (48, 64),
    audio: bool = False,
    subtitles: bool = False,
    rotation: int = 0,
    tags: dict[str, str] | None = None,
    codec: str = "libx264",
    faststart: bool = False,
    images: list[np.ndarray] | None = None,
    gop: int | None = None,
) -> list[int]:
    """Write a clip; returns the video pts written (default: 12 frames at a variable rate).

    Args:
        path: output (.mp4, .mkv, .mov...).
        pts: the frames' pts in ``time_base`` units.
        size: (height, width).
        audio: add a mono AAC tone of the clip's length.
        subtitles: add an SRT stream (Matroska only).
        rotation: display rotation in degrees (counter-clockwise).
        tags: container tags.
        faststart: put the MP4 index first (so a truncated file still opens).
        images: the frames (default: :func:`pattern`, moving); their size overrides ``size``.
        gop: frames between key frames (default: the encoder's).
    """
    import av

    if images is not None:
        pts = pts if pts is not None else [round(i / 25 / time_base) for i in range(len(images))]
        size = images[0].shape[:2]
    pts = pts if pts is not None else [0, 40, 80, 120, 200, 240, 280, 400, 440, 480, 520, 560]
    height, width = size
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = time_base
        if gop:
            video.codec_context.gop_size = gop
            video.options = {"keyint": str(gop), "min-keyint": str(gop), "scenecut": "0"}
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000) if audio else None
        sub_stream = None
        source = None
        if subtitles:
            srt = path.with_suffix(".srt")
            srt.write_text(SUBTITLES)
            source = av.open(str(srt))
            sub_stream = out.add_stream_from_template(source.streams[0])
            sub_stream.metadata["language"] = "fra"
        for key, value in (tags or {}).items():
            out.metadata[key] = value
        for i, p in enumerate(pts):
            image = images[i] if images is not None else pattern(i, height, width)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = p, time_base
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            total = int((pts[-1] * time_base + Fraction(1, 25)) * 16000)
            tone = (0.3 * np.sin(np.arange(total) * 0.05)).astype(np.float32)[None]
            for start in range(0, total, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 16000, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
        if source is not None:
            for packet in source.demux(source.streams[0]):
                if packet.dts is not None:
                    packet.stream = sub_stream
                    out.mux(packet)
            source.close()
    return pts


def video_pts_seconds(path: Path) -> list[float]:
    """Presentation times (s) of a video's decoded frames."""
    import av

    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(video=0)]


def stream_summary(path: Path) -> list[tuple[str, str, str | None]]:
    """(type, codec, language) of every stream."""
    import av

    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name, s.metadata.get("language")) for s in container.streams]


def packets_of(path: Path, kind: str) -> list[bytes]:
    """Raw packet payloads of the first stream of a kind."""
    import av

    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [bytes(p) for p in container.demux(stream) if p.size > 0]
