"""Face detection and landmarks: the automatic search over any detector backend, dlib's 5/68-point shapes.

:func:`find_faces` runs :func:`facedeblur.face.search.search_faces` (scales and tiles chosen from the
image size and the smallest face wanted, see there) with the chosen backend (CenterFace by default,
dlib HOG or MMOD), then gives every face dlib-convention 5-point landmarks in the full-resolution image
(the points every model's template is defined on) and optionally the 68-point shape. Faces come back
in a deterministic order: largest box first, then left to right, then top to bottom.

Backends and dlib predictors are created once and shared safely between threads.

Example:
    >>> import numpy as np
    >>> detect_faces(np.zeros((64, 64, 3), np.uint8))
    []
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from facedeblur.face.detectors import BACKENDS, DEFAULT_DETECTOR
from facedeblur.face.model_files import dlib_model_path
from facedeblur.face.search import DEFAULT_MIN_FACE_SIZE, DEFAULT_TIME_LIMIT, SearchOptions, SearchReport, search_faces

LOGGER = logging.getLogger("facedeblur.face")

DETECTORS: tuple[str, ...] = tuple(BACKENDS)

_PREDICTOR_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}
_predictors: dict[int, object] = {}
_predictor_lock = threading.Lock()


@dataclass(frozen=True, eq=False)  # eq=False: compared by identity (numpy fields have no truth value)
class Face:
    """One detected face in the coordinates of the full image (pixel centres at integers).

    Attributes:
        box: (x0, y0, x1, y1) box in dlib's HOG convention (brows to chin) whatever the detector, x1/y1
            exclusive; it may reach past the image edge for faces touching the border.
        score: detector confidence (HOG: SVM margin; CNN: MMOD confidence; CenterFace: heatmap peak in
            [0, 1]); higher is surer.
        landmarks5: (5, 2) float32 x, y in dlib's 5-point order: image-right eye outer and inner corner,
            image-left eye outer and inner corner, base of the nose.
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
    report: SearchReport | None = None


def find_faces(
    image: np.ndarray,
    detector: str = DEFAULT_DETECTOR,
    min_size: float = DEFAULT_MIN_FACE_SIZE,
    score_threshold: float | None = None,
    max_side: int | None = None,
    upsample: int | None = None,
    landmarks68: bool = False,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> FaceSearch:
    """Detect faces and fit landmarks; report faces skipped for being smaller than ``min_size``.

    Args:
        image: (H, W, 3) uint8 RGB pixels.
        detector: a key of :data:`facedeblur.face.detectors.BACKENDS`: ``"centerface"`` (default),
            ``"hog"`` (dlib's frontal HOG detector) or ``"cnn"`` (dlib's MMOD CNN detector, slow on CPU).
        min_size: the smallest face wanted (box side, px): the search is scaled to find faces this small,
            and smaller faces it finds anyway are skipped.
        score_threshold: minimum detector score; None: the detector's default (HOG and MMOD 0,
            CenterFace 0.3). Lower values find more faces and more false ones.
        max_side: cap the finest search pass's working image to this longer side (None or 0: no cap).
        upsample: expert override of the finest pass's scale, 2 ** upsample (0: full resolution).
        landmarks68: also fit the 68-point predictor.
        time_limit: planned seconds (one core) for the search (see :mod:`facedeblur.face.search`).

    Returns:
        A :class:`FaceSearch`; ``faces`` sorted by box area (largest first), then x0, then y0;
        ``report`` says which scales and tiles were searched and how long it took.

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
    options = SearchOptions(
        detector=detector,
        min_face_size=max(float(min_size), 1.0),
        threshold=score_threshold,
        max_side=max_side,
        upsample=upsample,
        time_limit=time_limit,
    )
    full = np.ascontiguousarray(image)
    raw, report = search_faces(full, options)
    faces = [Face(box=tuple(float(v) for v in f.box), score=f.score, landmarks5=_landmarks5(full, f)) for f in raw]
    faces.sort(key=lambda f: (-(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), f.box[0], f.box[1]))
    kept: list[Face] = []
    skipped: list[Face] = []
    for face in faces:
        (skipped if face.size < min_size else kept).append(face)
    if landmarks68:
        kept = [
            Face(box=f.box, score=f.score, landmarks5=f.landmarks5, landmarks68=fit_landmarks(full, f.box, 68))
            for f in kept
        ]
    return FaceSearch(faces=kept, skipped=skipped, report=report)


def detect_faces(
    image: np.ndarray,
    detector: str = DEFAULT_DETECTOR,
    min_size: float = DEFAULT_MIN_FACE_SIZE,
    score_threshold: float | None = None,
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
    from facedeblur.images import to_float_rgb, to_uint8

    rgb, _, _ = to_float_rgb(pixels)
    return to_uint8(rgb)


def _landmarks5(image: np.ndarray, face) -> np.ndarray:
    """dlib 5-point landmarks of a detection: dlib's predictor fitted in its (HOG-convention) box."""
    return fit_landmarks(image, face.box, 5)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype} (convert with facedeblur.images first)")
    return image


def _predictor(points: int):
    if points not in _PREDICTOR_FILES:
        raise ValueError(f"points must be 5 or 68, got {points}")
    with _predictor_lock:
        if points not in _predictors:
            import dlib

            _predictors[points] = dlib.shape_predictor(str(dlib_model_path(_PREDICTOR_FILES[points])))
        return _predictors[points]
