"""How restored videos are encoded: codec, quality (CRF), pixel format; and writing frames to a new video.

:class:`EncodeOptions` is what ``restore --codec/--crf`` set. ``codec`` is one of :data:`CODECS`:

- ``auto``: H.264 in .mp4/.m4v/.mov/.mkv, MPEG-4 Part 2 in .avi, VP9 in .webm;
- ``h264`` (libx264) and ``h265`` (libx265): quality set by ``crf`` (lower = better, bigger);
- ``lossless``: every pixel the pipeline produced is kept exactly: FFV1 in .mkv/.avi, H.264 RGB at
  QP 0 (libx264rgb) in .mp4/.m4v/.mov, lossless VP9 in .webm. Files are large (about 10x).

The default CRF retains at least 90 % of the input's fine detail in the face region on every dev
clip (``python benchmarks/quality/video_quality.py``; the measure is in :mod:`facedeblur.eval.video`):
x264 at CRF 10 retains 92-98 %, where the CRF 17 used before retained 85-96 %. The chroma layout of
the input (4:2:0, 4:2:2, 4:4:4) is kept; odd-sized frames, which 4:2:0 cannot hold, are written
4:4:4 rather than cropped.

Example:
    >>> EncodeOptions().encoder(".mp4"), EncodeOptions(codec="lossless").encoder(".mkv")
    ('libx264', 'ffv1')
    >>> EncodeOptions(codec="h265").quality()
    {'crf': '10', 'preset': 'medium', 'x265-params': 'log-level=error:no-sao=1'}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from facedeblur.batch.inputs import VIDEO_EXTENSIONS

if TYPE_CHECKING:
    import numpy as np

CODECS = ("auto", "h264", "h265", "lossless")
# Default CRF per codec: the largest CRF that retains >= 90 % of the face region's fine detail on every
# dev clip (benchmarks/quality/video_quality.py): x264 CRF 12 retains 90.8-97.8 %, too close to the line on d12,
# CRF 10 92.3-98.2 % (CRF 17: 84.8-96.2 %); x265, which smooths skin more (its SAO filter is turned off
# here), retains 91-92 % at CRF 10 on the hardest clips.
DEFAULT_CRF = {"h264": 10, "h265": 10, "vp9": 20}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

_AUTO = {".mp4": "h264", ".m4v": "h264", ".mov": "h264", ".mkv": "h264", ".avi": "mpeg4", ".webm": "vp9"}
_LOSSLESS = {".mkv": "ffv1", ".avi": "ffv1", ".mp4": "libx264rgb", ".m4v": "libx264rgb", ".mov": "libx264rgb"}
_ENCODERS = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9", "mpeg4": "mpeg4"}
_CHROMA = ("yuv420p", "yuv422p", "yuv444p")


@dataclass(frozen=True)
class EncodeOptions:
    """How the restored video stream is encoded.

    Attributes:
        codec: one of :data:`CODECS`.
        crf: constant rate factor for h264/h265/vp9 (None: :data:`DEFAULT_CRF` of the codec);
            0-51 (x264/x265), 0-63 (VP9). Ignored by ``lossless`` and MPEG-4.
        preset: x264/x265 speed preset (:data:`PRESETS`); slower = smaller files at the same quality.
    """

    codec: str = "auto"
    crf: int | None = None
    preset: str = "medium"

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {self.codec!r}")
        if self.crf is not None and not 0 <= int(self.crf) <= 63:
            raise ValueError(f"crf must be between 0 (best) and 51 (x264/x265) or 63 (VP9), got {self.crf}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")

    def family(self, ext: str) -> str:
        """``h264``, ``h265``, ``vp9``, ``mpeg4`` or ``lossless`` for a container extension."""
        ext = ext.lower()
        if ext == ".webm" and self.codec in ("h264", "h265"):
            raise ValueError(f"a .webm file holds VP8/VP9/AV1 only, not {self.codec} (use .mp4 or .mkv)")
        return _AUTO.get(ext, "h264") if self.codec == "auto" else self.codec

    def encoder(self, ext: str) -> str:
        """The FFmpeg encoder for a container extension."""
        family = self.family(ext)
        if family == "lossless":
            return _LOSSLESS.get(ext.lower(), "libvpx-vp9")
        return _ENCODERS[family]

    def quality(self, ext: str = ".mp4") -> dict[str, str]:
        """Encoder options (``crf``/``qp``, ``preset``) for a container extension."""
        family, encoder = self.family(ext), self.encoder(ext)
        if encoder == "libx264rgb":
            return {"qp": "0", "preset": self.preset}
        if encoder == "ffv1":
            return {"level": "3", "slicecrc": "1"}
        if family == "lossless":  # VP9
            return {"lossless": "1", "row-mt": "1"}
        if family == "mpeg4":
            return {}
        crf = str(int(self.crf if self.crf is not None else DEFAULT_CRF[family]))
        if family == "vp9":
            return {"crf": crf, "b": "0", "row-mt": "1"}
        options = {"crf": crf, "preset": self.preset}
        if family == "h265":
            options["x265-params"] = "log-level=error:no-sao=1"
        return options

    def to_dict(self) -> dict:
        return {"codec": self.codec, "crf": self.crf, "preset": self.preset}


def pixel_format(encoder: str, width: int, height: int, source: str | None = None) -> str:
    """The pixel format written: the input's chroma layout where the encoder has it, 4:4:4 for odd sizes.

    Example:
        >>> pixel_format("libx264", 48, 32, "yuv420p"), pixel_format("libx264", 47, 33, "yuv420p")
        ('yuv420p', 'yuv444p')
    """
    if encoder == "ffv1":
        return "bgr0"
    if encoder == "libx264rgb":
        return "rgb24"
    if encoder == "libvpx-vp9" and source == "lossless":
        return "gbrp"
    if encoder == "mpeg4":
        return "yuv420p"
    base = (source or "yuv420p").replace("yuvj", "yuv")
    chroma = base if base in _CHROMA else "yuv420p"
    if chroma in ("yuv420p", "yuv422p") and (width % 2 or (chroma == "yuv420p" and height % 2)):
        chroma = "yuv444p"
    return chroma


def rgb_frame(rgb: np.ndarray, pix_fmt: str):
    """An ``av.VideoFrame`` of an RGB ``uint8`` frame, ready for an encoder writing ``pix_fmt``.

    For 4:2:0 output of an even-sized frame the conversion is OpenCV's (BT.601 video range, the
    matrix FFmpeg's scaler uses by default, chroma averaged over each 2x2 block), about ten times
    faster than handing the encoder RGB to convert; any other format is converted by the encoder.

    Example:
        >>> import numpy as np
        >>> rgb_frame(np.full((4, 6, 3), 255, np.uint8), "yuv420p").to_ndarray()[0, 0]
        np.uint8(235)
    """
    import av
    import numpy as np

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    if pix_fmt == "yuv420p" and height % 2 == 0 and width % 2 == 0:
        import cv2

        return av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def add_video_stream(
    output,
    ext: str,
    width: int,
    height: int,
    rate: Fraction,
    time_base: Fraction,
    options: EncodeOptions | None = None,
    source=None,
):
    """Add the restored video stream to ``output`` (nothing muxed yet), keeping the source's colour tags.

    Args:
        output: an output container.
        ext: its extension (picks the container's codecs).
        width, height: frame size as stored.
        rate: frame rate.
        time_base: time base of the frames' pts.
        options: :class:`EncodeOptions` (default: ``EncodeOptions()``).
        source: the input's video stream, whose pixel format, colour range/space/primaries/transfer
            and sample aspect ratio are kept (None: a new video).
    """
    options = options or EncodeOptions()
    encoder = options.encoder(ext)
    stream = output.add_stream(encoder, rate=rate)
    stream.width, stream.height = width, height
    in_ctx = getattr(source, "codec_context", None)
    kind = "lossless" if options.family(ext) == "lossless" else getattr(in_ctx, "pix_fmt", None)
    stream.pix_fmt = pixel_format(encoder, width, height, kind)
    stream.options = options.quality(ext)
    if encoder == "mpeg4":
        stream.bit_rate = max(2_000_000, width * height * 8)
    if in_ctx is not None and not stream.pix_fmt.startswith(("rgb", "bgr", "gbr")):
        for key in ("color_range", "colorspace", "color_primaries", "color_trc"):
            value = getattr(in_ctx, key, None)
            if value:
                try:
                    setattr(stream.codec_context, key, value)
                except (AttributeError, ValueError, TypeError):
                    pass
    if source is not None and source.sample_aspect_ratio:
        try:
            stream.codec_context.sample_aspect_ratio = source.sample_aspect_ratio
        except (AttributeError, ValueError):
            pass
    stream.time_base = time_base
    # The encoder counts in the frames' own time base: rounding a variable frame rate's timestamps to
    # 1 / rate would merge neighbouring frames.
    stream.codec_context.time_base = time_base
    return stream


def check_extension(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise ValueError(f"{path}: unsupported video extension {ext!r} (use one of {VIDEO_EXTENSIONS})")
    return ext


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, options: EncodeOptions | None = None
) -> int:
    """Write RGB ``uint8`` frames to a new video file (no audio), atomically.

    Args:
        path: output file with one of :data:`VIDEO_EXTENSIONS`.
        frames: (H, W, 3) ``uint8`` arrays, all the same size.
        fps: frame rate.
        options: :class:`EncodeOptions` (default: the package's default quality).

    Returns:
        The number of frames written (a file with no frames is still written, with a video stream).
    """
    import av
    import numpy as np

    from facedeblur.images import atomic_path

    path = Path(path)
    ext = check_extension(path)
    count = 0
    rate = Fraction(fps).limit_denominator(1001)
    # muxers pick the format by the extension: the temporary keeps it (.<stem>.XXXXXXXX<ext>)
    with atomic_path(path, same_extension=True) as tmp, av.open(tmp, mode="w") as output:
        stream = None
        for rgb in frames:
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            if stream is None:
                stream = add_video_stream(output, ext, rgb.shape[1], rgb.shape[0], rate, 1 / rate, options)
            frame = rgb_frame(rgb, stream.pix_fmt)
            frame.pts = count
            output.mux(stream.encode(frame))
            count += 1
        if stream is None:  # a valid header with a video stream and no frames (tests use it)
            stream = add_video_stream(output, ext, 16, 16, rate, 1 / rate, options)
            output.start_encoding()
        output.mux(stream.encode(None))
    return count
