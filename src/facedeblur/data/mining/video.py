"""Mining one video: detect, track, fit landmarks, test the fitting and the movement, write the kept frames."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.data.mining.config import MiningConfig
from facedeblur.data.mining.frames import StageClock, read_frames_upto
from facedeblur.data.mining.motion import box_union, face_motion
from facedeblur.data.mining.pairs import build_pairs
from facedeblur.data.mining.report import REPORT_NAME
from facedeblur.data.mining.tracker import BoxTracker, box_iou_pair
from facedeblur.errors import InputError
from facedeblur.images import write_image, write_text_atomic


def video_iou_summary(ious: np.ndarray, threshold: float) -> float:
    """Fraction of frames whose tracker/detector IoU reaches ``threshold``.

    Example:
        >>> import numpy as np
        >>> video_iou_summary(np.array([1.0, 0.7, 0.2, 0.0]), 0.5)
        0.5
    """
    ious = np.asarray(ious, np.float64)
    return float((ious >= threshold).mean()) if ious.size else 0.0


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
    clock = StageClock()

    frames: list[_FrameResult] = []
    fitted: dict[int, _Accepted] = {}  # frames with a good fitting
    accepted: dict[int, _Accepted] = {}  # ... that also moved: the mined frames
    reason = ""
    tracker = None
    last: tuple[np.ndarray, tuple] | None = None  # last accepted frame and its face box
    last_index = -1
    try:
        for index, frame in enumerate(read_frames_upto(video, config.max_frames)):
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
                tracker = BoxTracker(frame, faces[0].box)
                track_box = faces[0].box
            else:
                track_box = tracker.update(frame)
            clock.lap("track")
            if track_box is None:
                result.reason = result.kind = "tracker lost the face"
                continue
            ious = [box_iou_pair(track_box, f.box) for f in faces]
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
                result.motion = face_motion(last[0], frame, box_union(last[1], face.box))
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
