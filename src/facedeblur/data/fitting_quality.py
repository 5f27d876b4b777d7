"""Is a 68-point landmark fitting good? A linear SVM on SIFT descriptors around the landmarks.

Chrysos & Zafeiriou's mining framework rejects frames whose landmark fitting failed with a linear SVM
on SIFT-like patch descriptors extracted around the landmarks, trained with good fittings as positives
and randomly perturbed fittings as negatives. This module is that classifier:

- :func:`fitting_descriptor`: the face is rescaled by the landmarks' extent (the loose crop of
  :func:`facedeblur.face.align.loose_crop_matrix`, so the descriptor is scale-free) and an upright
  OpenCV SIFT descriptor (128 values) is computed at every landmark; the 68 are concatenated (8704).
- :func:`perturb_landmarks`: a random bad fitting (shift, rescale, rotation and/or per-point jitter,
  each by an amount that puts the points visibly off their features).
- :class:`FittingClassifier`: standardisation + linear SVM weights, evaluated in numpy (no
  scikit-learn at run time); the shipped one is ``fitting_svm.npz`` next to this file, trained by
  ``benchmarks/assets/train_fitting_svm.py`` (positives: dlib fittings on sharp UTKFace train faces and sharp
  frames of the development videos), which also reports its cross-validated accuracy.

Example:
    >>> import numpy as np
    >>> from facedeblur.face.align import template68
    >>> points = template68(200)
    >>> fitting_descriptor(np.zeros((200, 200, 3), np.uint8), points).shape
    (8704,)
    >>> bool(np.abs(perturb_landmarks(points, np.random.default_rng(0)) - points).max() > 3)
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.images import to_uint8

CLASSIFIER_FILE = Path(__file__).with_name("fitting_svm.npz")
CROP_SIZE = 128  # the landmarks are rescaled to a face of the training size before description
CROP_MARGIN = 32  # reflected border around the crop, so patches at perturbed points stay inside
KEYPOINT_SIZE = 16.0  # SIFT support (pixels of the 128 px face): about a sixth of the face width
DESCRIPTOR_SIZE = 68 * 128


def _gray_uint8(image: np.ndarray) -> np.ndarray:
    import cv2

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.floating):
            raise ValueError(f"expected uint8 pixels or float pixels in [0, 1], got {image.dtype}")
        image = to_uint8(image)
    if image.ndim == 3:
        if image.shape[2] != 3:
            raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
    return image


def _check_landmarks(landmarks68: np.ndarray) -> np.ndarray:
    points = np.asarray(landmarks68, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("landmarks contain NaN or infinite values")
    return points


@lru_cache(maxsize=1)
def _sift():
    import cv2

    return cv2.SIFT_create()


def fitting_descriptor(image: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    """SIFT descriptors at the 68 landmarks of a scale-normalised face, concatenated.

    Args:
        image: (H, W, 3) RGB or (H, W) gray, uint8 or float in [0, 1].
        landmarks68: (68, 2) x, y fitted (or proposed) in ``image``.

    Returns:
        (8704,) float32: 68 upright SIFT descriptors (128 values each, scaled to about [0, 1]).

    Shape:
        image (H, W[, 3]); landmarks68 (68, 2) -> (8704,).

    Example:
        >>> import numpy as np
        >>> from facedeblur.face.align import template68
        >>> fitting_descriptor(np.zeros((100, 100), np.uint8), template68(100)).dtype
        dtype('float32')
    """
    import cv2

    from facedeblur.face.align import loose_crop_matrix, transform_points, warp_image

    gray = _gray_uint8(image)
    points = _check_landmarks(landmarks68)
    if float(np.ptp(points, axis=0).max()) <= 1e-3:
        raise ValueError("the landmarks have no extent: cannot describe a fitting collapsed to a point")
    matrix = loose_crop_matrix(points, CROP_SIZE)
    matrix[:, 2] += CROP_MARGIN
    side = CROP_SIZE + 2 * CROP_MARGIN
    crop = warp_image(gray, matrix, (side, side), "reflect")
    crop_points = np.clip(transform_points(points, matrix), 0, side - 1)
    keypoints = [cv2.KeyPoint(float(x), float(y), KEYPOINT_SIZE, 0.0) for x, y in crop_points]
    found, desc = _sift().compute(np.ascontiguousarray(crop), keypoints)
    if desc is None or len(found) != 68:
        raise RuntimeError(f"SIFT kept {0 if desc is None else len(found)} of 68 landmark keypoints")
    return (desc.reshape(-1) / 512.0).astype(np.float32)


def perturb_landmarks(landmarks68: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A randomly perturbed (bad) fitting: one to three of shift, rescale, rotation and point jitter.

    Amounts are relative to the landmarks' extent (larger side of their box) ``e``, times ``strength``:
    shift 8-30 % of ``e``; scale by a factor 1.12-1.4 up or down; rotation 10-30 degrees; independent
    per-point jitter with a standard deviation of 4-10 % of ``e``. The smallest of these moves a typical
    point by several pixels on a 128 px face: far beyond a good fitting's error.

    Args:
        landmarks68: (N, 2) points (68 for the classifier).
        rng: random generator (seed it for reproducible negatives).
        strength: multiplies every amount (1 = the training distribution).

    Returns:
        (N, 2) float32 perturbed points.

    Example:
        >>> import numpy as np
        >>> p = np.random.default_rng(1).random((68, 2)) * 100
        >>> perturb_landmarks(p, np.random.default_rng(0)).shape
        (68, 2)
    """
    points = np.asarray(landmarks68, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"expected (N, 2) landmarks with N >= 2, got shape {points.shape}")
    extent = float(np.ptp(points, axis=0).max())
    centre = points.mean(axis=0)
    kinds = rng.choice(4, size=int(rng.integers(1, 4)), replace=False)
    out = points - centre
    for kind in kinds:
        if kind == 1:  # rescale
            factor = 1.0 + rng.uniform(0.12, 0.4) * strength
            out = out * (factor if rng.random() < 0.5 else 1.0 / factor)
        elif kind == 2:  # rotate
            angle = np.deg2rad(rng.uniform(10, 30) * strength) * rng.choice([-1.0, 1.0])
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            out = out @ rot.T
        elif kind == 3:  # independent jitter of every point
            out = out + rng.normal(0.0, rng.uniform(0.04, 0.1) * strength * extent, size=out.shape)
    out = out + centre
    if 0 in kinds:  # shift
        angle = rng.uniform(0, 2 * np.pi)
        out = out + rng.uniform(0.08, 0.3) * strength * extent * np.array([np.cos(angle), np.sin(angle)])
    return out.astype(np.float32)


@dataclass
class FittingClassifier:
    """A linear SVM on standardised :func:`fitting_descriptor` features: score > 0 means a good fitting.

    Attributes:
        mean: (D,) feature means of the training set.
        scale: (D,) feature standard deviations (1 where constant).
        coef: (D,) SVM weights in the standardised space.
        intercept: SVM bias.
        info: how it was trained (sample counts, cross-validated accuracy, ...).
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float32).reshape(-1)
        self.scale = np.asarray(self.scale, np.float32).reshape(-1)
        self.coef = np.asarray(self.coef, np.float32).reshape(-1)
        if not (self.mean.shape == self.scale.shape == self.coef.shape):
            raise ValueError(
                "mean, scale and coef must have one shape, got"
                f" {self.mean.shape}, {self.scale.shape}, {self.coef.shape}"
            )
        self.intercept = float(self.intercept)

    def decision(self, descriptors: np.ndarray) -> np.ndarray:
        """SVM margins of (N, D) or (D,) descriptors: (N,) floats, positive = good fitting."""
        x = np.asarray(descriptors, np.float32)
        squeeze = x.ndim == 1
        x = x.reshape(1, -1) if squeeze else x
        if x.shape[1] != self.coef.shape[0]:
            raise ValueError(f"expected descriptors of length {self.coef.shape[0]}, got {x.shape[1]}")
        out = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return out.astype(np.float64)

    def score(self, image: np.ndarray, landmarks68: np.ndarray) -> float:
        """SVM margin of one fitting in one image (positive = good)."""
        return float(self.decision(fitting_descriptor(image, landmarks68))[0])

    def save(self, path: str | Path) -> None:
        """Write an ``.npz`` (atomically) that :meth:`load` reads back."""
        import io

        from facedeblur.images import write_bytes_atomic

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            mean=self.mean,
            scale=self.scale,
            coef=self.coef,
            intercept=np.float64(self.intercept),
            info=np.array(json.dumps(self.info, sort_keys=True)),
        )
        write_bytes_atomic(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path | None = None) -> FittingClassifier:
        """Read a classifier written by :meth:`save` (default: the shipped ``fitting_svm.npz``)."""
        path = Path(path) if path is not None else CLASSIFIER_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no fitting classifier (train one with benchmarks/assets/train_fitting_svm.py)"
            )
        with np.load(path, allow_pickle=False) as data:
            return cls(
                mean=data["mean"],
                scale=data["scale"],
                coef=data["coef"],
                intercept=float(data["intercept"]),
                info=json.loads(str(data["info"])),
            )


@lru_cache(maxsize=1)
def default_classifier() -> FittingClassifier:
    """The shipped classifier (loaded once)."""
    return FittingClassifier.load()


def train_classifier(
    descriptors: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    c: float = 0.01,
    folds: int = 5,
    seed: int = 0,
) -> FittingClassifier:
    """Fit standardisation + scikit-learn ``LinearSVC`` and measure grouped k-fold accuracy.

    Args:
        descriptors: (N, D) :func:`fitting_descriptor` rows.
        labels: (N,) 1 for good fittings, 0 for bad ones.
        groups: (N,) source image of every row: all rows of one image fall in the same fold, so the
            cross-validated accuracy is measured on images the fold's model never saw.
        c: SVM regularisation (smaller = stronger).
        folds: cross-validation folds (0: skip cross-validation).
        seed: fold shuffling seed.

    Returns:
        The classifier fitted on all rows; ``info`` holds ``cv_accuracy`` (mean over folds),
        ``cv_fold_accuracy``, the per-class accuracies and sample counts.
    """
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x = np.asarray(descriptors, np.float32)
    y = np.asarray(labels).astype(int)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"expected (N, D) descriptors and (N,) labels, got {x.shape} and {y.shape}")
    if set(np.unique(y)) != {0, 1}:
        raise ValueError("labels must contain both classes 0 (bad fitting) and 1 (good fitting)")

    def fit(rows: np.ndarray) -> FittingClassifier:
        scaler = StandardScaler().fit(x[rows])
        svm = LinearSVC(C=c, max_iter=5000).fit(scaler.transform(x[rows]), y[rows])
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        return FittingClassifier(scaler.mean_, scale, svm.coef_[0], float(svm.intercept_[0]))

    info: dict[str, Any] = {"c": c, "positives": int(y.sum()), "negatives": int((1 - y).sum()), "folds": folds}
    if folds:
        if groups is not None:
            order = np.random.default_rng(seed).permutation(len(y))
            splits = GroupKFold(n_splits=folds).split(x[order], y[order], np.asarray(groups)[order])
            splits = [(order[a], order[b]) for a, b in splits]
        else:
            splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
        accs, pos_accs, neg_accs = [], [], []
        for train_rows, test_rows in splits:
            pred = fit(train_rows).decision(x[test_rows]) > 0
            truth = y[test_rows] == 1
            accs.append(float((pred == truth).mean()))
            pos_accs.append(float(pred[truth].mean()))
            neg_accs.append(float((~pred[~truth]).mean()))
        info.update(
            cv_accuracy=float(np.mean(accs)),
            cv_fold_accuracy=[round(a, 4) for a in accs],
            cv_good_accepted=float(np.mean(pos_accs)),
            cv_bad_rejected=float(np.mean(neg_accs)),
        )
    model = fit(np.arange(len(y)))
    model.info = info
    return model
