"""dlib's two face detectors as backends: the HOG frontal detector and the MMOD CNN detector.

Both scan their own image pyramid downwards, so one pass finds every face from ``min_face`` up;
smaller faces need the image upscaled first (the search does that). Their boxes are dlib's own
convention, the one every backend reports.

Example:
    >>> import numpy as np
    >>> HogBackend().detect(np.zeros((100, 100, 3), np.uint8), 0.0)
    []
"""

from __future__ import annotations

import math

import numpy as np

from facedeblur.face.detectors.base import Pool, RawFace
from facedeblur.face.model_files import dlib_model_path


def _hog():
    import dlib

    return dlib.get_frontal_face_detector()


def _mmod():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(dlib_model_path("mmod_human_face_detector.dat")))


_HOG_POOL = Pool(_hog)
_MMOD_POOL = Pool(_mmod)


class HogBackend:
    """dlib's HOG + linear SVM frontal detector (80 x 80 px window): fast, frontal faces only.

    Scores are SVM margins: 0 is dlib's default threshold, negative values find more faces and more
    false ones.
    """

    name = "hog"
    min_face = 80.0  # the window; faces are found from about this box side up (benchmarks/quality/face_recall.py)
    max_face = math.inf
    default_threshold = 0.0
    seconds_per_megapixel = 0.12  # one core, benchmarks/quality/face_recall.py
    tile = 2048
    proposal_threshold = None  # scores are not calibrated for low-score proposals: plain passes

    def detect(self, image: np.ndarray, threshold: float) -> list[RawFace]:
        with _HOG_POOL.borrow() as hog:
            rects, scores, _ = hog.run(image, 0, float(threshold))
        return [
            RawFace((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s))
            for r, s in zip(rects, scores, strict=True)
            if s >= threshold
        ]


class MmodBackend:
    """dlib's MMOD CNN detector: sturdier to pose and blur than HOG, about 100x slower on a CPU.

    Scores are MMOD confidences (dlib keeps detections above 0 by default).
    """

    name = "cnn"
    min_face = 80.0
    max_face = math.inf
    default_threshold = 0.0
    seconds_per_megapixel = 10.0  # one core
    tile = 1024
    proposal_threshold = None  # scores are not calibrated for low-score proposals: plain passes

    def detect(self, image: np.ndarray, threshold: float) -> list[RawFace]:
        with _MMOD_POOL.borrow() as cnn:
            found = cnn(image, 0)
        out = []
        for det in found:
            if det.confidence >= threshold:
                r = det.rect
                out.append(RawFace((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(det.confidence)))
        return out
