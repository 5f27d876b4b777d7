import json
import subprocess
import sys

import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.images import read_image, write_image


def make_faces(folder, n=4, size=48, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = (rng.random((size // 4, size // 4, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
        write_image(folder / f"face_{i}.png", img)
    (folder / "sub").mkdir(exist_ok=True)
    write_image(folder / "sub" / "gray.png", (rng.random((size, size + 8, 1)) * 255).astype(np.uint8))
    return folder


def tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_kernels_command_writes_mspl_bank(tmp_path):
    out = tmp_path / "bank.npz"
    assert (
        main(["degrade", "kernels", "--count", "2", "--sizes", "13:27", "--seed", "3", "-o", str(out), "--no-progress"])
        == 0
    )
    with np.load(out) as bank:
        assert list(bank["sizes"]) == [13, 15, 17, 19, 21, 23, 25, 27]
        for s in bank["sizes"]:
            k = bank[f"size_{s}"]
            assert k.shape == (2, s, s)
            np.testing.assert_allclose(k.sum(axis=(1, 2)), 1, atol=1e-5)
        first = bank["size_21"].copy()
    main(["degrade", "kernels", "--count", "2", "--sizes", "21", "--seed", "3", "-o", str(out), "--no-progress"])
    with np.load(out) as bank:
        np.testing.assert_array_equal(bank["size_21"], first)
    assert main(["degrade", "kernels", "--sizes", "12:14", "-o", str(out)]) == 2


@pytest.mark.parametrize("recipe", ["deblur", "restore"])
def test_images_command_is_byte_identical_per_seed(tmp_path, recipe):
    faces = make_faces(tmp_path / "in")
    args = ["degrade", "images", str(faces), "--recipe", recipe, "--seed", "0", "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    assert main([*args, "-o", str(tmp_path / "b")]) == 0
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    a.pop("report.json"), b.pop("report.json")  # the reports hold timings
    assert a == b
    assert {"blurred/face_0.png", "gt/face_0.png", "params/face_0.json", "blurred/sub/gray.png"} <= set(a)
    record = json.loads(a["params/face_1.json"])
    assert record["source"] == "face_1.png" and record["recipe"] == recipe
    assert {"kernel", "noise_level", "scale", "jpeg_quality", "grayscale"} <= set(record)
    lq, gt = read_image(tmp_path / "a" / "blurred" / "face_1.png"), read_image(tmp_path / "a" / "gt" / "face_1.png")
    assert lq.shape == gt.shape == (48, 48, 3) and not np.array_equal(lq, gt)
    assert main([*args, "--seed", "1", "-o", str(tmp_path / "c")]) == 0
    assert tree_bytes(tmp_path / "c")["blurred/face_1.png"] != a["blurred/face_1.png"]


def test_images_command_size_overrides_and_resume(tmp_path):
    faces = make_faces(tmp_path / "in", n=2)
    out = tmp_path / "out"
    cmd = ["degrade", "images", str(faces), "-o", str(out), "--size", "32", "--no-progress"]
    assert main([*cmd, "--set", "jpeg_probability=1.0", "--set", "jpeg_quality=[30, 30]"]) == 0
    assert read_image(out / "gt" / "sub" / "gray.png").shape == (32, 32, 3)
    assert json.loads((out / "params" / "face_0.json").read_text())["jpeg_quality"] == 30
    assert main(cmd) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["kept_existing"] == 3 and report["summary"]["written"] == 0
    assert report["summary"]["files"] == 3 and all(r.get("resumed") for r in report["files"])  # earlier records kept
    before = tree_bytes(faces)
    assert main(["degrade", "images", str(faces), "-o", str(faces)]) == 2  # never writes into its input
    assert main(["degrade", "images", str(faces), "-o", str(faces / "pairs")]) == 2  # nor inside it
    assert tree_bytes(faces) == before


def test_images_command_bad_files(tmp_path, capsys):
    faces = make_faces(tmp_path / "in", n=2)
    (faces / "broken.jpg").write_bytes(b"this is not a jpeg")
    out = tmp_path / "out"
    assert main(["degrade", "images", str(faces), "-o", str(out), "--no-skip-bad", "--no-progress"]) == 1
    err = capsys.readouterr().err
    first, summary = err.strip().splitlines()  # the stop, naming the file, then the summary line
    assert "broken.jpg" in first and "--no-skip-bad" in first and "1 input(s) failed" in summary
    assert main(["degrade", "images", str(faces), "-o", str(out), "--quiet"]) == 1  # goes on by default
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["ok"] == 3 and len(report["failures"]) == 1
    assert "broken.jpg" in report["failures"][0]["error"]
    assert "broken.jpg" in capsys.readouterr().err
    bad_recipe = main(["degrade", "images", str(faces), "-o", str(out), "--set", "scale=[1, 2]"])
    assert bad_recipe == 2  # scale is not a field of the deblur recipe


def test_video_command(tmp_path):
    from facedeblur.video import write_video

    rng = np.random.default_rng(0)
    texture = (rng.random((12, 16, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    frames = [np.roll(texture, 2 * i, axis=1) for i in range(16)]
    write_video(tmp_path / "clip.mp4", frames, fps=25)
    (tmp_path / "empty.mp4").write_bytes(b"")
    out = tmp_path / "out"
    cmd = ["degrade", "video", str(tmp_path / "clip.mp4"), "-o", str(out), "--frames", "5", "--stride", "4"]
    cmd += ["--psnr-range", "5:60", "--min-motion", "0.5", "--no-progress"]
    assert main(cmd) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["written"] == 3
    names = sorted(p.name for p in (out / "blurred" / "clip").iterdir())
    assert names == ["000000_05.png", "000004_05.png", "000008_05.png"]
    record = json.loads((out / "params" / "clip" / "000004_05.json").read_text())
    assert record["middle"] == 6 and record["video"] == "clip.mp4" and record["linear"] is True
    bad = ["degrade", "video", str(tmp_path / "empty.mp4"), "-o", str(tmp_path / "o2"), "--no-progress"]
    assert main([*bad, "--no-skip-bad"]) == 1
    assert main(bad) == 1
    assert "empty.mp4" in json.loads((tmp_path / "o2" / "report.json").read_text())["failures"][0]["error"]


def test_entry_point_round_trip(tmp_path):
    faces = make_faces(tmp_path / "in", n=1)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "facedeblur",
            "degrade",
            "images",
            str(faces),
            "-o",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "2 pairs written" in out.stdout
