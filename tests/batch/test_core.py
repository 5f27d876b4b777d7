"""The batch core through ``facedeblur restore``: inputs, the output-path policy, reports, errors, signals."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from _face_helpers import canvas
from _restore_helpers import cached_val_faces, face_photo, make_tiny_model
from facedeblur.batch.inputs import expand_inputs
from facedeblur.batch.report import BatchReport
from facedeblur.batch.run import remove_stale_temps, run_one
from facedeblur.cli import main
from facedeblur.images import read_image, write_image


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors"))


def _hashes(folder) -> dict:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _photos(folder, count: int = 2) -> None:
    for i in range(count):
        write_image(folder / f"p{i}.png", canvas(64, 80, seed=i))


def test_inputs_name_every_odd_entry_and_never_follow_link_loops(tmp_path):
    root = tmp_path / "in"
    _photos(root)
    os.mkfifo(root / "fifo.png")
    os.symlink(root / "gone.png", root / "dangling.png")
    os.symlink(root / "loop.png", root / "loop.png")
    os.symlink(root, root / "again")  # a folder link back to its parent: not followed
    write_image(root / ".hidden" / "h.png", canvas(8, 8))
    raw = os.path.join(os.fsencode(root), b"caf\xe9.png")  # not UTF-8
    with open(raw, "wb") as fh:
        fh.write((root / "p0.png").read_bytes())
    (tmp_path / "list.txt").write_text(f"# a list\n\n{root / 'p1.png'}\n{tmp_path / 'nope.png'}\n")

    found = expand_inputs([str(root), f"@{tmp_path / 'list.txt'}", str(root / "fifo.png"), str(tmp_path / "*.zzz")])

    names = sorted(f.rel.as_posix() for f in found.files)
    assert names == sorted(["caf\udce9.png", "p0.png", "p1.png"])  # p1 once, though named twice
    problems = "\n".join(message for _, message in found.problems)
    assert "dangling.png: broken symbolic link" in problems and "loop.png: broken symbolic link" in problems
    assert "fifo.png: not a regular file (a FIFO)" in problems
    assert "nope.png: no such file or folder" in problems and "*.zzz: no file matches this pattern" in problems
    assert found.folders == [root]


def test_restore_refuses_every_output_that_would_harm_an_input(tmp_path, tiny_model, capsys):
    root = tmp_path / "in"
    _photos(root)
    before = _hashes(root)
    base = ["restore", "--model", tiny_model, "--device", "cpu", "--quiet"]
    cases = [
        ([str(root), "-o", str(tmp_path / "out"), "--report", str(root / "p0.png")], "would overwrite the input"),
        ([str(root), "-o", str(tmp_path / "out"), "--report", str(root / "r.json")], "lies inside the input folder"),
        ([str(root), "-o", str(root)], "is the input folder"),
        ([str(root), "-o", str(root / "restored")], "lies inside the input folder"),
        ([str(root / "p0.png"), "-o", str(root)], "would overwrite the input"),
    ]
    for args, expected in cases:
        assert main([*base, *args]) == 2, args
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err  # one line, naming the path
        assert _hashes(root) == before  # nothing written into the input folder, no input changed
    assert not (tmp_path / "out").exists()


def test_compare_and_face_crops_of_same_stem_inputs_do_not_collide(tmp_path, tiny_model, utkface_val):
    face = cached_val_faces(utkface_val, 1)[0]
    root = tmp_path / "in"
    write_image(root / "a.jpg", face_photo(face, seed=0))
    write_image(root / "a.png", face_photo(face, seed=1))
    out = tmp_path / "out"
    assert main(["restore", str(root), "-o", str(out), "--model", tiny_model, "--compare", "--save-faces"]) == 0
    assert (out / "compare" / "a.jpg").is_file() and (out / "compare" / "a.png").is_file()
    crops = sorted(p.name for p in (out / "faces").iterdir())
    assert crops == ["a_jpg_face00.png", "a_jpg_face00_input.png", "a_png_face00.png", "a_png_face00_input.png"]
    assert read_image(out / "compare" / "a.png").shape == (240, 488, 3)
    report = json.loads((out / "restore-report.json").read_text())
    assert {r["compare"] for r in report["files"]} == {str(out / "compare" / "a.jpg"), str(out / "compare" / "a.png")}


def test_a_resumed_run_carries_earlier_records_over_and_removes_stale_temporaries(tmp_path, tiny_model):
    root = tmp_path / "in"
    _photos(root, 1)
    out = tmp_path / "out"
    assert main(["restore", str(root), "-o", str(out), "--model", tiny_model, "--quiet"]) == 0
    first = json.loads((out / "restore-report.json").read_text())["files"][0]
    write_image(root / "p1.png", canvas(64, 80, seed=1))  # a file the killed run had not reached
    (out / ".p1.png.abcd_123.tmp").write_bytes(b"half")  # what kill -9 leaves behind
    (out / ".keep.me").write_bytes(b"someone else's")
    code = main(["restore", str(root), "-o", str(out), "--model", tiny_model, "--quiet", "--skip-existing"])
    assert code == 0
    report = json.loads((out / "restore-report.json").read_text())
    records = {r["input"].rsplit("/", 1)[-1]: r for r in report["files"]}
    assert records["p0.png"]["resumed"] and records["p0.png"]["status"] == "ok"
    assert records["p0.png"]["size"] == first["size"]
    assert records["p1.png"]["status"] == "ok" and report["complete"] and report["summary"]["carried_over"] == 1
    assert not (out / ".p1.png.abcd_123.tmp").exists() and (out / ".keep.me").exists()


def test_report_survives_sigterm_and_no_temporary_file_stays(tmp_path, tiny_model):
    root = tmp_path / "in"
    _photos(root, 40)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "facedeblur", "restore", str(root), "-o", str(out), "--model", tiny_model]
    proc = subprocess.Popen([*command, "--quiet", "--device", "cpu"], stderr=subprocess.PIPE, text=True)
    report = out / "restore-report.json"
    deadline = time.monotonic() + 120
    while not report.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    data = json.loads(report.read_text())
    if data["complete"]:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    assert data["stopped"].startswith("interrupted") and data["summary"]["ok"] >= 1
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_disk_full_stops_the_run_with_one_line_and_the_report_is_written(tmp_path, tiny_model, monkeypatch, capsys):
    import facedeblur.images as images

    root = tmp_path / "in"
    _photos(root, 3)
    real = images.write_bytes_atomic

    def full(path, data):  # every image write hits a full disk (an unchanged input is copied, not encoded)
        if str(path).endswith(".png"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(images, "write_bytes_atomic", full)
    out = tmp_path / "out"
    assert main(["restore", str(root), "-o", str(out), "--model", tiny_model, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "p0.png: disk full" in err and "stopped: " in err and "2 file(s) not processed" in err
    assert "Traceback" not in err
    report = json.loads((out / "restore-report.json").read_text())
    assert report["complete"] is False and report["summary"]["failed"] == 1 and report["stopped"]

    monkeypatch.setattr(images, "write_bytes_atomic", real)

    def read_only(path, data):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(images, "write_bytes_atomic", read_only)
    assert main(["restore", str(root), "-o", str(tmp_path / "o2"), "--model", tiny_model, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "the report could not be written: " in err and "read-only file system" in err
    assert "Traceback" not in err


def test_unexpected_errors_are_one_line_records_and_tracebacks_need_debug(tmp_path, tiny_model, monkeypatch, capsys):
    from facedeblur.restore import Restorer

    root = tmp_path / "in"
    for i in range(3):
        write_image(root / f"p{i}.png", canvas(64, 80 + i, seed=i))  # told apart by width
    real = Restorer.restore

    def flaky(self, image, **kwargs):
        if image.shape[1] == 81:
            raise RuntimeError("something deep broke\nsecond line")
        if image.shape[1] == 82:
            raise MemoryError()
        return real(self, image, **kwargs)

    monkeypatch.setattr(Restorer, "restore", flaky)
    out = tmp_path / "out"
    assert main(["restore", str(root), "-o", str(out), "--model", tiny_model, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{root / 'p1.png'}: RuntimeError: something deep broke" in err and "second line" not in err
    assert f"{root / 'p2.png'}: out of memory" in err and "Traceback" not in err
    assert (out / "p0.png").is_file()  # the run went on
    assert main(["--debug", "restore", str(root), "-o", str(out), "--model", tiny_model, "--quiet"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_report_and_run_one_units(tmp_path):
    path = tmp_path / "r.json"
    report = BatchReport(path, "demo", interval=3600)
    report.add({"input": "a", "status": "ok", "output": "A"})
    assert json.loads(path.read_text())["summary"]["ok"] == 1  # written after the first record
    report.add({"input": "b", "status": "ok"})
    assert json.loads(path.read_text())["summary"]["files"] == 1  # ...then not before the interval
    assert report.close()["complete"] and json.loads(path.read_text())["summary"]["files"] == 2
    resumed = BatchReport(path, "demo", resume=True)
    resumed.add({"input": "a", "status": "skipped", "output": "A"})
    assert [r["input"] for r in resumed.records] == ["a", "b"] and resumed.records[0]["resumed"]
    assert BatchReport(path, "other", resume=True).records == []  # another command's report is not carried
    with pytest.raises(ValueError, match="status"):
        report.add({"input": "c", "status": "done"})
    assert run_one("x", lambda: (_ for _ in ()).throw(OSError(errno.EROFS, "ro", "o/x")))["fatal"]
    (tmp_path / ".out.png.zz_a1b2c.tmp").write_text("")
    (tmp_path / ".out.q1w2e3r4.mp4").write_text("")
    (tmp_path / ".other.png.zz_a1b2c.tmp").write_text("")
    removed = remove_stale_temps([tmp_path / "out.png", tmp_path / "out.mp4"])
    assert sorted(p.name for p in removed) == [".out.png.zz_a1b2c.tmp", ".out.q1w2e3r4.mp4"]


def test_config_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "recipe.yaml"
    bad.write_text("recipe: deblur\nblur: [1, 2\n")
    src = tmp_path / "faces"
    _photos(src, 1)
    assert main(["degrade", "images", str(src), "-o", str(tmp_path / "o"), "--recipe", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML (line 3" in err and err.count("\n") == 1
    assert main(["train", "chrysos", "--set", "engine.steps=[1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "override engine.steps: not valid YAML" in err and "Traceback" not in err


def test_batch_core_docstring_examples_run():
    import doctest
    import importlib

    for name in ("inputs", "paths", "report", "run", "restore_files"):
        module = importlib.import_module(f"facedeblur.batch.{name}")
        assert doctest.testmod(module, raise_on_error=False).failed == 0, name
    import facedeblur.config
    import facedeblur.errors

    for module in (facedeblur.errors, facedeblur.config):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_evaluate_refuses_to_write_into_the_pairs_and_scores_the_rest_of_bad_pairs(tmp_path, capsys):
    faces = tmp_path / "faces"
    _photos(faces, 3)
    pairs = tmp_path / "pairs"
    assert main(["degrade", "images", str(faces), "-o", str(pairs), "--quiet"]) == 0
    before = _hashes(pairs)
    base = ["evaluate", "--pairs", str(pairs), "-m", "blurred", "--metrics", "psnr", "--quiet"]
    for extra in (["--save-images", str(pairs / "blurred")], ["-o", str(pairs / "gt")]):
        assert main([*base, *extra]) == 2
        assert "is the input folder" in capsys.readouterr().err
        assert _hashes(pairs) == before
    write_image(pairs / "blurred" / "tiny.png", canvas(3, 3))  # scored alone, not with the others
    write_image(pairs / "gt" / "tiny.png", canvas(3, 5))  # its sizes differ: that pair fails
    assert main([*base, "-o", str(tmp_path / "scores"), "--save-images", str(tmp_path / "restored")]) == 1
    err = capsys.readouterr().err
    assert "tiny.png" in err and "Traceback" not in err
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert summary["means"]["count"] == 3 and [f["name"] for f in summary["failures"]] == ["tiny"]
    assert sorted(p.name for p in (tmp_path / "restored").iterdir()) == ["p0.png", "p1.png", "p2.png"]
