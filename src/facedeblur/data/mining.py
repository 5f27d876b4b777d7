"""Mining face training data from videos: Chrysos & Zafeiriou's framework (CVPRW 2017, section 4).

Per video (see :func:`mine_video`):

1. detect a face in the first frame (:func:`facedeblur.face.detect.detect_faces`), else drop the video;
2. follow its box with OpenCV's CSRT tracker (the closest shipped relative of the paper's SRDCF) and
   run the detector on every frame;
3. keep the video only if tracker and detector boxes reach IoU >= 0.5 in at least half the frames;
   frames where they disagree are rejected;
4. fit dlib's 68 landmarks in the matched detector box of every remaining frame;
5. reject bad fittings with the linear SVM of :mod:`facedeblur.data.fitting_quality`;
6. require movement: the optical flow (median magnitude over the face box, OpenCV DIS through
   :func:`facedeblur.degrade.frames.pair_motion`) since the last accepted frame must reach
   ``min_motion`` pixels, and the video is dropped when its accepted frames move on average more than
   ``max_motion`` pixels per frame, or when fewer than ``min_frames`` frames survive.

Accepted frames are written as aligned crops (:func:`facedeblur.face.align.align_face`, the training
geometry), optionally as full frames, with their landmarks; a JSON report per video gives the reason
for the video's and every frame's rejection. ``pairs`` then frame-averages windows of the accepted
videos (:func:`facedeblur.degrade.frames.frame_windows`) into ``blurred/``/``gt/`` training pairs
aligned on the middle frame's landmarks. Layout of a dataset::

    DATASET/report.json                      settings, per-video status and reason, frames/s
    DATASET/<video>/report.json              status, reason, one record per frame
    DATASET/<video>/crops/<frame>.png        aligned crops (accepted videos only)
    DATASET/<video>/frames/<frame>.png       full frames (``full_frames``)
    DATASET/<video>/landmarks.json           per accepted frame: box, 5 and 68 points, crop matrix
    DATASET/pairs/{blurred,gt,params}/<video>/<start>_<n>.*   frame-averaged pairs (``pairs``)

A video's folder is built in a hidden staging folder and renamed into place when the video is done.

Example:
    >>> import numpy as np
    >>> video_iou_summary(np.array([1.0, 0.7, 0.2, 0.0]), 0.5)
    0.5
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.errors import InputError, UserError, is_output_fatal
from facedeblur.images import write_image, write_text_atomic

REPORT_NAME = "report.json"
PAIR_CHUNK_FRAMES = 60  # frames held at a time (plus a window's overlap) when building pairs


@dataclass
class MiningConfig:
    """Settings of the mining framework (YAML-loadable with :func:`facedeblur.config.load_yaml`).

    Attributes:
        size: side of the aligned crops (and of the pairs).
        full_frames: also write the accepted full frames.
        detector: a key of :data:`facedeblur.face.detectors.BACKENDS` (``"hog"``, ``"cnn"``, ``"centerface"``).
        max_side: the search works on each frame at most this large (longer side; talking-head faces
            are large); 0: no cap (see :mod:`facedeblur.face.search`).
        upsample: the search's finest scale is 2 ** upsample (0: full resolution, before ``max_side``).
        min_face_size: ignore detections smaller than this (pixels, larger box side).
        detection_threshold: minimum detector score (None: the detector's default).
        iou_threshold: tracker and detector agree on a frame when their boxes reach this IoU.
        min_tracked_fraction: keep a video only if they agree in at least this fraction of frames.
        fitting_threshold: minimum SVM margin of a good landmark fitting.
        classifier: fitting classifier ``.npz`` (None: the shipped one).
        min_motion: pixels (full resolution, median over the face) a frame must have moved since the
            last accepted frame.
        max_motion: drop a video whose accepted frames move on average more than this many pixels per
            frame (cuts, shaking cameras).
        min_frames: drop a video with fewer accepted frames.
        max_frames: read at most this many frames per video (None: all).
        pair_frames: window lengths of ``pairs`` (odd).
        pair_stride: frames between consecutive pair windows.
        pair_psnr_range: accepted PSNR(average, middle frame) range of a pair window, in dB.
        seed: seed of the pair window lengths.
    """

    size: int = 128
    full_frames: bool = False
    detector: str = "hog"
    max_side: int = 640
    upsample: int = 0
    min_face_size: float = 40.0
    detection_threshold: float | None = None
    iou_threshold: float = 0.5
    min_tracked_fraction: float = 0.5
    fitting_threshold: float = 0.0
    classifier: str | None = None
    min_motion: float = 1.0
    max_motion: float = 25.0
    min_frames: int = 3
    max_frames: int | None = None
    pair_frames: tuple[int, ...] = (7, 9, 11)
    pair_stride: int = 5
    pair_psnr_range: tuple[float, float] = (22.0, 35.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {self.size}")
        from facedeblur.face.detectors import BACKENDS

        if self.detector not in BACKENDS:
            raise ValueError(f"detector must be one of {', '.join(BACKENDS)}, got {self.detector!r}")
        if not 0 < self.iou_threshold <= 1 or not 0 <= self.min_tracked_fraction <= 1:
            raise ValueError("iou_threshold must be in (0, 1] and min_tracked_fraction in [0, 1]")
        if self.min_motion < 0 or self.max_motion <= self.min_motion:
            raise ValueError(f"need 0 <= min_motion < max_motion, got {self.min_motion} and {self.max_motion}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {self.max_frames}")


def video_iou_summary(ious: np.ndarray, threshold: float) -> float:
    """Fraction of frames whose tracker/detector IoU reaches ``threshold``."""
    ious = np.asarray(ious, np.float64)
    return float((ious >= threshold).mean()) if ious.size else 0.0


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    from facedeblur.face.tracking import box_iou

    return float(box_iou(np.asarray(a), np.asarray(b))[0, 0])


def _make_tracker():
    import cv2

    if hasattr(cv2, "TrackerCSRT_create"):
        return cv2.TrackerCSRT_create()
    if hasattr(cv2, "legacy") and hasattr(cv2.legacy, "TrackerCSRT_create"):
        return cv2.legacy.TrackerCSRT_create()
    raise UserError("OpenCV's CSRT tracker is missing: install opencv-contrib-python-headless")


class _BoxTracker:
    """CSRT with (x0, y0, x1, y1) boxes, run on a copy of the frames scaled so the face is about
    ``TRACK_FACE_SIDE`` pixels: CSRT's cost grows with the target's area and a talking-head face of
    300 px tracks as well at 96 px, several times faster."""

    TRACK_FACE_SIDE = 96

    def __init__(self, frame: np.ndarray, box: Sequence[float]) -> None:
        side = max(box[2] - box[0], box[3] - box[1], 1.0)
        self.scale = min(1.0, self.TRACK_FACE_SIDE / side)
        small = self._prepare(frame)
        h, w = small.shape[:2]
        x0, y0 = (max(0, int(round(v * self.scale))) for v in box[:2])
        x1, y1 = min(w, int(round(box[2] * self.scale))), min(h, int(round(box[3] * self.scale)))
        self._tracker = _make_tracker()
        self._tracker.init(small, (x0, y0, max(1, x1 - x0), max(1, y1 - y0)))

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if self.scale >= 1.0:
            return bgr
        h, w = frame.shape[:2]
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)

    def update(self, frame: np.ndarray) -> tuple[float, float, float, float] | None:
        ok, (x, y, w, h) = self._tracker.update(self._prepare(frame))
        if not ok or w <= 0 or h <= 0:
            return None
        s = self.scale
        return (float(x) / s, float(y) / s, float(x + w) / s, float(y + h) / s)


def face_motion(previous: np.ndarray, current: np.ndarray, box: Sequence[float]) -> float:
    """Median optical-flow magnitude (pixels) inside ``box`` between two frames.

    Args:
        previous: (H, W, 3) uint8 frame.
        current: (H, W, 3) uint8 frame of the same size.
        box: (x0, y0, x1, y1) region (e.g. the union of the face boxes of both frames).

    Returns:
        Movement in full-resolution pixels (0 for an empty region).

    Example:
        >>> import numpy as np
        >>> a = np.zeros((64, 64, 3), np.uint8)
        >>> face_motion(a, a, (0, 0, 64, 64))
        0.0
    """
    from facedeblur.degrade.frames import pair_motion

    h, w = previous.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    crops = [np.ascontiguousarray(f[y0:y1, x0:x1]) for f in (previous, current)]
    return float(pair_motion(crops, "dis", percentile=50.0, max_side=128)[0])


def _union(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _round_list(values: np.ndarray | Sequence[float], digits: int = 2) -> list:
    return np.round(np.asarray(values, np.float64), digits).tolist()


@dataclass
class _FrameResult:
    index: int
    reason: str = ""
    kind: str = ""  # the reason without its numbers, for counting
    iou: float | None = None
    fitting_score: float | None = None
    motion: float | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frame": self.index, "accepted": not self.reason, "reason": self.reason}
        for key in ("iou", "fitting_score", "motion"):
            value = getattr(self, key)
            out[key] = None if value is None else round(float(value), 4)
        return out


@dataclass
class _Accepted:
    box: tuple[float, float, float, float]
    landmarks5: np.ndarray
    landmarks68: np.ndarray
    matrix: np.ndarray
    gap: int = 1
    motion: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """CPU seconds of this process per stage (each :meth:`lap` charges the CPU time since the previous
    one): unlike wall time, this stays meaningful on a machine shared with other jobs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.process_time()

    def lap(self, stage: str) -> None:
        now = time.process_time()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


def _read(video: Path, max_frames: int | None):
    from facedeblur.video import read_frames

    for i, frame in enumerate(read_frames(video)):
        if max_frames is not None and i >= max_frames:
            return
        yield frame


def mine_video(
    video: str | Path,
    out_dir: str | Path,
    config: MiningConfig = MiningConfig(),
    name: str | None = None,
    pairs: bool = False,
) -> dict[str, Any]:
    """Run the mining framework on one video and write its accepted frames and report.

    Args:
        video: a video file.
        out_dir: the dataset folder; this video's files go to ``out_dir/<name>/`` (replacing an earlier
            run's) and, with ``pairs``, to ``out_dir/pairs/*/<name>/``.
        config: thresholds and output settings.
        name: folder name of the video in the dataset (default: the file's stem).
        pairs: also build frame-averaged pairs from an accepted video.

    Returns:
        The video's report (also written to ``out_dir/<name>/report.json``): ``status`` ("accepted" or
        "rejected"), ``reason`` (why it was rejected, empty when accepted), counts, ``seconds`` and one
        record per frame with its ``reason``.
    """
    from facedeblur.data.fitting_quality import FittingClassifier, default_classifier
    from facedeblur.face.align import align_face
    from facedeblur.face.detect import detect_faces, fit_landmarks

    video = Path(video)
    name = name or video.stem
    out = Path(out_dir)
    final = out / name
    staging = out / f".{name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    classifier = FittingClassifier.load(config.classifier) if config.classifier else default_classifier()
    start_time = time.perf_counter()
    clock = _Stages()

    frames: list[_FrameResult] = []
    fitted: dict[int, _Accepted] = {}  # frames with a good fitting
    accepted: dict[int, _Accepted] = {}  # ... that also moved: the mined frames
    reason = ""
    tracker = None
    last: tuple[np.ndarray, tuple] | None = None  # last accepted frame and its face box
    last_index = -1
    try:
        for index, frame in enumerate(_read(video, config.max_frames)):
            clock.lap("decode")
            result = _FrameResult(index)
            frames.append(result)
            faces = detect_faces(
                frame,
                config.detector,
                config.min_face_size,
                config.detection_threshold,
                max_side=config.max_side,
                upsample=config.upsample,
            )
            clock.lap("detect")
            if tracker is None:
                if not faces:
                    reason = "no face detected in the first frame"
                    result.reason = result.kind = "no face detected"
                    break
                tracker = _BoxTracker(frame, faces[0].box)
                track_box = faces[0].box
            else:
                track_box = tracker.update(frame)
            clock.lap("track")
            if track_box is None:
                result.reason = result.kind = "tracker lost the face"
                continue
            ious = [_iou(track_box, f.box) for f in faces]
            best = int(np.argmax(ious)) if ious else -1
            result.iou = ious[best] if ious else 0.0
            if result.iou < config.iou_threshold:
                result.kind = "detector and tracker disagree"
                result.reason = f"{result.kind} (IoU {result.iou:.2f} < {config.iou_threshold})"
                continue
            face = faces[best]
            landmarks68 = fit_landmarks(frame, face.box, 68)
            clock.lap("landmarks")
            result.fitting_score = classifier.score(frame, landmarks68)
            clock.lap("fitting_svm")
            if result.fitting_score < config.fitting_threshold:
                result.kind = "bad landmark fitting"
                result.reason = f"{result.kind} (SVM score {result.fitting_score:.2f})"
                continue
            fit = _Accepted(face.box, face.landmarks5, landmarks68, np.zeros((2, 3)))
            fitted[index] = fit
            if last is not None:
                result.motion = face_motion(last[0], frame, _union(last[1], face.box))
                clock.lap("flow")
                if result.motion < config.min_motion:
                    result.kind = "no movement"
                    result.reason = f"no movement since frame {last_index} ({result.motion:.2f} px)"
                    continue
            crop, matrix = align_face(frame, face.landmarks5, config.size)
            write_image(staging / "crops" / f"{index:06d}.png", crop)
            if config.full_frames:
                write_image(staging / "frames" / f"{index:06d}.png", frame)
            fit.matrix = matrix
            fit.gap = index - last_index if last is not None else 1
            fit.motion = result.motion or 0.0
            accepted[index] = fit
            last, last_index = (frame, face.box), index
            clock.lap("write")
    except InputError as err:
        reason = f"unreadable video: {err}"
    if not reason:
        reason = _video_verdict(frames, fitted, accepted, config)
    seconds = time.perf_counter() - start_time

    report: dict[str, Any] = {
        "video": str(video),
        "name": name,
        "status": "rejected" if reason else "accepted",
        "reason": reason,
        "frames": len(frames),
        "accepted_frames": 0 if reason else len(accepted),
        "tracked_fraction": round(video_iou_summary([f.iou or 0.0 for f in frames], config.iou_threshold), 4),
        "rejected_frames": _count_reasons(frames),
        "seconds": round(seconds, 3),
        "frames_per_second": round(len(frames) / seconds, 3) if seconds > 0 else None,
        "stage_cpu_seconds": {k: round(v, 3) for k, v in sorted(clock.seconds.items())},
        "records": [f.record() for f in frames],
    }
    if reason:
        shutil.rmtree(staging)
        staging.mkdir()
    else:
        landmarks = {
            f"{i:06d}": {
                "box": _round_list(a.box),
                "landmarks5": _round_list(a.landmarks5),
                "landmarks68": _round_list(a.landmarks68),
                "crop_matrix": _round_list(a.matrix, 6),
            }
            for i, a in accepted.items()
        }
        write_text_atomic(staging / "landmarks.json", json.dumps(landmarks, sort_keys=True) + "\n")
    write_text_atomic(staging / REPORT_NAME, json.dumps(report, indent=1, sort_keys=True) + "\n")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    if pairs:
        report["pairs"] = build_pairs(video, out, name, fitted, config) if not reason else None
        write_text_atomic(final / REPORT_NAME, json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def _count_reasons(frames: Sequence[_FrameResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in frames:
        if f.kind:
            counts[f.kind] = counts.get(f.kind, 0) + 1
    return counts


def _video_verdict(
    frames: Sequence[_FrameResult], fitted: dict[int, _Accepted], accepted: dict[int, _Accepted], config: MiningConfig
) -> str:
    """Why the whole video is rejected, or "" when it is kept."""
    if not frames:
        return "unreadable video: no frames"
    tracked = video_iou_summary([f.iou or 0.0 for f in frames], config.iou_threshold)
    if tracked < config.min_tracked_fraction:
        return (
            f"tracker and detector agree (IoU >= {config.iou_threshold}) in {tracked:.0%} of the frames,"
            f" below {config.min_tracked_fraction:.0%}"
        )
    good = len(fitted)
    if good < config.min_frames:
        return f"too few good landmark fittings ({good} frames, need {config.min_frames})"
    if len(accepted) < config.min_frames:
        return (
            f"no movement: {len(accepted)} frame(s) left after the movement test (>= {config.min_motion} px"
            f" since the last kept frame), need {config.min_frames}"
        )
    moves = [a.motion / a.gap for a in list(accepted.values())[1:]]
    mean_motion = float(np.mean(moves)) if moves else 0.0
    if mean_motion > config.max_motion:
        return f"too much movement: {mean_motion:.1f} px per frame on average, above {config.max_motion}"
    return ""


def _pair_box(landmarks5: np.ndarray, size: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The frame region an aligned ``size`` crop of this face covers (its corners mapped back), clipped."""
    from facedeblur.face.align import align_matrix, invert_affine, transform_points

    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) - 0.5
    points = transform_points(corners, invert_affine(align_matrix(landmarks5, size)))
    x0, y0 = (max(0, int(np.floor(v))) for v in points.min(0))
    x1, y1 = min(width, int(np.ceil(points[:, 0].max())) + 1), min(height, int(np.ceil(points[:, 1].max())) + 1)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def build_pairs(
    video: str | Path,
    out_dir: str | Path,
    name: str,
    accepted: dict[int, Any],
    config: MiningConfig = MiningConfig(),
) -> dict[str, Any]:
    """Frame-average windows of a mined video into aligned training pairs (real motion blur).

    Windows come from :func:`facedeblur.degrade.frames.frame_windows` (its motion and PSNR tests); a
    window is used only when its middle frame has a good landmark fitting. The frames are cropped to the
    region the middle frame's aligned crop covers (so the PSNR test sees what the pair shows), averaged,
    and the average and the middle frame warped with that alignment (the geometry the models train on)
    to ``config.size``. Frame indices of the middle frames are matched by object identity: the crop
    callback of ``frame_windows`` receives the middle frame itself. The video is decoded in chunks of
    :data:`PAIR_CHUNK_FRAMES` frames (plus a window's overlap), so memory stays bounded on long videos;
    window lengths are drawn per chunk (seeded by ``config.seed`` and the chunk's first frame).

    Args:
        video: the video file.
        out_dir: dataset folder; pairs go to ``out_dir/pairs/{blurred,gt,params}/<name>/``.
        name: the video's name in the dataset.
        accepted: frame index -> object with ``landmarks5``, ``landmarks68``: the frames with a good fitting
            (the movement test between mined frames does not apply to windows, which test motion themselves).
        config: pair window settings and crop size.

    Returns:
        Counts of windows by outcome and the number of pairs written.
    """
    from facedeblur.degrade.frames import WindowCriteria

    criteria = WindowCriteria(
        frames=tuple(config.pair_frames),
        stride=config.pair_stride,
        psnr_range=tuple(config.pair_psnr_range),
        seed=config.seed,
    )
    out = Path(out_dir) / "pairs"
    counts: dict[str, int] = {}
    written = 0
    longest = max(criteria.frames)
    chunk = criteria.stride * max(1, -(-PAIR_CHUNK_FRAMES // criteria.stride))  # window starts stay on the grid
    buffer: list[np.ndarray] = []
    first = 0  # video index of buffer[0]
    for frame in _read(Path(video), config.max_frames):
        buffer.append(frame)
        if len(buffer) == chunk + longest - 1:
            written += _chunk_pairs(buffer, first, chunk, video, out, name, accepted, config, criteria, counts)
            buffer, first = buffer[chunk:], first + chunk
    if buffer:
        written += _chunk_pairs(buffer, first, len(buffer), video, out, name, accepted, config, criteria, counts)
    return {"windows": counts, "written": written}


def _chunk_pairs(
    frames: list[np.ndarray],
    first: int,
    starts: int,
    video: str | Path,
    out: Path,
    name: str,
    accepted: dict[int, Any],
    config: MiningConfig,
    criteria: Any,
    counts: dict[str, int],
) -> int:
    """Judge and write the windows starting in ``frames[:starts]`` (video frame index ``first`` onwards)."""
    from dataclasses import replace

    from facedeblur.data.writers import write_pair
    from facedeblur.degrade.frames import frame_windows
    from facedeblur.face.align import align_matrix, warp_image

    height, width = frames[0].shape[:2]
    boxes = {
        id(frames[i - first]): _pair_box(a.landmarks5, config.size, width, height)
        for i, a in accepted.items()
        if first <= i < first + len(frames)
    }

    def crop(middle: np.ndarray) -> tuple[int, int, int, int] | None:
        return boxes.get(id(middle))  # None: no good fitting in the middle frame ("no face")

    # window lengths are drawn from [seed, start in chunk]: vary the seed per chunk
    chunk_criteria = replace(criteria, seed=criteria.seed * 1_000_003 + first)
    written = 0
    for window in frame_windows(frames, chunk_criteria, crop):
        if window.start >= starts:
            break
        key = window.reason or "accepted"
        counts[key] = counts.get(key, 0) + 1
        if not window.accepted:
            continue
        middle = first + window.start + window.frames // 2
        x0, y0 = window.box[:2]
        matrix = align_matrix(accepted[middle].landmarks5, config.size)
        matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
        size = (config.size, config.size)
        lq = np.clip(warp_image(window.blurred, matrix, size), 0, 1)
        gt = np.clip(warp_image(window.sharp, matrix, size), 0, 1)
        info = window.info()
        info.update(start=first + window.start, middle=middle)
        record = {"video": Path(video).name, "linear": criteria.linear, **info}
        write_pair(out, f"{name}/{first + window.start:06d}_{window.frames:02d}", lq, gt, record)
        written += 1
    return written


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


def mine_videos(
    videos: Sequence[str | Path],
    out_dir: str | Path,
    config: MiningConfig = MiningConfig(),
    pairs: bool = False,
    ray_address: str | None = None,
    progress: bool = True,
    skip_bad: bool = True,
) -> dict[str, Any]:
    """Mine several videos (in this process, or one Ray task per video) and write the dataset report.

    Args:
        videos: video files.
        out_dir: the dataset folder (created).
        config: mining settings.
        pairs: also build frame-averaged pairs of accepted videos.
        ray_address: None: in-process; ``"auto"``, ``"local"`` or a cluster address: one Ray task per
            video (see :func:`facedeblur.distributed.ray_jobs.mine_videos_with_ray`).
        progress: show a progress bar (in-process runs).
        skip_bad: go on past videos that fail (False: stop at the first, in-process runs).

    Returns:
        The summary written to ``out_dir/report.json``: settings, per-video status and reason, counts
        and frames per second (total frames / wall time).
    """
    from facedeblur.batch.paths import PathPolicy, check_writable_folder

    paths = [Path(v) for v in videos]
    out = Path(out_dir)
    policy = PathPolicy(paths)
    policy.check_folder(out, "the dataset folder")
    for video in paths:
        if out.resolve() in video.resolve().parents:
            raise UserError(f"the dataset folder {out} must not contain the input video {video}")
    check_writable_folder(out, "the dataset folder")
    names = unique_names(paths)
    start = time.perf_counter()
    if ray_address is not None:
        from facedeblur.distributed.ray_jobs import mine_videos_with_ray

        reports = mine_videos_with_ray(paths, names, out, config, pairs=pairs, address=ray_address)
    else:
        reports = []
        for v, n in _progress(list(zip(paths, names, strict=True)), progress):
            reports.append(mine_video_or_report(v, out, config, n, pairs))
            if reports[-1]["status"] == "failed" and not skip_bad:
                break
    seconds = time.perf_counter() - start
    return write_summary(out, reports, config, seconds, pairs, ray_address)


def _progress(items: list, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="videos", unit="video")


def write_summary(
    out: Path,
    reports: Sequence[dict[str, Any]],
    config: MiningConfig,
    seconds: float,
    pairs: bool,
    ray_address: str | None,
) -> dict[str, Any]:
    """Write ``out/report.json`` from the per-video reports and return it."""
    frames = sum(r["frames"] for r in reports)
    stages: dict[str, float] = {}
    for r in reports:
        for key, value in r.get("stage_cpu_seconds", {}).items():
            stages[key] = round(stages.get(key, 0.0) + value, 3)
    summary = {
        "command": "mine",
        "config": asdict(config),
        "ray": ray_address,
        "videos": {
            r["name"]: {
                "video": r["video"],
                "status": r["status"],
                "reason": r["reason"],
                "frames": r["frames"],
                "accepted_frames": r["accepted_frames"],
                "rejected_frames": r["rejected_frames"],
                **({"pairs": r.get("pairs")} if pairs else {}),
            }
            for r in reports
        },
        "accepted_videos": sum(r["status"] == "accepted" for r in reports),
        "rejected_videos": sum(r["status"] == "rejected" for r in reports),
        "failed_videos": sum(r["status"] == "failed" for r in reports),
        "frames": frames,
        "accepted_frames": sum(r["accepted_frames"] for r in reports),
        "pairs": sum((r.get("pairs") or {}).get("written", 0) for r in reports) if pairs else None,
        "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 3) if seconds > 0 else None,
        "stage_cpu_seconds": dict(sorted(stages.items())),
    }
    write_text_atomic(out / REPORT_NAME, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def is_unusable(video: dict[str, Any]) -> bool:
    """A video of a summary that could not be mined at all (failed, or unreadable)."""
    return video["status"] == "failed" or video["reason"].startswith("unreadable video")


def format_summary(summary: dict[str, Any], errors_below: bool = False) -> str:
    """A plain-text table of a dataset summary (one line per video), as printed by ``facedeblur mine``.

    With ``errors_below`` the reason of an unusable video reads "see the error line" (the command
    prints that line, naming the file, so each bad file is named once).
    """
    lines = [f"{'video':<12} {'status':<9} {'frames':>6} {'kept':>5}  reason / rejected frames"]
    for name, v in summary["videos"].items():
        detail = v["reason"] or ", ".join(f"{k}: {n}" for k, n in sorted(v["rejected_frames"].items())) or "-"
        if errors_below and is_unusable(v):
            detail = "see the error line"
        lines.append(f"{name:<12} {v['status']:<9} {v['frames']:>6} {v['accepted_frames']:>5}  {detail}")
    fps = summary["frames_per_second"]
    lines.append(
        f"{summary['accepted_videos']} of {len(summary['videos'])} videos kept, {summary['accepted_frames']} of"
        f" {summary['frames']} frames; {summary['seconds']:.1f} s, {fps if fps is not None else 0:.2f} frames/s"
        + (f"; {summary['pairs']} pairs" if summary.get("pairs") is not None else "")
    )
    return "\n".join(lines)
