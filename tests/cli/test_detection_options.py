"""The face-detection options of every command that detects, through the real entry point."""

from __future__ import annotations

import json

import pytest

from _face_helpers import canvas, place
from _restore_helpers import cached_val_faces, make_tiny_model
from facedeblur.cli import main
from facedeblur.images import write_image


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def group(utkface_val, tmp_path_factory):
    """A 500 x 760 photo with a 40 px face (box ~35 px) and a 200 px face."""
    faces = cached_val_faces(utkface_val, 2)
    image = canvas(500, 760, seed=11)
    place(image, faces[0], 500, 300, 40)
    place(image, faces[1], 60, 60, 200)
    path = tmp_path_factory.mktemp("photos") / "group.png"
    write_image(path, image)
    return path


def test_restore_finds_small_faces_and_reports_the_search(group, tmp_path, tiny_model):
    out = tmp_path / "out"
    assert main(["restore", str(group), "-o", str(out), "--model", tiny_model, "--quiet"]) == 0
    report = json.loads((out / "restore-report.json").read_text())
    assert report["options"]["detector"] == "centerface" and report["options"]["min_face_size"] == 24
    record = report["files"][0]
    assert record["faces"] == 2
    search = record["search"]
    assert search["detector"] == "centerface" and search["passes"][0]["scale"] > 1
    assert search["smallest_face"] <= 24 and search["found"] == 2
    assert {"tiles", "width", "height", "faces"} <= set(search["passes"][0])
    assert record["timings"]["search"] >= 0 and search["planned_seconds"] > 0


def test_restore_expert_options_limit_the_search_and_say_so(group, tmp_path, tiny_model, capsys):
    out = tmp_path / "out"
    args = ["restore", str(group), "-o", str(out), "--model", tiny_model, "--quiet"]
    assert main([*args, "--detector", "hog", "--max-side", "760", "--threshold", "0.1"]) == 0
    record = json.loads((out / "restore-report.json").read_text())["files"][0]
    assert record["search"]["detector"] == "hog" and record["search"]["threshold"] == 0.1
    assert record["search"]["passes"][0]["width"] == 760 and record["search"]["limited_by"] == "max side"
    assert record["faces"] == 1  # HOG at full size cannot see the 35 px face
    assert "limited by the max side" in capsys.readouterr().err
    assert main([*args, "--detector", "hog", "--upsample", "2", "--skip-existing"]) == 0  # skipped: exists
    out2 = tmp_path / "out2"
    assert main(["restore", str(group), "-o", str(out2), "--model", tiny_model, "--quiet", "--upsample", "1"]) == 0
    record = json.loads((out2 / "restore-report.json").read_text())["files"][0]
    assert record["search"]["passes"][0]["scale"] == 2.0
    assert main(["restore", str(group), "-o", str(out2), "--min-face-size", "600", "--model", tiny_model]) == 0
    for bad in (["--upsample", "9"], ["--max-side", "-1"], ["--min-face-size", "0"]):
        assert main(["restore", str(group), "-o", str(tmp_path / "bad"), "--model", tiny_model, *bad]) == 2
    with pytest.raises(SystemExit):  # argparse refuses an unknown detector by name
        main(["restore", str(group), "-o", str(tmp_path / "bad"), "--detector", "dpm"])


def test_faces_command_takes_the_same_options(group, tmp_path):
    out = tmp_path / "faces"
    assert main(["faces", str(group), "-o", str(out), "--quiet", "--no-overlay"]) == 0
    record = json.loads((out / "group.json").read_text())
    assert len(record["faces"]) == 2 and record["search"]["detector"] == "centerface"
    out = tmp_path / "faces-hog"
    assert main(["faces", str(group), "-o", str(out), "--quiet", "--detector", "hog", "--upsample", "0"]) == 0
    record = json.loads((out / "group.json").read_text())
    assert len(record["faces"]) == 1 and record["search"]["passes"][0]["scale"] == 1.0
    # the old spelling still works
    assert main(["faces", str(group), "-o", str(out), "--quiet", "--min-size", "100", "--detector", "hog"]) == 0
    assert len(json.loads((out / "group.json").read_text())["faces"]) == 1


def test_serve_and_mine_take_the_options(capsys):
    for command in ("serve", "mine", "restore", "faces"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for option in ("--detector", "--min-face-size", "--max-side", "--upsample", "--threshold"):
            assert option in text, (command, option)
    assert main(["serve", "--upsample", "7"]) == 2
    assert "--upsample must be between 0 and 3" in capsys.readouterr().err
