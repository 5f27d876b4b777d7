"""Detector backends: CenterFace's decoding, engines and boxes on real faces; dlib backends' contract."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import canvas, place, val_faces
from facedeblur.face.detectors import BACKENDS, get_backend
from facedeblur.face.detectors.base import DetectorBackend
from facedeblur.face.detectors.centerface import WEIGHTS, CenterFaceBackend, Runner, decode


@pytest.fixture(scope="module")
def faces(utkface_val):
    return val_faces(utkface_val, 3)


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_every_backend_keeps_the_contract():
    blank = np.zeros((96, 128, 3), np.uint8)
    for name in BACKENDS:
        backend = get_backend(name)
        assert isinstance(backend, DetectorBackend) and backend.name == name
        assert 0 < backend.min_face < backend.max_face and backend.seconds_per_megapixel > 0
        assert backend.detect(blank, backend.default_threshold) == []
    with pytest.raises(ValueError, match="detector must be one of"):
        get_backend("yolo")


def test_weights_ship_small_with_their_licence():
    assert WEIGHTS.is_file() and 3e6 < WEIGHTS.stat().st_size < 4e6
    licence = WEIGHTS.with_name("centerface-LICENSE.txt").read_text()
    assert "MIT License" in licence and "Permission is hereby granted" in licence


def test_decode_turns_one_peak_into_one_face():
    h, w = 20, 30
    heat = np.zeros((1, 1, h, w), np.float32)
    heat[0, 0, 10, 15] = 0.9
    heat[0, 0, 10, 16] = 0.6  # a neighbouring cell of the same face: removed by NMS
    size = np.full((1, 2, h, w), np.log(40 / 4), np.float32)  # 40 x 40 px box
    offset = np.zeros((1, 2, h, w), np.float32)
    marks = np.zeros((1, 10, h, w), np.float32)
    pattern = [(0.3, 0.35), (0.7, 0.35), (0.5, 0.55), (0.35, 0.75), (0.65, 0.75)]  # x, y as box fractions
    for j, (x, y) in enumerate(pattern):
        marks[0, 2 * j] = y
        marks[0, 2 * j + 1] = x
    found = decode([heat, size, offset, marks], 0.5, 4 * h, 4 * w)
    assert len(found) == 1 and found[0].score == pytest.approx(0.9)
    x0, y0 = 15 * 4 + 2 - 20, 10 * 4 + 2 - 20  # cell centre at stride 4 minus half the box
    assert np.allclose(found[0].points, [(x0 + 40 * x, y0 + 40 * y) for x, y in pattern], atol=1e-4)
    cx = (found[0].box[0] + found[0].box[2]) / 2
    assert abs(cx - (x0 + 20)) < 2  # the HOG-style box is rebuilt around the landmarks
    assert decode([heat, size, offset, marks], 0.95, 4 * h, 4 * w) == []


def test_centerface_finds_real_faces_with_ordered_landmarks_and_hog_like_boxes(faces):
    image = canvas(420, 640, seed=9)
    boxes = [place(image, faces[0], 30, 40, 260), place(image, faces[1], 380, 120, 160)]
    found = CenterFaceBackend().detect(image, 0.25)
    hog = get_backend("hog").detect(image, 0.0)
    assert len(found) == 2 and len(hog) == 2
    for box in boxes:
        mine = max(found, key=lambda f: _iou(f.box, box))
        theirs = max(hog, key=lambda f: _iou(f.box, box))
        assert _iou(mine.box, theirs.box) > 0.6  # the same box convention as dlib's HOG
        left_eye, right_eye, nose, mouth_left, mouth_right = mine.points
        assert left_eye[0] < nose[0] < right_eye[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
        assert mouth_left[0] < mouth_right[0]


def test_opencv_engine_matches_onnxruntime(faces):
    image = canvas(256, 320, seed=10)
    place(image, faces[2], 60, 30, 180)
    fast = CenterFaceBackend(Runner("onnxruntime")).detect(image, 0.25)
    fallback = CenterFaceBackend(Runner("opencv")).detect(image, 0.25)
    assert Runner("opencv").engine == "opencv"
    assert len(fast) == len(fallback) == 1
    assert np.allclose(fast[0].box, fallback[0].box, atol=0.5)
    assert fast[0].score == pytest.approx(fallback[0].score, abs=1e-3)
    with pytest.raises(ValueError, match="engine"):
        Runner("tensorrt")


def test_a_batch_of_crops_gives_what_each_crop_gives_alone_on_both_engines(faces):
    import cv2

    crops = [cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA) for face in faces]
    crops.append(np.full((64, 64, 3), 128, np.uint8))  # no face: an empty list in its place
    for engine in ("onnxruntime", "opencv"):
        backend = CenterFaceBackend(Runner(engine))
        batch = backend.detect_batch(crops, 0.3)
        alone = [backend.detect(crop, 0.3) for crop in crops]
        assert [len(b) for b in batch] == [len(a) for a in alone] and len(batch[0]) == 1 and batch[-1] == []
        for b, a in zip(batch, alone, strict=True):
            for fb, fa in zip(b, a, strict=True):
                assert np.allclose(fb.box, fa.box, atol=1e-3) and fb.score == pytest.approx(fa.score, abs=1e-5)
    assert CenterFaceBackend().detect_batch([], 0.3) == []
    with pytest.raises(ValueError, match="multiple of 32"):
        CenterFaceBackend().detect_batch([np.zeros((50, 64, 3), np.uint8)], 0.3)
