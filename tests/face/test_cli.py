"""`facedeblur faces` through the real entry point: crops, JSON, overlay, bad files, pixel formats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _face_helpers import canvas, place, val_faces
from facedeblur.cli import main
from facedeblur.images import read_image, write_bytes_atomic, write_image


@pytest.fixture(scope="module")
def photos(utkface_val, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    faces = val_faces(utkface_val, 2)
    group = canvas(360, 560, seed=5)
    place(group, faces[0], 20, 40, 260)
    place(group, faces[1], 320, 80, 200)
    write_image(folder / "group.jpg", group)
    gray = (group.mean(axis=2, keepdims=True) * 257).astype(np.uint16)
    write_image(folder / "gray16.png", gray)
    rgba = np.concatenate([group, np.full(group.shape[:2] + (1,), 200, np.uint8)], axis=2)
    write_image(folder / "alpha.png", rgba)
    write_image(folder / "empty.png", canvas(100, 140))
    write_bytes_atomic(folder / "truncated.jpg", (folder / "group.jpg").read_bytes()[:300])
    return folder


def test_faces_command_writes_crops_json_and_overlay(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["faces", str(photos / "group.jpg"), str(photos / "empty.png"), "-o", str(out), "--quiet"])
    assert code == 0
    record = json.loads((out / "group.json").read_text())
    assert len(record["faces"]) == 2
    first = record["faces"][0]
    assert len(first["box"]) == 4 and isinstance(first["score"], float)
    assert np.asarray(first["landmarks5"]).shape == (5, 2) and "landmarks68" not in first
    assert (first["box"][2] - first["box"][0]) > (record["faces"][1]["box"][2] - record["faces"][1]["box"][0])
    crop = read_image(out / first["crop"])
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    overlay = read_image(out / "group_overlay.png")
    assert overlay.shape == (360, 560, 3)
    empty = json.loads((out / "empty.json").read_text())
    assert empty["faces"] == [] and empty["messages"] == ["no face found"]
    err = capsys.readouterr().err
    assert "empty.png: no face found" in err
    report = json.loads((out / "faces_report.json").read_text())
    assert report["failures"] == [] and [r["faces"] for r in report["files"]] == [2, 0]


def test_bad_files_are_reported_and_the_batch_continues(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["faces", str(photos), "-o", str(out), "--quiet", "--no-overlay", "--landmarks68", "--size", "96"])
    assert code == 1
    err = capsys.readouterr().err
    assert "truncated.jpg" in err and "1 of 5 input(s) failed" in err
    report = json.loads((out / "faces_report.json").read_text())
    assert report["summary"]["ok"] == 4 and report["failures"][0]["input"].endswith("truncated.jpg")
    gray = read_image(out / "gray16_face0.png")
    assert gray.shape == (96, 96, 1) and gray.dtype == np.uint16  # type survives
    alpha = read_image(out / "alpha_face0.png")
    assert alpha.shape == (96, 96, 4) and abs(int(alpha[48, 48, 3]) - 200) <= 1
    record = json.loads((out / "alpha.json").read_text())
    assert np.asarray(record["faces"][0]["landmarks68"]).shape == (68, 2)
    assert not list(out.glob("*_overlay.png"))


def test_loose_crop_and_small_face_messages(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["faces", str(photos / "group.jpg"), "-o", str(out), "--crop", "loose", "--min-size", "200"])
    assert code == 0
    record = json.loads((out / "group.json").read_text())
    assert record["crop"] == "loose" and len(record["faces"]) == 1
    matrix = np.asarray(record["faces"][0]["matrix"])
    assert matrix[0, 1] == 0 and matrix[1, 0] == 0  # no rotation
    assert "smaller than 200 px" in capsys.readouterr().err


def test_bad_options_are_user_errors(photos, tmp_path, capsys):
    assert main(["faces", str(photos / "group.jpg"), "-o", str(tmp_path), "--size", "2"]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["faces", str(tmp_path / "nothing"), "-o", str(tmp_path / "o"), "--quiet"]) == 1


def test_faces_refuses_to_write_into_the_input_folder(photos, tmp_path, capsys):
    import hashlib
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(photos, folder)
    (folder / "group_face0.png").write_bytes((folder / "group.jpg").read_bytes())  # named like a crop
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert main(["faces", str(folder), "-o", str(folder), "--quiet"]) == 2
    assert "is the input folder" in capsys.readouterr().err
    # a crop that would replace an input named directly is refused for that file, the rest goes on
    out = tmp_path / "out"
    out.mkdir()
    (out / "group_face1.png").write_bytes((folder / "group.jpg").read_bytes())
    code = main(["faces", str(folder / "group.jpg"), str(out / "group_face1.png"), "-o", str(out), "--quiet"])
    assert code == 1 and "would overwrite the input" in capsys.readouterr().err
    assert (out / "group_face1.png").read_bytes() == (folder / "group.jpg").read_bytes()
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
