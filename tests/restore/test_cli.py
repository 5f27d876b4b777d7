"""``facedeblur restore`` and ``facedeblur models`` through the real entry point, on every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from _restore_helpers import cached_val_faces, face_photo, make_tiny_model
from facedeblur.cli import main
from facedeblur.images import read_image, write_image
from facedeblur.video import write_video


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def faces(utkface_val):
    return cached_val_faces(utkface_val, 2)


@pytest.fixture(scope="module")
def photo(faces):
    return face_photo(faces[0])


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "facedeblur", *args], capture_output=True, text=True, timeout=300, check=False
    )


def _report(out_dir) -> dict:
    return json.loads((out_dir / "restore-report.json").read_text())


def test_every_bad_input_is_reported_and_the_batch_goes_on(tmp_path, photo, tiny_model):
    from PIL import Image

    src = tmp_path / "in"
    write_image(src / "good.jpg", photo)
    data = (src / "good.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (src / "text.jpg").write_text("this is not an image\n")
    write_image(src / "deep.png", photo.astype(np.uint16) * 257)
    write_image(src / "rgba.png", np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    write_image(src / "gray.png", photo.mean(axis=2, keepdims=True).astype(np.uint8))
    Image.fromarray(photo).convert("CMYK").save(src / "cmyk.jpg")
    write_video(src / "empty.avi", [], fps=25)
    write_image(src / "noface.png", photo[:40, :40])
    out = tmp_path / "out"

    result = _run_cli("restore", str(src), "-o", str(out), "--model", tiny_model, "--device", "cpu", "--quiet")

    assert result.returncode == 1, result.stderr
    report = _report(out)
    status = {f["input"].split("/")[-1]: f for f in report["files"]}
    assert {k for k, v in status.items() if v["status"] == "failed"} == {"truncated.jpg", "text.jpg", "empty.avi"}
    for name in ("truncated.jpg", "text.jpg", "empty.avi"):
        line = next(line for line in result.stderr.splitlines() if name in line)
        assert line.startswith("facedeblur restore: ") and "Traceback" not in result.stderr
    assert "no frames" in status["empty.avi"]["error"]
    assert report["summary"] == {**report["summary"], "files": 9, "failed": 3, "restored": 6}
    for name in ("good.jpg", "deep.png", "rgba.png", "gray.png", "cmyk.jpg"):
        assert status[name]["faces"] == 1, name
        assert status[name]["face_info"][0]["landmarks5"]
    assert status["noface.png"]["faces"] == 0 and "no face found" in result.stderr
    # each output keeps the input's name, size, bit depth and colour mode
    assert read_image(out / "deep.png").dtype == np.uint16 and read_image(out / "deep.png").shape == (240, 240, 3)
    assert read_image(out / "rgba.png").shape == (240, 240, 4) and (read_image(out / "rgba.png")[..., 3] == 200).all()
    assert read_image(out / "gray.png").shape == (240, 240, 1)
    assert read_image(out / "cmyk.jpg").shape == (240, 240, 3)
    assert np.array_equal(read_image(out / "noface.png"), read_image(src / "noface.png"))
    assert not (out / "truncated.jpg").exists() and not (out / "empty.avi").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_resume_skips_finished_files(tmp_path, photo, faces, tiny_model):
    src = tmp_path / "in"
    write_image(src / "a.png", photo)
    write_image(src / "b.png", face_photo(faces[1]))
    out = tmp_path / "out"
    write_image(out / "a.png", np.zeros((4, 4, 3), np.uint8))  # "finished" in an earlier, interrupted run
    code = main(["restore", str(src), "-o", str(out), "--model", tiny_model, "--device", "cpu", "--skip-existing"])
    assert code == 0
    assert read_image(out / "a.png").shape == (4, 4, 3)  # untouched
    assert read_image(out / "b.png").shape == (240, 240, 3)
    status = {f["input"].split("/")[-1]: f["status"] for f in _report(out)["files"]}
    assert status == {"a.png": "skipped", "b.png": "ok"}


def test_aligned_mode_keeps_names_and_sizes(tmp_path, faces, tiny_model):
    import cv2

    src = tmp_path / "aligned"
    write_image(src / "f128.png", cv2.resize(faces[0], (128, 128), interpolation=cv2.INTER_AREA))
    write_image(src / "f200.jpg", faces[1])
    out = tmp_path / "out"
    code = main(
        ["restore", "--aligned", str(src / "f128.png"), str(src / "f200.jpg"), "-o", str(out), "--model", tiny_model]
    )
    assert code == 0
    assert read_image(out / "f128.png").shape == (128, 128, 3)
    assert read_image(out / "f200.jpg").shape == (200, 200, 3)
    assert not np.array_equal(read_image(out / "f128.png"), read_image(src / "f128.png"))


def test_folders_globs_lists_ext_and_extras(tmp_path, photo, tiny_model, monkeypatch):
    src = tmp_path / "in"
    write_image(src / "top.jpg", photo)
    write_image(src / "sub" / "deep.jpg", photo[:, ::-1])
    write_image(tmp_path / "other" / "x.png", photo)
    (tmp_path / "list.txt").write_text(f"# faces\n{tmp_path / 'other' / 'x.png'}\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    args = ["restore", "in", "@list.txt", "other/*.png", "-o", "out", "--model", tiny_model, "--ext", "png"]
    code = main([*args, "--save-faces", "--compare", "--fidelity", "0.5"])
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png") if "faces" not in p.parts) == [
        "compare/sub/deep.png",
        "compare/top.png",
        "compare/x.png",
        "sub/deep.png",
        "top.png",
        "x.png",
    ]
    assert read_image(out / "compare" / "top.png").shape == (240, 488, 3)
    assert (out / "faces" / "top_face00.png").is_file() and (out / "faces" / "top_face00_input.png").is_file()
    assert _report(out)["summary"]["files"] == 3  # x.png listed twice (list + glob) is restored once


def test_refuses_to_overwrite_inputs_and_bad_options(tmp_path, photo, tiny_model, capsys):
    write_image(tmp_path / "a.jpg", photo)
    assert main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path), "--model", tiny_model]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--fidelity", "2"]) == 2
    assert main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--ext", "gif"]) == 2
    assert main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--model", "nope"]) == 2
    assert "known models" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o"), "--model", tiny_model]) == 1
    assert "missing.jpg: no such file" in capsys.readouterr().err
    assert read_image(tmp_path / "a.jpg").shape == photo.shape


def test_models_command(tiny_model, tmp_path, monkeypatch, capsys):
    import shutil

    import facedeblur.models.hub as hub

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(tiny_model, weights / "tiny.safetensors")
    (weights / "broken.safetensors").write_bytes(b"not safetensors")
    monkeypatch.setattr(hub, "WEIGHTS_DIR", weights)
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "tiny" in listing and "chrysos" in listing and "psnr 1" in listing and "n/a" in listing
    assert "broken" in listing and "unreadable" in listing
    assert main(["models", "tiny", "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["architecture"] == "chrysos" and meta["metrics"] == {"psnr": 1.0} and meta["face_size"] == 128
    assert main(["models", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'no-such-model'" in err and "broken, tiny" in err
