"""Parsing maps from 68 landmarks: classes, plausible areas on real faces, any size, the batch command."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from _face_helpers import val_faces
from facedeblur.errors import UserError
from facedeblur.face.align import template68
from facedeblur.face.detect import detect_faces
from facedeblur.face.parsing import (
    CLASS_INDEX,
    PARSING_CLASSES,
    REPORT_NAME,
    class_fractions,
    flip_parsing_map,
    parsing_map_from_landmarks,
    precompute_parse_labels,
)
from facedeblur.images import read_image, write_bytes_atomic, write_image


@pytest.fixture(scope="module")
def landmarks(utkface_val):
    return [detect_faces(image, landmarks68=True)[0].landmarks68 for image in val_faces(utkface_val, 5)]


def _centroid(labels, name):
    ys, xs = np.nonzero(labels == CLASS_INDEX[name])
    return xs.mean(), ys.mean()


def test_ten_classes():
    assert len(PARSING_CLASSES) == 10 and PARSING_CLASSES[0] == "background"
    labels = parsing_map_from_landmarks(template68(128), 128)
    assert set(np.unique(labels)) == set(range(10))  # the mean face has every class, mouth slightly open


def test_plausible_areas_and_layout_on_real_faces(landmarks):
    for lm in landmarks:
        labels = parsing_map_from_landmarks(lm, 200)
        assert labels.shape == (200, 200) and labels.dtype == np.uint8 and labels.max() < 10
        fractions = class_fractions(labels)
        assert abs(sum(fractions.values()) - 1) < 1e-9  # a partition of the image
        assert 0.35 < fractions["skin"] < 0.8
        assert 0.05 < fractions["background"] < 0.5
        for name in ("left_eye", "right_eye", "left_brow", "right_brow", "upper_lip", "lower_lip"):
            assert 0.001 < fractions[name] < 0.04, (name, fractions[name])
        assert 0.015 < fractions["nose"] < 0.1
        # the person's left eye is on the image's right; brows above eyes above nose above mouth
        assert _centroid(labels, "left_eye")[0] > _centroid(labels, "right_eye")[0]
        assert _centroid(labels, "left_brow")[1] < _centroid(labels, "left_eye")[1] < _centroid(labels, "nose")[1]
        assert _centroid(labels, "nose")[1] < _centroid(labels, "upper_lip")[1] < _centroid(labels, "lower_lip")[1]


def test_rasterised_at_any_size(landmarks):
    import cv2

    big = parsing_map_from_landmarks(landmarks[0], 512, source_size=200)
    small = parsing_map_from_landmarks(landmarks[0], 64, source_size=200)
    reference = parsing_map_from_landmarks(landmarks[0], 200)
    for labels in (big, small):
        back = cv2.resize(labels, (200, 200), interpolation=cv2.INTER_NEAREST)
        skin = CLASS_INDEX["skin"]
        inter = ((back == skin) & (reference == skin)).sum()
        union = ((back == skin) | (reference == skin)).sum()
        assert inter / union > 0.9
    wide = parsing_map_from_landmarks(landmarks[0], (100, 150), source_size=200)
    assert wide.shape == (100, 150)
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        parsing_map_from_landmarks(np.zeros((5, 2)), 64)


def test_flip_swaps_left_and_right(landmarks):
    labels = parsing_map_from_landmarks(landmarks[1], 128)
    flipped = flip_parsing_map(labels)
    assert np.array_equal(flip_parsing_map(flipped), labels)
    assert (flipped == CLASS_INDEX["left_eye"]).sum() == (labels == CLASS_INDEX["right_eye"]).sum()
    assert _centroid(flipped, "left_eye")[0] > _centroid(flipped, "right_eye")[0]


def test_precompute_parse_labels_reports_every_case(utkface_val, tmp_path):
    src = tmp_path / "faces"
    (src / "sub").mkdir(parents=True)
    names = sorted(p.name for p in utkface_val.glob("*.jpg"))[:3]
    shutil.copy(utkface_val / names[0], src / names[0])
    shutil.copy(utkface_val / names[1], src / "sub" / names[1])
    gray16 = (read_image(utkface_val / names[2]).mean(axis=2, keepdims=True) * 257).astype(np.uint16)
    write_image(src / "gray16.png", gray16)
    write_image(src / "blank.png", np.full((120, 120, 3), 90, np.uint8))
    write_bytes_atomic(src / "broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "labels"
    report = precompute_parse_labels(src, out, size=64, progress=False)
    summary = report["summary"]
    assert summary["files"] == 5 and summary["labelled"] == 3 and summary["no_face"] == 1
    assert [r["input"].rsplit("/", 1)[-1] for r in report["files"] if r.get("no_face")] == ["blank.png"]
    assert [f["input"].rsplit("/", 1)[-1] for f in report["failures"]] == ["broken.jpg"]
    assert "broken.jpg" in report["failures"][0]["error"]
    assert json.loads((out / REPORT_NAME).read_text())["summary"]["labelled"] == 3
    labels = read_image(out / "sub" / (names[1].rsplit(".", 1)[0] + ".png"))
    assert labels.shape == (64, 64, 1) and labels.dtype == np.uint8 and 0 < labels.max() < 10
    assert (out / "gray16.png").is_file()
    assert report["class_fraction_mean"]["skin"] > 0.3
    again = precompute_parse_labels(src, out, size=64, progress=False)  # resumes: keeps finished labels
    assert again["summary"]["kept_existing"] == 3 and again["summary"]["labelled"] == 0
    with pytest.raises(UserError, match="inside the input folder"):
        precompute_parse_labels(src, src / "labels")
    with pytest.raises(UserError, match="not a folder"):
        precompute_parse_labels(tmp_path / "missing", out)


def test_inputs_sharing_a_name_are_each_named_once_and_the_rest_labelled(tmp_path, capsys):
    src = tmp_path / "faces"
    src.mkdir()
    for name in ("same.png", "same.jpg", "other.png"):
        write_image(src / name, np.full((40, 40, 3), 90, np.uint8))
    (src / "gone.png").symlink_to(src / "missing.png")
    report = precompute_parse_labels(src, tmp_path / "labels", size=16, progress=False)
    errors = capsys.readouterr().err.splitlines()
    assert report["summary"]["files"] == 4 and report["summary"]["failed"] == 3 and report["summary"]["no_face"] == 1
    for name in ("same.png", "same.jpg", "gone.png"):
        assert sum(str(src / name) in line for line in errors) == 1, (name, errors)
    assert [line for line in errors if "same.jpg" in line][0].endswith("rename one")
