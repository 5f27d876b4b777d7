"""Videos through the real command line: codec and quality options, progress, evaluate and benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _restore_helpers import cached_val_faces, face_photo, make_tiny_model
from _video_helpers import make_clip, stream_summary
from facedeblur.cli import main
from facedeblur.video import read_frames


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory, utkface_val):
    folder = tmp_path_factory.mktemp("clip")
    face = cached_val_faces(utkface_val, 1)[0]
    images = [np.roll(face_photo(face, 160, 160, 110), i // 3, axis=1) for i in range(24)]
    make_clip(folder / "talk.mkv", images=images, audio=True, subtitles=True)
    return folder / "talk.mkv", make_tiny_model(folder / "tiny.safetensors")


def test_restore_video_options_progress_and_report(tmp_path, face_clip, capsys):
    clip, model = face_clip
    out = tmp_path / "out"
    code = main(["restore", str(clip), "-o", str(out), "--model", str(model), "--codec", "lossless"])
    assert code == 0
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if line.startswith("talk.mkv: ")]
    assert progress and progress[-1].startswith("talk.mkv: 24/24 frames (100%)")  # not a terminal: lines
    record = json.loads((out / "restore-report.json").read_text())["files"][0]
    assert record["codec"]["codec"] == "lossless" and record["streams_copied"] == 2
    assert set(record["stages"]) == {"decode", "find", "model", "paste", "encode"}
    assert record["tracking"]["detections"] < 24 and record["frames_with_faces"] == 24
    assert stream_summary(out / "talk.mkv")[0][1] == "ffv1"
    assert len(list(read_frames(out / "talk.mkv"))) == 24

    code = main(
        ["restore", str(clip), "-o", str(tmp_path / "q"), "--model", str(model), "--codec", "h265", "--crf", "20"]
        + ["--temporal", "0", "--quiet"]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith("talk.mkv: ")]
    assert stream_summary(tmp_path / "q" / "talk.mkv")[0][1] == "hevc"
    assert main(["restore", str(clip), "-o", str(tmp_path / "x"), "--crf", "99"]) == 2
    assert "--crf must be between" in capsys.readouterr().err


def test_evaluate_video_and_the_video_benchmark(tmp_path, face_clip, capsys):
    clip, model = face_clip
    assert main(["evaluate", "--video", str(clip), "--model", str(model), "-o", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "flicker_in" in out and "detail_retained" in out
    summary = json.loads((tmp_path / "ev" / "video_summary.json").read_text())
    assert summary["frames"] == 24 and summary["faces"] == 24 and summary["flicker_out"] >= 0
    same = main(["evaluate", "--video", str(clip), "--restored", str(clip)])
    assert same == 0
    line = [r for r in capsys.readouterr().out.splitlines() if "talk.mkv" in r][-1]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == cells[5] and float(cells[6]) == pytest.approx(1.0)  # itself: same flicker, all detail
    assert main(["evaluate", "--model", str(model)]) == 2
    assert "--pairs" in capsys.readouterr().err

    bench = tmp_path / "bench"
    code = main(
        ["benchmark", "--protocol", "video", "--source", str(clip), "--models", "blurred", str(model)]
        + ["-o", str(bench), "--seconds", "0.5"]
    )
    assert code == 0
    rows = json.loads((bench / "video.json").read_text())
    assert [r["method"] for r in rows] == ["blurred", str(model)]
    assert rows[0]["psnr_out"] == rows[0]["psnr_in"] and rows[0]["flicker_out"] == rows[0]["flicker_in"]
    assert "face-box PSNR" in (bench / "video.md").read_text()


def test_restore_video_smoothing_and_interval_options(tmp_path, face_clip, capsys):
    clip, model = face_clip
    out = tmp_path / "out"
    code = main(
        ["restore", str(clip), "-o", str(out), "--model", str(model), "--quiet", "--codec", "lossless"]
        + ["--smooth", "face", "--temporal", "0.5", "--model-interval", "1", "--key-interval", "4"]
        + ["--preset", "ultrafast", "--hold", "0", "--steady-levels", "0", "--threads", "1"]
    )
    assert code == 0
    report = json.loads((out / "restore-report.json").read_text())
    record = report["files"][0]
    assert record["model_faces"] == 24  # the model on every frame
    assert record["tracking"]["detections"] == 6  # every 4th frame of 24
    assert report["options"]["video"] == {
        "codec": "lossless",
        "model_interval": 1,
        "key_interval": 4,
        "smooth": "face",
        "preset": "ultrafast",
        "hold": 0.0,
        "steady_levels": 0.0,
        "threads": 1,
        "temporal": 0.5,
    }
    default = tmp_path / "default"
    assert main(["restore", str(clip), "-o", str(default), "--model", str(model), "--quiet"]) == 0
    record = json.loads((default / "restore-report.json").read_text())["files"][0]
    assert record["model_faces"] < 24 and record["tracking"]["detections"] == 1  # 24 frames < one second

    for flag, value, message in [
        ("--model-interval", "0", "--model-interval must be >= 1"),
        ("--key-interval", "-2", "--key-interval must be >= 1"),
        ("--steady-levels", "0.5", "--steady-levels must be between 0 and 0.5"),
        ("--hold", "-1", "--hold must be at least 0.0"),
        ("--threads", "0", "--threads must be at least 1"),
    ]:
        assert main(["restore", str(clip), "-o", str(tmp_path / "bad"), flag, value]) == 2
        assert message in capsys.readouterr().err
    for flag, value in [("--smooth", "noise"), ("--preset", "quick")]:
        with pytest.raises(SystemExit) as exit_:
            main(["restore", str(clip), "-o", str(tmp_path / "bad"), flag, value])
        assert exit_.value.code == 2 and f"invalid choice: '{value}'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
