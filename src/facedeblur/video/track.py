"""Faces through a video: the detector on key frames, landmark tracking in between, smoothing on top.

Running the face detector on every frame is the slowest part of finding faces; a face moves little
from one frame to the next. :class:`FaceFollower` therefore runs the detector only

- every ``key_interval`` frames (new faces are found within that many frames),
- when there is no face to follow,
- at a scene cut (the frame's thumbnail differs strongly from the previous one's), and
- when a followed face is lost (its landmarks, fitted again in its previous box, jump or shrink);

in every other frame each face's five landmarks are fitted again inside its box of the previous
frame, moved by how the landmarks moved (dlib's shape predictor costs about a millisecond). The
results go through :class:`facedeblur.face.tracking.FaceTracker` (IoU linking, One-Euro smoothing,
short gaps bridged), so faces keep their track ids and neither jitter nor blink.

Example:
    >>> import numpy as np
    >>> follower = FaceFollower(detect=lambda rgb: [], fit=None, fps=25)
    >>> follower.update(np.zeros((32, 32, 3), np.uint8))
    []
    >>> follower.stats.detections
    1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facedeblur.face.tracking import FaceTracker, TrackedFace

THUMBNAIL = 32  # px: side of the grey thumbnails compared to find scene cuts
# Mean absolute difference (8-bit levels) between consecutive thumbnails above which a frame starts a
# new scene: a talking head moves its thumbnail by 1-6 levels per frame, a cut by 30 and more.
CUT_THRESHOLD = 24.0


@dataclass
class FollowStats:
    """How faces were found: frames, detector runs, scene cuts, lost faces (each a detector run too)."""

    frames: int = 0
    detections: int = 0
    cuts: int = 0
    lost: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"frames": self.frames, "detections": self.detections, "scene_cuts": self.cuts, "lost": self.lost}


@dataclass
class _Followed:
    box: np.ndarray  # detector-style box, moved with the landmarks
    landmarks: np.ndarray
    score: float


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A frame's (32, 32) grey thumbnail, float32 in 8-bit levels."""
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.float32)


def is_scene_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """Whether two consecutive thumbnails (see :func:`thumbnail`) belong to different shots.

    Example:
        >>> a = np.zeros((32, 32), np.float32)
        >>> is_scene_cut(a, a + 3), is_scene_cut(a, a + 80), is_scene_cut(None, a)
        (False, True, False)
    """
    if previous is None:
        return False
    return float(np.abs(previous - current).mean()) > threshold


def _eye_distance(landmarks: np.ndarray) -> float:
    # dlib's 5 points: 0-1 one eye's corners, 2-3 the other's, 4 the nose
    return float(np.linalg.norm(landmarks[0:2].mean(axis=0) - landmarks[2:4].mean(axis=0)))


def _moved_box(box: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The box moved and scaled as the landmarks moved from ``old`` to ``new``."""
    scale = _eye_distance(new) / max(_eye_distance(old), 1e-6)
    scale = float(np.clip(scale, 0.8, 1.25))
    centre = (box[:2] + box[2:]) / 2 + (new.mean(axis=0) - old.mean(axis=0))
    half = (box[2:] - box[:2]) / 2 * scale
    return np.concatenate([centre - half, centre + half])


class FaceFollower:
    """Find faces in consecutive video frames: detector on key frames, landmark tracking in between.

    Args:
        detect: ``detect(rgb) -> faces`` (objects with ``box``, ``landmarks5``, ``score``), the full
            search run on key frames.
        fit: ``fit(rgb, box) -> (5, 2) landmarks`` (dlib's 5-point predictor in a box); None: the
            detector runs on every frame.
        fps: the video's frame rate (for the smoothing filter).
        key_interval: frames between two detector runs (1: every frame).
        cut_threshold: thumbnail difference that marks a scene cut (see :func:`is_scene_cut`).
        smoothing: keyword arguments of :class:`facedeblur.face.tracking.FaceTracker`.
    """

    def __init__(
        self,
        detect: Callable[[np.ndarray], list],
        fit: Callable[[np.ndarray, tuple], np.ndarray] | None,
        fps: float = 25.0,
        key_interval: int = 12,
        cut_threshold: float = CUT_THRESHOLD,
        smoothing: dict | None = None,
    ) -> None:
        if key_interval < 1:
            raise ValueError(f"key_interval must be >= 1, got {key_interval}")
        self.detect, self.fit = detect, fit
        self.key_interval = int(key_interval)
        self.cut_threshold = float(cut_threshold)
        self.tracker = FaceTracker(fps=fps if fps > 0 else 25.0, **(smoothing or {}))
        self.stats = FollowStats()
        self._followed: list[_Followed] = []
        self._since_key = 0
        self._thumb: np.ndarray | None = None

    def update(self, rgb: np.ndarray) -> list[TrackedFace]:
        """The faces of the next frame, smoothed and with stable ``track_id`` s."""
        self.stats.frames += 1
        thumb = thumbnail(rgb)
        cut = is_scene_cut(self._thumb, thumb, self.cut_threshold)
        self._thumb = thumb
        if cut:
            self.stats.cuts += 1
            self.tracker.reset()
            self._followed = []
        found = None
        key = cut or not self._followed or self.fit is None or self._since_key + 1 >= self.key_interval
        if not key:
            found = self._follow(rgb)
            if found is None:
                self.stats.lost += 1
        if found is None:
            found = self._detect(rgb)
        else:
            self._since_key += 1
        return self.tracker.update([f.box for f in found], [f.landmarks for f in found], [f.score for f in found])

    def _detect(self, rgb: np.ndarray) -> list[_Followed]:
        self.stats.detections += 1
        self._since_key = 0
        faces = self.detect(rgb)
        self._followed = [
            _Followed(np.asarray(f.box, np.float64), np.asarray(f.landmarks5, np.float64), float(f.score))
            for f in faces
        ]
        return list(self._followed)

    def _follow(self, rgb: np.ndarray) -> list[_Followed] | None:
        """Landmarks fitted again in each face's moved box; None when a face is lost."""
        height, width = rgb.shape[:2]
        moved = []
        for face in self._followed:
            new = np.asarray(self.fit(rgb, tuple(face.box)), np.float64)
            old_eyes, new_eyes = _eye_distance(face.landmarks), _eye_distance(new)
            jump = float(np.abs(new - face.landmarks).max())
            side = float(max(face.box[2] - face.box[0], face.box[3] - face.box[1]))
            inside = new[:, 0].min() > -0.2 * side and new[:, 0].max() < width + 0.2 * side
            inside = inside and new[:, 1].min() > -0.2 * side and new[:, 1].max() < height + 0.2 * side
            if not inside or jump > 0.25 * side or not 0.8 < new_eyes / max(old_eyes, 1e-6) < 1.25:
                return None
            moved.append(_Followed(_moved_box(face.box, face.landmarks, new), new, face.score))
        self._followed = moved
        return list(moved)
