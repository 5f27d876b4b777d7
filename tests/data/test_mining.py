"""The video mining framework end to end on synthetic videos made from a real UTKFace face."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from _face_helpers import canvas, place
from _mining_helpers import make_videos
from _restore_helpers import cached_val_faces
from facedeblur.cli import main
from facedeblur.data.mining import MiningConfig, mine_video, unique_names
from facedeblur.images import read_image
from facedeblur.video import write_video


@pytest.fixture(scope="module")
def face(utkface_val):
    return cached_val_faces(utkface_val, 1)[0]


@pytest.fixture(scope="module")
def videos(tmp_path_factory, face):
    return make_videos(tmp_path_factory.mktemp("videos"), face)


@pytest.fixture(scope="module")
def mined(tmp_path_factory, videos):
    out = tmp_path_factory.mktemp("dataset")
    # the face moves 4 px per frame: short windows keep the averaged blur within the PSNR range
    args = ["--size", "64", "--pairs", "--set", "pair_frames=[3, 5]", "--quiet"]
    code = main(["mine", str(videos["moving"].parent), "-o", str(out), *args])
    return code, out


def _report(out, name):
    return json.loads((out / name / "report.json").read_text())


def test_moving_face_is_mined(mined):
    code, out = mined
    assert code == 0
    report = _report(out, "moving")
    assert report["status"] == "accepted" and report["reason"] == ""
    assert report["accepted_frames"] >= 12, report["rejected_frames"]
    crops = sorted((out / "moving" / "crops").glob("*.png"))
    assert len(crops) == report["accepted_frames"]
    landmarks = json.loads((out / "moving" / "landmarks.json").read_text())
    assert sorted(landmarks) == [c.stem for c in crops]
    # the landmarks follow the face: 4 px per frame to the right, 1 px down
    frames = np.array([int(k) for k in sorted(landmarks)])
    centres = np.array([np.mean(landmarks[k]["landmarks68"], axis=0) for k in sorted(landmarks)])
    slope_x, slope_y = np.polyfit(frames, centres[:, 0], 1)[0], np.polyfit(frames, centres[:, 1], 1)[0]
    assert 3.5 < slope_x < 4.5 and 0.5 < slope_y < 1.5
    # aligned crops cancel the motion: the first and last crops show the same face at the same place
    first, last = (read_image(c).astype(np.float32) / 255 for c in (crops[0], crops[-1]))
    assert first.shape == (64, 64, 3)
    assert np.abs(first - last).mean() < 0.06
    assert all(r["accepted"] and r["iou"] >= 0.5 and r["fitting_score"] > 0 for r in report["records"][1:])


def test_static_video_is_rejected_for_no_movement(mined):
    _, out = mined
    report = _report(out, "static")
    assert report["status"] == "rejected"
    assert report["reason"].startswith("no movement"), report["reason"]
    assert all(r["reason"].startswith("no movement since frame 0") for r in report["records"][1:])
    assert report["rejected_frames"] == {"no movement": report["frames"] - 1}
    assert not (out / "static" / "crops").exists()


def test_faceless_video_is_rejected(mined):
    _, out = mined
    report = _report(out, "faceless")
    assert report["status"] == "rejected"
    assert report["reason"] == "no face detected in the first frame"
    assert not (out / "faceless" / "crops").exists()


BATCH_KEYS = {"facedeblur", "command", "complete", "stopped", "options", "summary", "files", "failures"}


def _records(report):
    return {r["name"]: r for r in report["files"]}


def test_dataset_summary_and_pairs(mined):
    _, out = mined
    report = json.loads((out / "report.json").read_text())
    assert set(report) == BATCH_KEYS | {"ray"} and report["command"] == "mine" and report["complete"]
    assert report["ray"] is None and report["options"]["size"] == 64 and report["options"]["pairs"] is True
    videos = _records(report)
    assert set(videos) == {"moving", "static", "faceless"} and report["failures"] == []
    assert [r["input"] for r in report["files"]] == sorted(r["input"] for r in report["files"])
    assert all(r["status"] == "ok" for r in report["files"])
    assert videos["moving"]["verdict"] == "accepted" and videos["static"]["verdict"] == "rejected"
    summary = report["summary"]
    assert summary["files"] == summary["ok"] == 3 and summary["failed"] == 0
    assert summary["accepted_videos"] == 1 and summary["rejected_videos"] == 2
    assert summary["frames"] == sum(r["frames"] for r in report["files"]) and summary["frames_per_second"] > 0
    assert summary["pairs"] >= 1 and videos["moving"]["pairs"]["written"] == summary["pairs"]
    blurred = sorted((out / "pairs" / "blurred" / "moving").glob("*.png"))
    assert len(blurred) == summary["pairs"]
    lq = read_image(blurred[0]).astype(np.float32)
    gt = read_image(out / "pairs" / "gt" / "moving" / blurred[0].name).astype(np.float32)
    assert lq.shape == gt.shape == (64, 64, 3)
    assert 1.0 < np.abs(lq - gt).mean() < 30  # real motion blur, same face
    params = json.loads((out / "pairs" / "params" / "moving" / f"{blurred[0].stem}.json").read_text())
    assert params["accepted"] and params["frames"] in (3, 5)


def test_video_where_the_detector_loses_the_face_is_rejected(tmp_path, face):
    background = canvas(200, 240, seed=3)
    first = background.copy()
    place(first, face, 30, 10, 170)
    video = tmp_path / "cut.mp4"
    write_video(video, [first] + [background.copy() for _ in range(5)], fps=25)
    report = mine_video(video, tmp_path / "ds", MiningConfig(size=32))
    assert report["status"] == "rejected"
    assert report["reason"].startswith("tracker and detector agree (IoU >= 0.5) in 17% of the frames")
    assert all("disagree" in r["reason"] or "lost" in r["reason"] for r in report["records"][1:])


def test_unreadable_video_is_reported(tmp_path, capsys):
    bad = tmp_path / "in" / "broken.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"not a video at all")
    assert main(["mine", str(bad.parent), "-o", str(tmp_path / "ds"), "--quiet"]) == 1
    report = _report(tmp_path / "ds", "broken")
    assert report["status"] == "rejected" and report["reason"].startswith("unreadable video")
    err = capsys.readouterr().err
    assert sum("broken.mp4" in line for line in err.splitlines()) == 1, err  # named once
    dataset = json.loads((tmp_path / "ds" / "report.json").read_text())
    (record,) = dataset["files"]
    assert record["status"] == "failed" and record["verdict"] == "rejected" and "broken.mp4" in record["error"]
    assert dataset["failures"] == [{"input": str(bad), "error": record["error"]}]
    assert dataset["summary"]["failed"] == 1 and dataset["summary"]["failed_videos"] == 0


def test_cli_user_errors(tmp_path, capsys):
    assert main(["mine", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "ds")]) == 2
    assert "no such file" in capsys.readouterr().err
    video = tmp_path / "v.mp4"
    write_video(video, [np.zeros((32, 32, 3), np.uint8)], fps=25)
    assert main(["mine", str(video), "-o", str(tmp_path / "ds"), "--set", "iou_threshold=3"]) == 2
    assert main(["mine", str(video), "-o", str(tmp_path / "ds"), "--set", "nonsense=1"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_unique_names_and_config_checks():
    from pathlib import Path

    assert unique_names([Path("a/x.mp4"), Path("b/x.mp4")]) == ["x", "x-2"]
    with pytest.raises(ValueError, match="min_motion"):
        MiningConfig(min_motion=5, max_motion=2)


def test_mining_without_ray_never_imports_ray(videos, tmp_path):
    code = (
        "import sys; from facedeblur.data.mining import mine_videos; "
        f"mine_videos([{str(videos['faceless'])!r}], {str(tmp_path)!r}, progress=False); "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_yaml_config_and_overrides(tmp_path, videos):
    config = tmp_path / "mining.yaml"
    config.write_text("size: 32\nmin_frames: 2\ndetector: hog\n")
    out = tmp_path / "ds"
    assert main(["mine", str(videos["faceless"]), "-o", str(out), "--config", str(config), "--quiet"]) == 0
    options = json.loads((out / "report.json").read_text())["options"]
    assert options["size"] == 32 and options["min_frames"] == 2
    assert main(["mine", str(videos["faceless"]), "-o", str(out), "--config", str(config), "--size", "40"]) == 0
    assert json.loads((out / "report.json").read_text())["options"]["size"] == 40


def test_pairs_do_not_depend_on_the_decoding_chunk(mined, videos, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from facedeblur.data.mining import pairs as mining

    _, out = mined
    marks = json.loads((out / "moving" / "landmarks.json").read_text())
    accepted = {
        int(k): SimpleNamespace(landmarks5=np.array(v["landmarks5"]), landmarks68=np.array(v["landmarks68"]))
        for k, v in marks.items()
    }
    config = MiningConfig(size=32, pair_frames=(3,), pair_stride=2)
    whole = mining.build_pairs(videos["moving"], tmp_path / "whole", "moving", accepted, config)
    monkeypatch.setattr(mining, "PAIR_CHUNK_FRAMES", 4)
    chunked = mining.build_pairs(videos["moving"], tmp_path / "chunked", "moving", accepted, config)
    assert whole == chunked and whole["written"] >= 5
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*.png"))
    assert files == sorted(p.relative_to(tmp_path / "chunked") for p in (tmp_path / "chunked").rglob("*.png"))
    for rel in files:
        assert (tmp_path / "whole" / rel).read_bytes() == (tmp_path / "chunked" / rel).read_bytes()


def test_an_error_in_one_video_does_not_stop_the_batch(videos, tmp_path, monkeypatch, capsys):
    from facedeblur.data.mining import batch as mining

    real = mining.mine_video

    def flaky(video, *args, **kwargs):
        if "static" in str(video):
            raise RuntimeError("simulated crash")
        return real(video, *args, **kwargs)

    monkeypatch.setattr(mining, "mine_video", flaky)
    out = tmp_path / "ds"
    assert main(["mine", str(videos["static"]), str(videos["faceless"]), "-o", str(out), "--quiet"]) == 1
    report = json.loads((out / "report.json").read_text())
    videos = _records(report)
    assert videos["static"]["status"] == "failed" and videos["static"]["verdict"] == "failed"
    assert report["summary"]["failed_videos"] == report["summary"]["failed"] == 1
    assert videos["faceless"]["status"] == "ok" and videos["faceless"]["verdict"] == "rejected"
    assert videos["static"]["error"] == f"{videos['static']['input']}: RuntimeError: simulated crash"
    assert report["failures"] == [{"input": videos["static"]["input"], "error": videos["static"]["error"]}]
    assert "static.mp4: RuntimeError: simulated crash" in capsys.readouterr().err
