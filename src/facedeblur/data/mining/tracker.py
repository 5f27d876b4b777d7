"""Following the face's box from frame to frame: OpenCV's CSRT (the closest shipped relative of SRDCF)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facedeblur.errors import UserError


def box_iou_pair(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes.

    Example:
        >>> box_iou_pair((0, 0, 2, 2), (1, 0, 3, 2))
        0.3333333333333333
    """
    from facedeblur.face.tracking import box_iou

    return float(box_iou(np.asarray(a), np.asarray(b))[0, 0])


def make_tracker():
    import cv2

    if hasattr(cv2, "TrackerCSRT_create"):
        return cv2.TrackerCSRT_create()
    if hasattr(cv2, "legacy") and hasattr(cv2.legacy, "TrackerCSRT_create"):
        return cv2.legacy.TrackerCSRT_create()
    raise UserError("OpenCV's CSRT tracker is missing: install opencv-contrib-python-headless")


class BoxTracker:
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
        self._tracker = make_tracker()
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
