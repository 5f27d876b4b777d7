"""Temporal smoothing of detected faces across video frames, so pasted faces neither jitter nor flicker.

Per-frame detections wobble by a pixel or two and now and then miss a frame. Restoring each frame
independently then makes the pasted region shake (the alignment warp moves with the wobble) and blink
(a face restored in one frame and left blurry in the next). :class:`FaceTracker` fixes both:

- detections are linked to tracks by box IoU (greedy, best overlap first);
- each track's box and five landmarks go through a One-Euro filter (Casiez et al., CHI 2012): strong
  smoothing while the head is still, little lag when it moves. Speeds are measured in face sizes per
  second, so the same settings work for small and large faces;
- a track that misses a few detections keeps its last smoothed geometry instead of vanishing.

The defaults (``min_cutoff=1`` Hz, ``beta=5``) were chosen on a talking-head clip (d3.mp4, 4 s):
the frame-to-frame landmark acceleration (jitter) drops from 0.25 % to 0.09 % of the face size per
frame^2 while the smoothed landmarks stay within 0.63 % of the face size of the raw ones on average
(``python benchmarks/speed/restore_video.py ../shared/data/videos/d3.mp4 --seconds 4``).

Example:
    >>> import numpy as np
    >>> tracker = FaceTracker(fps=25)
    >>> box = np.array([10.0, 10.0, 60.0, 60.0])
    >>> marks = np.array([[25, 30], [45, 30], [35, 40], [27, 50], [43, 50]], float)
    >>> faces = tracker.update([box], [marks], [0.9])
    >>> faces[0].track_id, faces[0].box.shape, faces[0].landmarks5.shape
    (0, (4,), (5, 2))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Args:
        a: (N, 4) boxes as (x0, y0, x1, y1).
        b: (M, 4) boxes.

    Returns:
        (N, M) IoU values in [0, 1].

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2]])).round(3)
        array([[0.333]])
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class OneEuroFilter:
    """One-Euro low-pass filter for an array signal sampled at a fixed rate.

    The cutoff frequency rises with the signal's speed: ``cutoff = min_cutoff + beta * |speed| / scale``.

    Args:
        x0: first sample (any shape).
        freq: samples per second.
        min_cutoff: cutoff (Hz) when the signal is still; lower = smoother.
        beta: how fast the cutoff rises with speed; higher = less lag.
        d_cutoff: cutoff (Hz) of the speed estimate.

    Example:
        >>> f = OneEuroFilter(np.zeros(2), freq=30)
        >>> f(np.ones(2)).round(3)
        array([0.705, 0.705])
    """

    def __init__(
        self, x0: np.ndarray, freq: float, min_cutoff: float = 1.0, beta: float = 2.0, d_cutoff: float = 1.0
    ) -> None:
        if freq <= 0:
            raise ValueError(f"freq must be > 0, got {freq}")
        self.freq = float(freq)
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.x = np.asarray(x0, dtype=np.float64).copy()
        self.dx = np.zeros_like(self.x)

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
        return 1.0 / (1.0 + tau * self.freq)

    def __call__(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Filter the next sample; ``scale`` divides the speed (e.g. the face size in pixels)."""
        x = np.asarray(x, dtype=np.float64)
        dx = (x - self.x) * self.freq
        a_d = self._alpha(self.d_cutoff)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx) / max(scale, 1e-6)
        a = self._alpha(cutoff)
        self.x = a * x + (1 - a) * self.x
        return self.x.copy()


@dataclass
class TrackedFace:
    """A face in one video frame after smoothing (duck-types the detector's ``Face`` for the pipeline).

    Attributes:
        track_id: stable id of the face across frames.
        box: (4,) smoothed (x0, y0, x1, y1).
        landmarks5: (5, 2) smoothed landmarks (x, y).
        score: detection score of the last matched detection.
        missed: frames since the last matched detection (0 = detected in this frame).
    """

    track_id: int
    box: np.ndarray
    landmarks5: np.ndarray
    score: float
    missed: int = 0


class _Track:
    def __init__(self, track_id: int, box: np.ndarray, marks: np.ndarray, score: float, fps: float, params) -> None:
        self.id = track_id
        self.state = np.concatenate([box.ravel(), marks.ravel()]).astype(np.float64)
        self.filter = OneEuroFilter(self.state, fps, *params)
        self.score = score
        self.missed = 0

    @property
    def box(self) -> np.ndarray:
        return self.state[:4]

    def update(self, box: np.ndarray, marks: np.ndarray, score: float) -> None:
        size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        self.state = self.filter(np.concatenate([box.ravel(), marks.ravel()]), scale=size)
        self.score, self.missed = score, 0

    def face(self) -> TrackedFace:
        return TrackedFace(self.id, self.state[:4].copy(), self.state[4:].reshape(5, 2).copy(), self.score, self.missed)


class FaceTracker:
    """Link per-frame face detections into tracks and smooth their boxes and landmarks.

    Args:
        fps: the video's frame rate (the filter's sampling rate).
        iou_threshold: least box IoU to link a detection to a track.
        max_missed: frames a track survives without a detection, keeping its last geometry.
        min_cutoff: One-Euro cutoff (Hz) for a still face; lower = smoother.
        beta: One-Euro speed coefficient (per face size per second); higher = less lag.

    Example:
        >>> tracker = FaceTracker(fps=30)
        >>> tracker.update([], [], [])
        []
    """

    def __init__(
        self,
        fps: float = 25.0,
        iou_threshold: float = 0.3,
        max_missed: int = 5,
        min_cutoff: float = 1.0,
        beta: float = 5.0,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if not 0 <= iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        self.fps, self.iou_threshold, self.max_missed = float(fps), float(iou_threshold), int(max_missed)
        self._params = (float(min_cutoff), float(beta))
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(
        self, boxes: Sequence[np.ndarray], landmarks5: Sequence[np.ndarray], scores: Sequence[float]
    ) -> list[TrackedFace]:
        """Feed one frame's detections; return the faces to restore in that frame (smoothed).

        Args:
            boxes: N boxes (x0, y0, x1, y1).
            landmarks5: N (5, 2) landmark arrays.
            scores: N detection scores.

        Returns:
            Live tracks, detected ones first, each as a :class:`TrackedFace`.
        """
        if not len(boxes) == len(landmarks5) == len(scores):
            raise ValueError(f"got {len(boxes)} boxes, {len(landmarks5)} landmark sets and {len(scores)} scores")
        det_boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        det_marks = [np.asarray(m, dtype=np.float64).reshape(5, 2) for m in landmarks5]
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if self._tracks and len(det_boxes):
            iou = box_iou(np.stack([t.box for t in self._tracks]), det_boxes)
            for flat in np.argsort(-iou, axis=None):
                ti, di = np.unravel_index(flat, iou.shape)
                if iou[ti, di] < self.iou_threshold:
                    break
                if ti in matched_tracks or di in matched_dets:
                    continue
                self._tracks[ti].update(det_boxes[di], det_marks[di], float(scores[di]))
                matched_tracks.add(int(ti))
                matched_dets.add(int(di))
        survivors = []
        for i, track in enumerate(self._tracks):
            if i not in matched_tracks:
                track.missed += 1
            if track.missed <= self.max_missed:
                survivors.append(track)
        for di in range(len(det_boxes)):
            if di not in matched_dets:
                survivors.append(
                    _Track(self._next_id, det_boxes[di], det_marks[di], float(scores[di]), self.fps, self._params)
                )
                self._next_id += 1
        self._tracks = survivors
        return [t.face() for t in sorted(self._tracks, key=lambda t: (t.missed, t.id))]

    def reset(self) -> None:
        """Forget every track (e.g. at a scene cut)."""
        self._tracks = []
