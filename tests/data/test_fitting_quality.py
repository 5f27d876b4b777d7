"""The landmark-fitting classifier: descriptors, perturbations, training and the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from _restore_helpers import cached_val_faces
from facedeblur.data.fitting_quality import (
    CLASSIFIER_FILE,
    FittingClassifier,
    default_classifier,
    fitting_descriptor,
    perturb_landmarks,
    train_classifier,
)
from facedeblur.face.align import template68


@pytest.fixture(scope="module")
def fittings(utkface_val):
    """Faces from the val split (never seen in training) with their dlib 68-point fittings."""
    from facedeblur.face.detect import detect_faces, fit_landmarks

    out = []
    for image in cached_val_faces(utkface_val, 4):
        face = detect_faces(image)[0]
        out.append((image, fit_landmarks(image, face.box, 68)))
    return out


def test_shipped_classifier_and_reported_accuracy():
    assert CLASSIFIER_FILE.is_file(), "train it with benchmarks/assets/train_fitting_svm.py"
    clf = default_classifier()
    assert clf.coef.shape == (68 * 128,)
    assert clf.info["cv_accuracy"] >= 0.9
    assert clf.info["positives"] > 500 and clf.info["negatives"] > 500


def test_good_fittings_pass_and_perturbed_ones_are_rejected(fittings):
    clf = default_classifier()
    rng = np.random.default_rng(123)
    good = [clf.score(image, points) for image, points in fittings]
    bad = [clf.score(image, perturb_landmarks(points, rng)) for image, points in fittings for _ in range(5)]
    assert np.mean(np.array(good) > 0) >= 0.75, good
    assert np.mean(np.array(bad) < 0) >= 0.9, bad
    assert np.median(good) > np.median(bad) + 0.5


def test_descriptor_checks_and_invariance(fittings):
    import cv2

    image, points = fittings[0]
    desc = fitting_descriptor(image, points)
    assert desc.shape == (8704,) and desc.dtype == np.float32 and np.isfinite(desc).all()
    # the face is rescaled by its landmarks: the same face at twice the size gives nearly the same descriptor
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    other = fitting_descriptor(big, (points + 0.5) * 2 - 0.5)
    assert np.corrcoef(desc, other)[0, 1] > 0.9
    with pytest.raises(ValueError, match="68, 2"):
        fitting_descriptor(image, points[:5])
    with pytest.raises(ValueError, match="no extent"):
        fitting_descriptor(image, np.zeros((68, 2)))
    with pytest.raises(ValueError, match="image"):
        fitting_descriptor(np.zeros((4, 4, 2), np.uint8), points)


def test_perturbations_are_seeded_and_large():
    points = template68(128)
    a = perturb_landmarks(points, np.random.default_rng(7))
    b = perturb_landmarks(points, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    moves = [
        np.linalg.norm(perturb_landmarks(points, np.random.default_rng(s)) - points, axis=1).mean() for s in range(50)
    ]
    extent = float(np.ptp(points, axis=0).max())
    assert min(moves) > 0.03 * extent


def test_train_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1, 1, (40, 6)), rng.normal(-1, 1, (40, 6))]).astype(np.float32)
    y = np.array([1] * 40 + [0] * 40)
    clf = train_classifier(x, y, groups=np.arange(80) % 40, folds=4)
    assert clf.info["cv_accuracy"] > 0.85
    clf.save(tmp_path / "svm.npz")
    back = FittingClassifier.load(tmp_path / "svm.npz")
    np.testing.assert_allclose(back.decision(x), clf.decision(x), rtol=1e-6)
    assert back.info == clf.info
    with pytest.raises(ValueError, match="both classes"):
        train_classifier(x, np.ones(80), folds=0)
    with pytest.raises(FileNotFoundError, match="no fitting classifier"):
        FittingClassifier.load(tmp_path / "missing.npz")
