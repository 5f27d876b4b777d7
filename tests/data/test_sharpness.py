import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.data.sharpness import crete_sharpness, laplacian_variance, score_files, sharpness
from facedeblur.images import read_image, write_image


def textured(seed=0, size=64):
    rng = np.random.default_rng(seed)
    return (rng.random((size // 4, size // 4, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)


@pytest.mark.parametrize("metric", ["laplacian", "crete"])
def test_scores_fall_monotonically_with_blur(metric):
    img = textured()
    scores = [sharpness(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s), metric) for s in (0, 0.8, 1.5, 3)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_crete_is_contrast_invariant_laplacian_is_not():
    img = textured().astype(np.float32) / 255
    dim = 0.5 + (img - 0.5) * 0.3
    assert laplacian_variance(dim) < 0.2 * laplacian_variance(img)
    assert crete_sharpness(dim) == pytest.approx(crete_sharpness(img), abs=0.03)
    assert 0 <= crete_sharpness(img) <= 1
    assert crete_sharpness(np.full((16, 16, 3), 0.5, np.float32)) == 0.0


def test_dtypes_and_size():
    img = textured()
    assert laplacian_variance(img) == pytest.approx(laplacian_variance(img.astype(np.float32) / 255), rel=1e-4)
    assert laplacian_variance(img.astype(np.uint16) * 257) == pytest.approx(laplacian_variance(img), rel=1e-4)
    gray = img[:, :, :1]
    assert laplacian_variance(gray) > 0
    assert laplacian_variance(img, size=32) != laplacian_variance(img)
    with pytest.raises(ValueError, match="metric"):
        sharpness(img, "fft")


def make_folder(root):
    root.mkdir()
    for i in range(4):
        write_image(root / f"s{i}.png", textured(i))
    write_image(root / "blurry.png", cv2.GaussianBlur(textured(9), (0, 0), 3))
    return root


BATCH_KEYS = {"facedeblur", "command", "complete", "stopped", "options", "summary", "files", "failures"}


def test_curate_lists_keeps_and_moves(tmp_path, capsys):
    root = make_folder(tmp_path / "faces")
    report_path = tmp_path / "r.json"
    keep = tmp_path / "keep.txt"
    args = ["data", "curate", str(root), "--size", "0", "--list", "1", "--no-progress"]
    assert main([*args, "--threshold", "100", "--report", str(report_path), "--keep-list", str(keep)]) == 0
    out = capsys.readouterr().out
    assert "4 of 5 faces kept" in out and "blurry.png" in out.splitlines()[-1]
    report = json.loads(report_path.read_text())
    assert set(report) == BATCH_KEYS | {"size"} and report["command"] == "data curate" and report["complete"]
    assert report["size"] is None and report["options"]["threshold"] == 100 and report["failures"] == []
    summary = report["summary"]
    assert summary["files"] == summary["ok"] == summary["scored"] == 5 and summary["kept"] == 4
    assert set(summary["percentiles"]) == {"laplacian", "crete"}
    records = {Path(r["input"]).name: r for r in report["files"]}
    assert records["blurry.png"]["kept"] is False and all(records[f"s{i}.png"]["kept"] for i in range(4))
    assert records["blurry.png"]["scores"]["laplacian"] < 100 <= records["s0.png"]["scores"]["laplacian"]
    assert sorted(keep.read_text().split()) == sorted(str(root / f"s{i}.png") for i in range(4))
    rejected = tmp_path / "rejected"
    assert main([*args, "--threshold", "100", "--move-rejected", str(rejected), "--report", str(report_path)]) == 0
    assert (rejected / "blurry.png").is_file() and not (root / "blurry.png").exists()
    moved = {Path(r["input"]).name: r for r in json.loads(report_path.read_text())["files"]}
    assert moved["blurry.png"]["moved_to"] == str(rejected / "blurry.png") and "moved_to" not in moved["s0.png"]
    assert main([*args, "--move-rejected", str(rejected)]) == 2  # needs --threshold
    assert main([*args, "--threshold", "1", "--move-rejected", str(root / "inside")]) == 2


def test_curate_bad_files(tmp_path, capsys):
    root = make_folder(tmp_path / "faces")
    (root / "bad.png").write_bytes(b"\x89PNG truncated")
    assert main(["data", "curate", str(root), "--no-skip-bad", "--no-progress"]) == 1
    assert "bad.png" in capsys.readouterr().err
    assert main(["data", "curate", str(root), "--skip-bad", "--no-progress", "--report", str(tmp_path / "r.json")]) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["scored"] == 5 and report["summary"]["failed"] == 1
    assert report["failures"] == [{"input": str(root / "bad.png"), "error": report["failures"][0]["error"]}]
    assert "bad.png" in report["failures"][0]["error"]
    assert (
        main(["data", "curate", str(root), "--no-skip-bad", "--no-progress", "--report", str(tmp_path / "r.json")]) == 1
    )
    stopped = json.loads((tmp_path / "r.json").read_text())  # written although the run stopped
    assert stopped["complete"] is False and "stopped by --no-skip-bad" in stopped["stopped"]
    scores, failed = score_files([root / "bad.png", root / "s0.png"], skip_bad=True)
    assert len(scores) == 1 and len(failed) == 1


def test_inspect(tmp_path, capsys):
    root = make_folder(tmp_path / "faces")
    assert main(["data", "inspect", str(root), "--check"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "faces" and info["images"] == 5 and info["sizes"] == {"64x64x3 uint8": 5}
    out = tmp_path / "pairs"
    main(["degrade", "images", str(root), "-o", str(out), "--no-progress"])
    capsys.readouterr()
    assert main(["data", "inspect", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 5
    (root / "x.jpg").write_bytes(b"nope")
    assert main(["data", "inspect", str(root), "--check"]) == 1


def test_parse_labels_delegates_to_face_parsing(tmp_path, monkeypatch):
    import facedeblur.face.parsing as parsing

    calls = {}

    def fake(in_dir, out_dir, size=128, **kwargs):
        calls.update(in_dir=in_dir, out_dir=out_dir, size=size, **kwargs)
        return {"summary": {"files": 2, "labelled": 2, "failed": 0}, "stopped": None}

    monkeypatch.setattr(parsing, "precompute_parse_labels", fake)
    root = make_folder(tmp_path / "faces")
    assert (
        main(["data", "parse-labels", str(root), "-o", str(tmp_path / "labels"), "--size", "64", "--no-progress"]) == 0
    )
    assert calls["size"] == 64 and calls["in_dir"] == str(root) and calls["progress"] is False


def test_curate_real_faces(utkface_val, tmp_path):
    files = sorted(utkface_val.iterdir())[:12]
    scores, failed = score_files(files, size=128)
    assert not failed and len(scores) == 12
    values = [s["laplacian"] for s in scores.values()]
    assert min(values) > 0 and all(0 < s["crete"] < 1 for s in scores.values())
    img = read_image(files[0])
    assert laplacian_variance(cv2.GaussianBlur(img, (0, 0), 2), 128) < laplacian_variance(img, 128)


def test_inspect_of_pairs_names_each_problem_once_and_goes_on(tmp_path, capsys):
    root = tmp_path / "pairs"
    for side in ("blurred", "gt"):
        (root / side).mkdir(parents=True)
        write_image(root / side / "ok.png", textured(1))
    write_image(root / "blurred" / "alone.png", textured(2))  # no ground truth
    write_image(root / "blurred" / "small.png", textured(3)[:32])
    write_image(root / "gt" / "small.png", textured(3))
    (root / "gt" / "gone.png").symlink_to(root / "missing.png")
    assert main(["data", "inspect", str(root), "--check"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["pairs"] == 2 and report["bad"] == 3 and report["decoded"] == 5
    lines = captured.err.splitlines()
    for path in (root / "blurred" / "alone.png", root / "blurred" / "small.png", root / "gt" / "gone.png"):
        assert sum(str(path) in line for line in lines) == 1, (path, lines)
