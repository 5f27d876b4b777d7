"""Scores of restored videos: flicker, fine detail kept, face-box PSNR on a frame-averaged video.

All three are measured in the face region of each frame (the largest face, found in the reference
video: detector on key frames, landmarks tracked between) on luma in 8-bit levels:

- **flicker**: mean |frame t - frame t-1 moved along the motion| in the face box, the motion being
  the optical flow of the *reference* (input) video. On the input it is what motion compensation
  leaves (noise, real changes); on a restoration, anything the restoration adds that does not move
  with the face (shimmer, blinking detail) raises it. A restoration is steady when its flicker is
  no higher than the input's.
- **detail kept**: the energy of the finest band (luma minus its Gaussian blur, sigma 1 px) in the
  face box of the output, over that of the input, summed over frames; and **detail retained**, the
  share of the input's finest band the output reproduces (its projection on the input's: coding
  noise that replaces detail keeps the energy but not this). A re-encode retains less than 1 (the
  encoder smooths skin).
- **face-box PSNR** on the frames protocol: a sharp clip is blurred by averaging each frame with its
  neighbours in linear light (9 frames, as the frames protocol does for pairs: real motion blur);
  the restoration of the blurred clip is compared with the sharp frames.

Example:
    >>> import numpy as np
    >>> still = [np.full((40, 40, 3), 100, np.uint8)] * 3
    >>> round(flicker(still, still, [(5, 5, 35, 35)] * 3), 3)
    0.0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facedeblur.images import to_uint8

Box = tuple[float, float, float, float]
BLUR_WINDOW = 9  # frames averaged per blurred frame (the middle one of the frames protocol's 7, 9, 11)
DETAIL_SIGMA = 1.0


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of 8-bit RGB, float32 in 8-bit levels."""
    rgb = np.asarray(rgb, np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _region(box: Box, shape: tuple[int, ...], grow: float = 0.0) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = (x1 - x0) * grow, (y1 - y0) * grow
    height, width = shape[:2]
    x0, y0 = max(0, int(x0 - dx)), max(0, int(y0 - dy))
    x1, y1 = min(width, int(np.ceil(x1 + dx))), min(height, int(np.ceil(y1 + dy)))
    return (x0, y0, x1, y1) if x1 - x0 >= 8 and y1 - y0 >= 8 else None


def frame_flicker(
    previous: np.ndarray, current: np.ndarray, ref_previous: np.ndarray, ref_current: np.ndarray, box: Box
) -> float | None:
    """Flicker between two frames in a face box (None when the box is too small)."""
    from facedeblur.video.temporal import dense_flow, warp

    outer = _region(box, current.shape, grow=0.15)
    inner = _region(box, current.shape)
    if outer is None or inner is None:
        return None
    x0, y0, x1, y1 = outer
    ref_a = luma(ref_previous[y0:y1, x0:x1]) / 255.0
    ref_b = luma(ref_current[y0:y1, x0:x1]) / 255.0
    flow = dense_flow(ref_a, ref_b)
    moved = warp(luma(previous[y0:y1, x0:x1]), flow)
    ix0, iy0, ix1, iy1 = inner
    diff = np.abs(moved - luma(current[y0:y1, x0:x1]))[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    return float(diff.mean())


def flicker(frames: Sequence[np.ndarray], reference: Sequence[np.ndarray], boxes: Sequence[Box | None]) -> float:
    """Mean motion-compensated frame-to-frame difference in the face boxes (8-bit levels).

    Args:
        frames: the video scored, (H, W, 3) uint8 RGB.
        reference: the video whose motion compensates (the input), same frames.
        boxes: the face box of each frame (None: no face; that frame and the next pair are skipped).
    """
    values = []
    for t in range(1, len(frames)):
        if boxes[t] is None or boxes[t - 1] is None:
            continue
        value = frame_flicker(frames[t - 1], frames[t], reference[t - 1], reference[t], boxes[t])
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else float("nan")


def detail_band(rgb: np.ndarray, box: Box) -> np.ndarray | None:
    """The finest band of the luma (luma minus its Gaussian blur, sigma 1 px) inside a face box."""
    import cv2

    region = _region(box, rgb.shape)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    y = luma(rgb[y0:y1, x0:x1])
    return (y - cv2.GaussianBlur(y, (0, 0), DETAIL_SIGMA))[2:-2, 2:-2]


def detail_energy(rgb: np.ndarray, box: Box) -> float:
    """Energy (mean square) of the finest band of the luma in a face box."""
    band = detail_band(rgb, box)
    return 0.0 if band is None else float(np.mean(band**2))


def detail_retained(
    output: Sequence[np.ndarray], reference: Sequence[np.ndarray], boxes: Sequence[Box | None]
) -> float:
    """Share of the reference's fine detail the output reproduces: sum <band_out, band_ref> / sum |band_ref|^2.

    Unlike an energy ratio, detail replaced by coding noise does not count: only the part of the
    output's finest band that matches the reference's does (1 = all of it, 0 = none).
    """
    dot = norm = 0.0
    for out, ref, box in zip(output, reference, boxes, strict=True):
        if box is None:
            continue
        a, b = detail_band(out, box), detail_band(ref, box)
        if a is None or b is None:
            continue
        dot += float(np.sum(a.astype(np.float64) * b))
        norm += float(np.sum(b.astype(np.float64) ** 2))
    return dot / norm if norm > 0 else float("nan")


def box_psnr(a: np.ndarray, b: np.ndarray, box: Box) -> float:
    """PSNR (dB) of two 8-bit RGB frames inside a box."""
    region = _region(box, a.shape)
    if region is None:
        return float("nan")
    x0, y0, x1, y1 = region
    mse = float(np.mean((a[y0:y1, x0:x1].astype(np.float64) - b[y0:y1, x0:x1].astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def face_boxes(frames: Iterable[np.ndarray], fps: float = 25.0) -> list[Box | None]:
    """The largest face's box in each frame (detector on key frames, landmarks tracked between)."""
    from facedeblur.face.detect import detect_faces, fit_landmarks
    from facedeblur.video.track import FaceFollower

    follower = FaceFollower(detect_faces, lambda rgb, box: fit_landmarks(rgb, box, 5), fps, key_interval=10)
    boxes: list[Box | None] = []
    for frame in frames:
        faces = follower.update(frame)
        if not faces:
            boxes.append(None)
            continue
        face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        boxes.append(tuple(float(v) for v in face.box))
    return boxes


def blurred_video(frames: Sequence[np.ndarray], window: int = BLUR_WINDOW) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(blurred, sharp) 8-bit frames: each frame averaged with its neighbours in linear light.

    Frames whose window would leave the clip are not produced: the first is frame ``window // 2``.
    """
    from facedeblur.degrade.frames import average_frames

    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 1, got {window}")
    for t in range(window // 2, len(frames) - window // 2):
        blurred, sharp = average_frames(frames[t - window // 2 : t + window // 2 + 1], linear=True)
        yield to_uint8(blurred), np.asarray(frames[t])


def most_moving_span(frames: Sequence[np.ndarray], length: int) -> int:
    """Start of the ``length`` consecutive frames that move the most (mean thumbnail difference).

    Talking heads sit still for seconds; a blurred version of a still stretch is hardly blurred.
    """
    from facedeblur.video.track import thumbnail

    if length >= len(frames):
        return 0
    thumbs = [thumbnail(f) for f in frames]
    motion = np.array([0.0] + [float(np.abs(a - b).mean()) for a, b in zip(thumbs[1:], thumbs[:-1], strict=True)])
    sums = np.convolve(motion, np.ones(length), mode="valid")
    return int(np.argmax(sums))


@dataclass
class VideoScores:
    """Scores of one restored video against its input (see the module docstring).

    Attributes:
        frames: frames compared.
        faces: frames with a face.
        flicker_in, flicker_out: flicker of the input and of the restoration (8-bit levels).
        detail_kept: fine-detail energy of the restoration over the input's, in the face boxes.
        detail_retained: share of the input's fine detail the restoration reproduces (see
            :func:`detail_retained`; for a re-encode, what the encoder kept).
        psnr_in, psnr_out: face-box PSNR of the input and the restoration against the sharp frames
            (frames protocol only; NaN otherwise).
    """

    frames: int
    faces: int
    flicker_in: float
    flicker_out: float
    detail_kept: float
    detail_retained: float = float("nan")
    psnr_in: float = float("nan")
    psnr_out: float = float("nan")

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def score_video(
    restored: Sequence[np.ndarray],
    original: Sequence[np.ndarray],
    boxes: Sequence[Box | None] | None = None,
    sharp: Sequence[np.ndarray] | None = None,
    fps: float = 25.0,
) -> VideoScores:
    """Flicker in and out, detail kept, and (with ``sharp``) face-box PSNR of a restoration.

    Args:
        restored: the restored frames.
        original: the input frames (their motion compensates; their detail is the reference).
        boxes: face box per frame (default: found in ``sharp`` or ``original``).
        sharp: the sharp frames of a frames-protocol clip (``original`` is then their blurred version).
        fps: frame rate (for the face tracker).
    """
    if len(restored) != len(original):
        raise ValueError(f"the restoration has {len(restored)} frames, the input {len(original)}")
    if boxes is None:
        boxes = face_boxes(sharp if sharp is not None else original, fps)
    kept = [i for i, b in enumerate(boxes) if b is not None]
    detail_in = sum(detail_energy(original[i], boxes[i]) for i in kept)
    detail_out = sum(detail_energy(restored[i], boxes[i]) for i in kept)
    scores = VideoScores(
        frames=len(restored),
        faces=len(kept),
        flicker_in=flicker(original, original, boxes),
        flicker_out=flicker(restored, original, boxes),
        detail_kept=detail_out / detail_in if detail_in > 0 else float("nan"),
        detail_retained=detail_retained(restored, original, boxes),
    )
    if sharp is not None and kept:
        scores.psnr_in = float(np.mean([box_psnr(original[i], sharp[i], boxes[i]) for i in kept]))
        scores.psnr_out = float(np.mean([box_psnr(restored[i], sharp[i], boxes[i]) for i in kept]))
    return scores


def read_clip(path: str | Path, max_frames: int | None = None) -> list[np.ndarray]:
    """A (short) video's frames, upright, as 8-bit RGB."""
    from facedeblur.video.decode import DecodeStats, decode_frames
    from facedeblur.video.streams import open_input

    container = open_input(Path(path))
    frames = []
    try:
        for frame in decode_frames(container, Path(path), DecodeStats()):
            frames.append(frame.rgb)
            if max_frames and len(frames) >= max_frames:
                break
    finally:
        container.close()
    return frames


def evaluate_video(
    video: str | Path,
    restorer=None,
    restored: str | Path | None = None,
    seconds: float = 10.0,
    workdir: str | Path | None = None,
    restore_options: dict | None = None,
) -> VideoScores:
    """Score a restoration of ``video``: its own (``restored``) or one made now with ``restorer``.

    The first ``seconds`` are compared (a restoration made now is written losslessly, so the scores
    are the restoration's, not the encoder's).

    Args:
        video: the input video.
        restorer: a :class:`facedeblur.restore.Restorer` (when ``restored`` is None).
        restored: an existing restoration of ``video`` (same frames).
        seconds: length compared.
        workdir: folder for the temporary files (default: a new temporary folder, removed after).
        restore_options: keyword arguments of :meth:`~facedeblur.restore.Restorer.restore_video`.
    """
    import shutil
    import tempfile

    from facedeblur.video import EncodeOptions, probe_video

    if (restorer is None) == (restored is None):
        raise ValueError("give either a restorer or a restored video")
    info = probe_video(video)
    frames = max(2, int(round(seconds * (info.fps or 25.0))))
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="facedeblur-eval-"))
    try:
        original = read_clip(video, frames)
        if restored is None:
            from facedeblur.video import trim_video

            clip = folder / f"clip{Path(video).suffix.lower()}"
            trim_video(video, clip, len(original) / (info.fps or 25.0) + 0.5 / (info.fps or 25.0))
            restored = folder / "restored.mkv"
            restorer.restore_video(clip, restored, encode=EncodeOptions("lossless"), **(restore_options or {}))
        output = read_clip(restored, len(original))
        if len(output) != len(original):
            from facedeblur.errors import InputError

            raise InputError(f"{restored}: {len(output)} frames where {video} has {len(original)}")
        return score_video(output, original, fps=info.fps or 25.0)
    finally:
        if not workdir:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class VideoBenchmarkRow:
    """One method on one clip of the video protocol."""

    clip: str
    method: str
    scores: VideoScores
    seconds: float


def video_protocol_clip(
    path: str | Path, out_dir: Path, seconds: float = 2.0, search_seconds: float = 12.0
) -> tuple[Path, list[np.ndarray], list[np.ndarray], float]:
    """The frames protocol as a video: the clip's most moving ``seconds``, blurred (9 frames, linear light).

    Returns:
        (the blurred clip written losslessly to ``out_dir``, blurred frames, sharp frames, fps).
    """
    from facedeblur.video import EncodeOptions, probe_video, write_video

    path = Path(path)
    fps = probe_video(path).fps or 25.0
    full = read_clip(path, max_frames=int(search_seconds * fps))
    length = min(len(full), int(round(seconds * fps)) + BLUR_WINDOW - 1)
    first = most_moving_span(full, length)
    pairs = list(blurred_video(full[first : first + length]))
    blurred, sharp = [b for b, _ in pairs], [s for _, s in pairs]
    clip = out_dir / f"{path.stem}_blurred.mkv"
    write_video(clip, blurred, fps=fps, options=EncodeOptions("lossless"))
    return clip, blurred, sharp, fps


def run_video_benchmark(
    videos: Sequence[str | Path],
    out_dir: str | Path,
    methods: Sequence[str],
    *,
    seconds: float = 2.0,
    device: str = "cpu",
    progress: bool = True,
    restore_options: dict | None = None,
) -> list[VideoBenchmarkRow]:
    """The video protocol: every method restores every clip's blurred stretch; PSNR, flicker, detail.

    ``blurred`` (the input as it is) is the baseline; other methods are bundled names or weights
    paths run by :meth:`facedeblur.restore.Restorer.restore_video` (lossless output). Writes
    ``video.md`` and ``video.json`` to ``out_dir``.
    """
    import json
    import time

    from facedeblur.eval.report import markdown_table
    from facedeblur.images import write_text_atomic
    from facedeblur.progress import progress as progress_bar
    from facedeblur.restore import Restorer
    from facedeblur.video import EncodeOptions

    out = Path(out_dir)
    work = out / "video_clips"
    work.mkdir(parents=True, exist_ok=True)
    restorers = {m: Restorer(m, device=device) for m in methods if m != "blurred"}
    rows: list[VideoBenchmarkRow] = []
    with progress_bar(total=len(videos) * len(methods), desc="video", unit="run", enabled=progress) as bar:
        for video in videos:
            clip, blurred, sharp, fps = video_protocol_clip(video, work, seconds)
            boxes = face_boxes(sharp, fps)
            for method in methods:
                start = time.perf_counter()
                if method == "blurred":
                    frames = blurred
                else:
                    restored = work / f"{clip.stem}_{Path(method).stem}.mkv"
                    restorers[method].restore_video(
                        clip, restored, encode=EncodeOptions("lossless"), **(restore_options or {})
                    )
                    frames = read_clip(restored)
                scores = score_video(frames, blurred, boxes, sharp=sharp, fps=fps)
                rows.append(VideoBenchmarkRow(Path(video).stem, method, scores, time.perf_counter() - start))
                bar.update(1)
    table = [
        {
            "clip": r.clip,
            "method": r.method,
            "psnr": round(r.scores.psnr_out, 2),
            "flicker": round(r.scores.flicker_out, 3),
            "flicker_vs_input": round(r.scores.flicker_out / r.scores.flicker_in, 3),
            "detail": round(r.scores.detail_kept, 3),
        }
        for r in rows
    ]
    means = []
    for method in methods:
        mine = [t for t in table if t["method"] == method]
        means.append(
            {
                "clip": "mean",
                "method": method,
                **{
                    k: round(float(np.mean([t[k] for t in mine])), 3)
                    for k in ("psnr", "flicker", "flicker_vs_input", "detail")
                },
            }
        )
    columns = ["clip", "method", "psnr", "flicker", "flicker_vs_input", "detail"]
    headers = {
        "psnr": "face-box PSNR (dB)",
        "flicker": "flicker (8-bit levels)",
        "flicker_vs_input": "flicker / input's",
        "detail": "detail / input's",
    }
    text = (
        "# Video protocol\n\nEach clip's most moving stretch, blurred by averaging 9 frames in linear light; "
        "the sharp frames are the truth. Flicker: mean motion-compensated frame-to-frame difference in the face "
        "box (lower is steadier; the input's is the reference).\n\n"
        + markdown_table(means, columns, headers)
        + "\n\n"
        + markdown_table(table, columns, headers)
        + "\n"
    )
    write_text_atomic(out / "video.md", text)
    record = [{"clip": r.clip, "method": r.method, "seconds": round(r.seconds, 2), **r.scores.to_dict()} for r in rows]
    write_text_atomic(out / "video.json", json.dumps(record, indent=2) + "\n")
    return rows
