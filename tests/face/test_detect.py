"""Detection and landmarks on real UTKFace faces placed on synthetic canvases."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from _face_helpers import canvas, place, val_faces
from facedeblur.face.detect import Face, detect_faces, find_faces, fit_landmarks, to_uint8_rgb
from facedeblur.face.model_files import DLIB_MODEL_FILES, dlib_model_path


@pytest.fixture(scope="module")
def faces(utkface_val):
    return val_faces(utkface_val, 3)


def _inside(point, box, margin=0.0):
    x0, y0, x1, y1 = box
    return x0 - margin <= point[0] <= x1 + margin and y0 - margin <= point[1] <= y1 + margin


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_model_files_are_found_without_importing_the_package():
    import sys

    for name in DLIB_MODEL_FILES:
        path = dlib_model_path(name)
        assert path.is_file() and path.stat().st_size > 1000
    assert "face_recognition_models" not in sys.modules
    with pytest.raises(ValueError, match="unknown dlib model file"):
        dlib_model_path("nope.dat")


def test_several_faces_found_in_deterministic_order(faces):
    image = canvas(700, 1000)
    placed = [
        place(image, faces[0], 60, 80, 360),  # largest
        place(image, faces[1], 520, 60, 240),
        place(image, faces[2], 560, 400, 170),  # smallest
    ]
    found = detect_faces(image, "hog", landmarks68=True)
    assert len(found) == 3
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in found]
    assert areas == sorted(areas, reverse=True)
    for face, box in zip(found, placed, strict=True):
        assert _iou(face.box, box) > 0.4
        assert face.landmarks5.shape == (5, 2) and face.landmarks5.dtype == np.float32
        assert face.landmarks68.shape == (68, 2)
        assert all(_inside(p, box) for p in face.landmarks5)
        # dlib's 5-point order: image-right eye corners first, nose base last and lowest
        assert face.landmarks5[0, 0] > face.landmarks5[2, 0]
        assert face.landmarks5[4, 1] > face.landmarks5[:4, 1].max()
    again = detect_faces(image, "hog", landmarks68=True)
    for a, b in zip(found, again, strict=True):
        assert a.box == b.box and np.array_equal(a.landmarks5, b.landmarks5)


def test_faces_are_ordered_by_area_then_left_to_right(faces):
    image = canvas(300, 700)
    place(image, faces[0], 420, 40, 220)
    place(image, faces[0], 40, 40, 220)
    found = detect_faces(image, "hog")
    assert len(found) == 2
    keys = [(-(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), f.box[0], f.box[1]) for f in found]
    assert keys == sorted(keys)
    assert detect_faces(image, "hog")[0].box == found[0].box  # the same order every time


def test_large_photo_searched_downscaled_and_boxes_mapped_back(faces):
    image = canvas(1500, 2600, seed=1)
    box = place(image, faces[0], 1500, 500, 640)
    search = find_faces(image, "hog", max_side=1280)
    assert search.report.passes[0].scale == pytest.approx(1280 / 2600, rel=1e-3)
    assert search.report.limited_by == "max side" and search.report.smallest_face > 24
    full = find_faces(image, "hog", upsample=0)
    assert full.report.passes[0].scale == 1.0
    assert len(search.faces) == len(full.faces) == 1
    small, big = search.faces[0], full.faces[0]
    assert _iou(small.box, box) > 0.5
    assert _iou(small.box, big.box) > 0.7  # HOG pyramid levels differ between the two scales
    # landmarks are fitted at full resolution in the mapped-back box: close to the full-size search
    assert np.abs(small.landmarks5 - big.landmarks5).max() < 0.05 * big.size


def test_small_faces_need_upsampling(faces):
    image = canvas(200, 200, seed=2)
    box = place(image, faces[1], 60, 60, 56)  # the box would be ~49 px: below what HOG finds at full size
    assert detect_faces(image, "hog", upsample=0) == []
    search = find_faces(image, "hog")  # automatic: scaled so that 24 px faces reach HOG's 80 px window
    assert len(search.faces) == 1
    assert search.report.passes[0].scale == pytest.approx(80 / 24)
    assert _iou(search.faces[0].box, box) > 0.5


def test_faces_below_min_size_are_skipped_with_a_warning(faces, caplog):
    image = canvas(300, 300)
    place(image, faces[0], 50, 50, 200)
    with caplog.at_level(logging.WARNING, logger="facedeblur.face"):
        found = detect_faces(image, "hog", min_size=400, upsample=0)  # searched at full size anyway
    assert found == []
    assert "smaller than the minimum" in caplog.text
    search = find_faces(image, "hog", min_size=400, upsample=0)
    assert len(search.skipped) == 1 and search.faces == []


def test_score_threshold_filters(faces):
    image = canvas(300, 300)
    place(image, faces[0], 50, 50, 200)
    for detector in ("hog", "centerface"):
        found = detect_faces(image, detector, upsample=0)
        assert len(found) == 1
        assert detect_faces(image, detector, upsample=0, score_threshold=found[0].score - 0.01)
        assert detect_faces(image, detector, upsample=0, score_threshold=found[0].score + 0.01) == []


def test_no_face_and_bad_input():
    assert detect_faces(canvas(200, 300)) == []
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(np.zeros((50, 50, 3), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        detect_faces(np.zeros((50, 50), np.uint8))
    with pytest.raises(ValueError, match="detector"):
        detect_faces(np.zeros((50, 50, 3), np.uint8), detector="dpm")


def test_cnn_detector_finds_the_face(faces):
    image = canvas(260, 260)
    box = place(image, faces[0], 30, 30, 200)
    found = detect_faces(image, detector="cnn", upsample=0)
    assert len(found) == 1
    assert _iou(found[0].box, box) > 0.4


def test_concurrent_detection_is_consistent(faces):
    image = canvas(300, 300)
    place(image, faces[2], 40, 40, 220)
    expected = detect_faces(image, upsample=0)
    results = []

    def work():
        results.append(detect_faces(image, upsample=0))  # the default detector (CenterFace)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert len(result) == 1 and np.array_equal(result[0].landmarks5, expected[0].landmarks5)


def test_face_dict_round_trip_and_fit_landmarks(faces):
    face = detect_faces(faces[0], "hog", landmarks68=True)[0]
    again = Face.from_dict(face.to_dict())
    assert np.allclose(again.landmarks5, face.landmarks5, atol=0.01)
    assert np.allclose(fit_landmarks(faces[0], face.box, 68), face.landmarks68)


def test_to_uint8_rgb_handles_gray_alpha_and_16_bit():
    assert to_uint8_rgb(np.full((4, 4, 1), 65535, np.uint16)).tolist()[0][0] == [255, 255, 255]
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    assert to_uint8_rgb(rgba)[0, 0].tolist() == [200, 0, 0]
