"""Template, similarity warps and their inverse, loose crop: geometry on synthetic points and real faces."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import val_faces
from facedeblur.face.align import (
    align_face,
    align_matrix,
    invert_affine,
    loose_crop,
    loose_crop_matrix,
    matrix_scale,
    similarity_matrix,
    template,
    template68,
    template_data,
    transform_points,
    warp_image,
)
from facedeblur.face.detect import detect_faces, fit_landmarks


@pytest.fixture(scope="module")
def detected(utkface_val):
    faces = val_faces(utkface_val, 4)
    return [(image, detect_faces(image, landmarks68=True)[0]) for image in faces]


def _rotation(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def test_template_is_the_measured_utkface_mean_rescaled():
    data = template_data()
    assert data["image_size"] == [200, 200] and data["measured"] >= 1000
    assert np.allclose(template(200), data["landmarks5_mean"], atol=1e-4)
    t128 = template(128)
    assert t128.shape == (5, 2) and t128.dtype == np.float32
    # resizing 200 -> 128 maps pixel centres (x + 0.5) * 0.64 - 0.5
    assert np.allclose(t128, (np.asarray(data["landmarks5_mean"]) + 0.5) * 0.64 - 0.5, atol=1e-4)
    # plausible geometry: eyes level and symmetric about the centre, nose below them
    eyes_y = t128[:4, 1]
    assert np.ptp(eyes_y) < 3 and t128[4, 1] > eyes_y.max() + 20
    assert abs((t128[0, 0] + t128[2, 0]) / 2 - 63.5) < 4
    assert template68(128).shape == (68, 2)
    with pytest.raises(ValueError):
        template(0)


def test_similarity_matrix_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    true = np.hstack([1.7 * _rotation(23.0), [[12.0], [-4.0]]])
    dst = src @ true[:, :2].T + true[:, 2]
    assert np.allclose(similarity_matrix(src, dst), true, atol=1e-9)
    mirrored = src * [-1, 1]
    m = similarity_matrix(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0  # never a reflection
    with pytest.raises(ValueError, match="same number"):
        similarity_matrix(src, dst[:4])
    with pytest.raises(ValueError, match="same point"):
        similarity_matrix(np.ones((5, 2)), dst)
    with pytest.raises(ValueError, match="NaN"):
        similarity_matrix(np.full((5, 2), np.nan), dst)


def test_inverse_is_exact():
    m = np.hstack([0.4 * _rotation(-31.0), [[7.5], [101.25]]])
    points = np.random.default_rng(1).uniform(-500, 2000, (68, 2))
    back = transform_points(transform_points(points, m), invert_affine(m))
    assert np.abs(back - points).max() < 1e-3
    with pytest.raises(ValueError, match="singular"):
        invert_affine(np.zeros((2, 3)))


def test_aligned_utkface_image_is_nearly_itself(detected):
    # UTKFace images are the training geometry: aligning one at 200 px must barely move it
    for _, face in detected:
        m = align_matrix(face.landmarks5, 200)
        assert 0.85 < matrix_scale(m) < 1.15
        assert abs(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) < 10
        assert np.abs(m[:, 2]).max() < 30


def test_warp_then_inverse_reproduces_landmarks_within_a_pixel(detected):
    import cv2

    box = np.asarray(template_data()["box_mean"]) * 256 / 200  # where UTKFace geometry puts the face
    errors = []
    for image, face in detected:
        padded = np.zeros((400, 400, 3), np.uint8)
        padded[100:300, 100:300] = image
        turn = cv2.getRotationMatrix2D((200.0, 200.0), 15.0, 1.0)
        tilted = cv2.warpAffine(padded, turn, (400, 400), flags=cv2.INTER_CUBIC)
        lm = transform_points(face.landmarks5 + 100, turn)
        crop, m = align_face(tilted.astype(np.float32) / 255, lm, 256)
        refit = fit_landmarks((crop * 255 + 0.5).astype(np.uint8), tuple(box), 5)
        back = transform_points(refit, invert_affine(m))
        errors.append(np.linalg.norm(back - lm, axis=1).mean())
    assert np.mean(errors) < 1.0, errors


def test_crop_matches_template_and_any_size(detected):
    image, face = detected[0]
    rgb = image.astype(np.float32) / 255
    for size in (64, 128, 512):
        crop, m = align_face(rgb, face.landmarks5, size)
        assert crop.shape == (size, size, 3) and crop.dtype == np.float32
        moved = transform_points(face.landmarks5, m)
        assert np.abs(moved - template(size)).mean() < 0.06 * size  # least-squares fit of 5 points


def test_warp_round_trip_of_pixels():
    rng = np.random.default_rng(2)
    import cv2

    image = cv2.GaussianBlur(rng.random((160, 160, 3), dtype=np.float32), (0, 0), 3)
    m = np.hstack([2.0 * _rotation(10.0), [[-20.0], [-40.0]]])  # upscaling crop: little information lost
    crop = warp_image(image, m, (256, 256))
    back = warp_image(crop, invert_affine(m), (160, 160), border="constant")
    inside = np.zeros((160, 160), bool)
    inside[50:110, 50:110] = True
    assert np.abs(back - image)[inside].max() < 0.01


def test_shrinking_warp_does_not_alias():
    checker = (np.indices((800, 800)).sum(0) % 2).astype(np.float32)
    small = warp_image(checker, np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]]), (60, 60))
    assert abs(small.mean() - 0.5) < 0.02 and small.std() < 0.05


def test_face_touching_the_border_gives_a_full_crop(detected):
    image, face = detected[0]
    rgb = image.astype(np.float32) / 255
    shifted = face.landmarks5 - [90, 0]  # the face hangs off the left edge
    for border in ("reflect", "replicate", "constant"):
        crop, _ = align_face(rgb, shifted, 128, border=border)
        assert crop.shape == (128, 128, 3) and np.isfinite(crop).all()
    with pytest.raises(ValueError, match="border"):
        align_face(rgb, shifted, 128, border="wrap")


def test_loose_crop_scales_and_shifts_without_rotating(detected):
    image, face = detected[1]
    m = loose_crop_matrix(face.landmarks68, 128)
    assert m[0, 1] == 0 and m[1, 0] == 0 and m[0, 0] == m[1, 1] > 0
    moved = transform_points(face.landmarks68, m)
    ref = template68(128)
    assert np.isclose(np.ptp(moved, 0).max(), np.ptp(ref, 0).max(), rtol=1e-4)
    # a tilted face stays tilted: the loose crop never rotates
    tilt = transform_points(face.landmarks68, np.hstack([_rotation(20.0), [[0.0], [0.0]]]))
    moved = transform_points(tilt, loose_crop_matrix(tilt, 128))
    eye_angle = np.degrees(np.arctan2(*(moved[45] - moved[36])[::-1]))
    assert 15 < eye_angle < 25
    crop, m2 = loose_crop(image.astype(np.float32) / 255, face.landmarks68, 96)
    assert crop.shape == (96, 96, 3)
    # the mean UTKFace shape maps onto itself at 200 px
    assert np.allclose(loose_crop_matrix(template68(200), 200), [[1, 0, 0], [0, 1, 0]], atol=1e-4)
