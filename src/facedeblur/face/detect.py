"""Face detection and landmarks with dlib: HOG (default) or MMOD CNN detector, 5- and 68-point shapes.

Large photos are searched on a downscaled copy (``max_side``) and the boxes mapped back; small images
are upsampled so that small faces are found; landmarks are always fitted on the full-resolution image.
Faces come back in a deterministic order: largest box first, then left to right, then top to bottom.

dlib objects are created once and cached: predictors are shared (their prediction is read-only);
detectors, whose scan keeps scratch state, are lent to one caller at a time from a small pool (a second
one is created only when two threads detect at once), so concurrent calls are safe.

Example:
    >>> import numpy as np
    >>> detect_faces(np.zeros((64, 64, 3), np.uint8))
    []
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from facedeblur.face.model_files import dlib_model_path

LOGGER = logging.getLogger("facedeblur.face")

DETECTORS: tuple[str, ...] = ("hog", "cnn")
# Automatic search size per detector: a 1080p photo is searched at 1280 x 720 by HOG (about 0.1 s of one
# core) and at 960 x 540 by the CNN (about 3 s): the smallest face found is then ~100 px / ~160 px.
DEFAULT_MAX_SIDE = {"hog": 1280, "cnn": 960}
# Automatic upsampling doubles small images (at most twice: each doubling costs four times the search)
# while the doubled image stays within this many pixels: a 200 px face chip is searched at 400 px.
AUTO_UPSAMPLE_LIMIT = 2
AUTO_UPSAMPLE_MAX_SIDE = 640

_PREDICTOR_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}
_predictors: dict[int, object] = {}
_predictor_lock = threading.Lock()
_idle_detectors: dict[str, list] = {}
_detector_lock = threading.Lock()


@dataclass(frozen=True, eq=False)  # eq=False: compared by identity (numpy fields have no truth value)
class Face:
    """One detected face in the coordinates of the full image (pixel centres at integers).

    Attributes:
        box: (x0, y0, x1, y1) detector box, x1/y1 exclusive; it may reach past the image edge for faces
            touching the border (the landmarks are fitted in this unclipped box).
        score: detector confidence (HOG: SVM margin; CNN: MMOD confidence); higher is surer.
        landmarks5: (5, 2) float32 x, y from dlib's 5-point predictor, in dlib's order: image-right eye
            outer and inner corner, image-left eye outer and inner corner, base of the nose.
        landmarks68: (68, 2) float32 iBUG 300-W points, or None when not requested.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks5: np.ndarray
    landmarks68: np.ndarray | None = None

    @property
    def size(self) -> float:
        """Side of the face: the larger side of the detector box, in pixels."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, y1 - y0))

    def to_dict(self) -> dict:
        """JSON-ready dict: box, score, landmarks5 and (when present) landmarks68, rounded to 0.01 px."""
        out = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks5": np.round(self.landmarks5.astype(float), 2).tolist(),
        }
        if self.landmarks68 is not None:
            out["landmarks68"] = np.round(self.landmarks68.astype(float), 2).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Face:
        """Inverse of :meth:`to_dict`."""
        lm68 = data.get("landmarks68")
        return cls(
            box=tuple(float(v) for v in data["box"]),
            score=float(data["score"]),
            landmarks5=np.asarray(data["landmarks5"], np.float32).reshape(5, 2),
            landmarks68=None if lm68 is None else np.asarray(lm68, np.float32).reshape(68, 2),
        )


@dataclass
class FaceSearch:
    """Everything one search found: kept faces, faces skipped as too small, and how it searched."""

    faces: list[Face]
    skipped: list[Face] = field(default_factory=list)
    scale: float = 1.0  # working image = scale x original
    upsample: int = 0  # dlib pyramid upsamplings on the working image


def find_faces(
    image: np.ndarray,
    detector: str = "hog",
    min_size: float = 16,
    score_threshold: float = 0.0,
    max_side: int | None = None,
    upsample: int | None = None,
    landmarks68: bool = False,
) -> FaceSearch:
    """Detect faces and fit landmarks; report faces skipped for being smaller than ``min_size``.

    Args:
        image: (H, W, 3) uint8 RGB pixels.
        detector: ``"hog"`` (dlib's frontal HOG detector, fast) or ``"cnn"`` (dlib's MMOD CNN detector,
            more robust to pose and blur, about 10x slower on CPU).
        min_size: faces whose box is smaller than this many pixels (larger side) are skipped.
        score_threshold: minimum detector score. HOG scores are SVM margins (0 is dlib's default,
            negative values find more faces and more false ones); CNN confidences likewise.
        max_side: search on a copy downscaled so its larger side is at most this; ``None``: the detector's
            default (:data:`DEFAULT_MAX_SIDE`: 1280 for HOG, 960 for CNN); 0: never downscale (finds smaller
            faces in big photos, slower). Landmarks are fitted on the full-resolution image either way.
        upsample: dlib pyramid upsamplings (each halves the smallest findable face, ~80 px for HOG and
            ~80 px for CNN at 0). ``None``: automatic, doubling small images while they stay within
            :data:`AUTO_UPSAMPLE_MAX_SIDE` (640 px; at most twice): a 200 px image is searched at 400.
        landmarks68: also fit the 68-point predictor.

    Returns:
        A :class:`FaceSearch`; ``faces`` sorted by box area (largest first), then x0, then y0.

    Shape:
        image (H, W, 3) uint8.

    Example:
        >>> import numpy as np
        >>> find_faces(np.zeros((40, 50, 3), np.uint8)).faces
        []
    """
    image = _check_image(image)
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    if upsample is not None and not 0 <= int(upsample) <= 4:
        raise ValueError(f"upsample must be between 0 and 4 (each doubles the image), got {upsample}")
    if max_side is not None and max_side < 0:
        raise ValueError(f"max_side must be positive, 0 or None, got {max_side}")
    if max_side is None:
        max_side = DEFAULT_MAX_SIDE[detector]

    height, width = image.shape[:2]
    longest = max(height, width)
    scale = 1.0
    work = image
    if max_side and longest > max_side:
        import cv2

        scale = max_side / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        scale_x, scale_y = size[0] / width, size[1] / height
    else:
        scale_x = scale_y = 1.0
    if upsample is None:
        upsample = 0
        limit = min(max_side or AUTO_UPSAMPLE_MAX_SIDE, AUTO_UPSAMPLE_MAX_SIDE)
        while upsample < AUTO_UPSAMPLE_LIMIT and max(work.shape[:2]) * 2 ** (upsample + 1) <= limit:
            upsample += 1

    work = np.ascontiguousarray(work)
    raw = _run_detector(work, detector, int(upsample), float(score_threshold))
    faces: list[Face] = []
    skipped: list[Face] = []
    for (left, top, right, bottom), score in raw:
        box = (left / scale_x, top / scale_y, right / scale_x, bottom / scale_y)
        faces.append(Face(box=box, score=score, landmarks5=np.zeros((5, 2), np.float32)))
    faces.sort(key=lambda f: (-(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), f.box[0], f.box[1]))
    kept = []
    for face in faces:
        (skipped if face.size < min_size else kept).append(face)
    full = np.ascontiguousarray(image)
    kept = [_with_landmarks(full, face, landmarks68) for face in kept]
    skipped = [_with_landmarks(full, face, False) for face in skipped]
    return FaceSearch(faces=kept, skipped=skipped, scale=min(scale_x, scale_y), upsample=int(upsample))


def detect_faces(
    image: np.ndarray,
    detector: str = "hog",
    min_size: float = 16,
    score_threshold: float = 0.0,
    max_side: int | None = None,
    upsample: int | None = None,
    landmarks68: bool = False,
) -> list[Face]:
    """Detect faces and fit landmarks; faces smaller than ``min_size`` are skipped with a warning.

    Same arguments as :func:`find_faces`; the warning goes to the ``facedeblur.face`` logger.

    Returns:
        Faces sorted by box area (largest first), then x0, then y0.

    Example:
        >>> import numpy as np
        >>> detect_faces(np.full((32, 32, 3), 128, np.uint8), detector="hog")
        []
    """
    search = find_faces(image, detector, min_size, score_threshold, max_side, upsample, landmarks68)
    for face in search.skipped:
        x0, y0 = face.box[:2]
        LOGGER.warning(
            "skipped a face of %.0f px at (%.0f, %.0f): smaller than the minimum of %g px",
            face.size,
            x0,
            y0,
            min_size,
        )
    return search.faces


def fit_landmarks(image: np.ndarray, box: tuple[float, float, float, float], points: int = 5) -> np.ndarray:
    """Fit dlib's 5- or 68-point shape predictor inside a box.

    Args:
        image: (H, W, 3) uint8 RGB pixels.
        box: (x0, y0, x1, y1) face box (as a detector would give it; x1/y1 exclusive).
        points: 5 or 68.

    Returns:
        (points, 2) float32 x, y.

    Example:
        >>> import numpy as np
        >>> fit_landmarks(np.zeros((100, 100, 3), np.uint8), (20, 20, 80, 80)).shape
        (5, 2)
    """
    import dlib

    image = np.ascontiguousarray(_check_image(image))
    predictor = _predictor(points)
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    rect = dlib.rectangle(int(x0), int(y0), int(x1) - 1, int(y1) - 1)
    shape = predictor(image, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def to_uint8_rgb(pixels: np.ndarray) -> np.ndarray:
    """Any image from :func:`facedeblur.images.read_image` (gray, alpha, 16-bit) as (H, W, 3) uint8 RGB.

    Example:
        >>> import numpy as np
        >>> to_uint8_rgb(np.full((2, 2, 1), 65535, np.uint16))[0, 0].tolist()
        [255, 255, 255]
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8:
        return pixels
    from facedeblur.images import to_float_rgb

    rgb, _, _ = to_float_rgb(pixels)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def _with_landmarks(image: np.ndarray, face: Face, landmarks68: bool) -> Face:
    lm5 = fit_landmarks(image, face.box, 5)
    lm68 = fit_landmarks(image, face.box, 68) if landmarks68 else None
    return Face(box=face.box, score=face.score, landmarks5=lm5, landmarks68=lm68)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype} (convert with facedeblur.images first)")
    return image


def _run_detector(
    image: np.ndarray, detector: str, upsample: int, threshold: float
) -> list[tuple[tuple[float, float, float, float], float]]:
    """Return ((left, top, right_exclusive, bottom_exclusive), score) in working-image pixels."""
    found = []
    if detector == "hog":
        with _detector("hog") as hog:
            rects, scores, _ = hog.run(image, upsample, threshold)
        for rect, score in zip(rects, scores, strict=True):
            if score >= threshold:
                found.append(((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), float(score)))
    else:
        with _detector("cnn") as cnn:
            detections = cnn(image, upsample)
        for det in detections:
            rect = det.rect
            if det.confidence >= threshold:
                found.append(((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), float(det.confidence)))
    return found


@contextmanager
def _detector(kind: str):
    """Lend a detector of this kind: one per concurrent caller, created once and reused afterwards."""
    with _detector_lock:
        idle = _idle_detectors.setdefault(kind, [])
        detector = idle.pop() if idle else None
    if detector is None:
        import dlib

        if kind == "hog":
            detector = dlib.get_frontal_face_detector()
        else:
            detector = dlib.cnn_face_detection_model_v1(str(dlib_model_path("mmod_human_face_detector.dat")))
    try:
        yield detector
    finally:
        with _detector_lock:
            _idle_detectors[kind].append(detector)


def _predictor(points: int):
    if points not in _PREDICTOR_FILES:
        raise ValueError(f"points must be 5 or 68, got {points}")
    with _predictor_lock:
        if points not in _predictors:
            import dlib

            _predictors[points] = dlib.shape_predictor(str(dlib_model_path(_PREDICTOR_FILES[points])))
        return _predictors[points]
