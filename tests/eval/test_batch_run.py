"""`facedeblur evaluate` on the batch core: per-pair report, resume, one line per bad pair, faithful saved images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageCms

from facedeblur.cli import main
from facedeblur.degrade.kernels import gaussian_kernel
from facedeblur.degrade.ops import blur_numpy
from facedeblur.images import ImageInfo, read_image_with_info, write_image

SIZE = 32
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _image(seed: int) -> np.ndarray:
    import cv2

    small = np.random.default_rng(seed).random((5, 5, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC), 0, 1)


def _make_pairs(root: Path, count: int) -> Path:
    for sub in ("blurred", "gt", "kernels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    kernel = gaussian_kernel(5, 1.0)
    for i in range(count):
        gt = _image(i)
        write_image(root / "gt" / f"p{i}.png", (gt * 255 + 0.5).astype(np.uint8))
        write_image(root / "blurred" / f"p{i}.png", (blur_numpy(gt, kernel) * 255 + 0.5).astype(np.uint8))
        np.save(root / "kernels" / f"p{i}.npy", kernel)
    return root


class Counting:
    """Patches the methods ``evaluate`` loads so that each model call is counted (and may be interrupted)."""

    def __init__(self, monkeypatch, interrupt_at: int | None = None) -> None:
        import facedeblur.eval.runner as runner

        self.calls: list[int] = []  # images per call
        self.interrupt_at = interrupt_at
        real = runner.load_method

        def load(name, device="cpu"):
            method = real(name, device)
            restore = method.restore

            def counted(batch, kernels):
                if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
                    raise KeyboardInterrupt
                self.calls.append(len(batch))
                return restore(batch, kernels)

            method.restore = counted
            return method

        monkeypatch.setattr(runner, "load_method", load)

    @property
    def images(self) -> int:
        return sum(self.calls)


def _evaluate(pairs: Path, out: Path, *extra: str, model: str = "blurred") -> int:
    base = ["evaluate", "-m", model, "--pairs", str(pairs), "--metrics", "psnr,ssim,id_cos", "-q", "--batch-size"]
    return main([*base, "1", "-o", str(out), *extra])


def test_an_interrupted_run_leaves_its_records_and_resumes_without_scoring_them_again(tmp_path, monkeypatch, capsys):
    pairs = _make_pairs(tmp_path / "pairs", 4)
    fresh = tmp_path / "fresh"
    assert _evaluate(pairs, fresh) == 0
    expected = json.loads((fresh / "summary.json").read_text())["means"]

    out = tmp_path / "scores"
    counting = Counting(monkeypatch, interrupt_at=2)  # Ctrl-C while the third pair is restored
    assert _evaluate(pairs, out) == 130
    assert "interrupted" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["command"] == "evaluate" and report["complete"] is False
    assert [r["name"] for r in report["files"] if r["status"] == "ok"] == ["p0", "p1"]
    assert not (out / "summary.json").exists()

    counting.interrupt_at, counting.calls = None, []
    assert _evaluate(pairs, out, "--skip-existing") == 0
    assert counting.images == 2  # p2 and p3 only
    assert "2 pair(s) kept" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["means"] == pytest.approx(expected)  # FID-ID too: the carried pairs kept their descriptors
    with open(out / "per_image.csv", newline="") as fh:
        assert [r["name"] for r in csv.DictReader(fh)] == ["p0", "p1", "p2", "p3"]
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is True and report["summary"]["carried_over"] == 2

    counting.calls = []
    assert _evaluate(pairs, out, "--skip-existing") == 0 and counting.images == 0  # all done: nothing rescored
    assert _evaluate(pairs, out, "--skip-existing", model="wiener") == 0 and counting.images == 4  # another method
    assert _evaluate(pairs, out) == 0 and counting.images == 8  # without --skip-existing: everything again
    (pairs / "gt" / "p3.png").write_bytes((pairs / "gt" / "p0.png").read_bytes())  # a changed pair is scored again
    counting.calls = []
    assert _evaluate(pairs, out, "--skip-existing") == 0 and counting.images == 1
    assert main(["evaluate", "-m", "blurred", "--pairs", str(pairs), "--skip-existing"]) == 2
    assert "give -o" in capsys.readouterr().err


def test_a_bad_pair_is_one_line_and_the_run_goes_on_or_stops_with_no_skip_bad(tmp_path, monkeypatch, capsys):
    pairs = _make_pairs(tmp_path / "pairs", 4)
    bad = pairs / "blurred" / "p1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    counting = Counting(monkeypatch)
    out = tmp_path / "scores"
    assert _evaluate(pairs, out) == 1
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if str(bad) in line]) == 1 and "Traceback" not in err
    assert counting.images == 3
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["files"]] == ["ok", "failed", "ok", "ok"]
    assert report["failures"][0]["input"] == str(bad)
    assert json.loads((out / "summary.json").read_text())["means"]["count"] == 3

    counting.calls = []
    stopped = tmp_path / "stopped"
    assert _evaluate(pairs, stopped, "--no-skip-bad") == 1
    err = capsys.readouterr().err
    assert "stopped by --no-skip-bad" in err and len([line for line in err.splitlines() if str(bad) in line]) == 1
    assert counting.images == 1  # p0 only: p2 and p3 were never restored
    report = json.loads((stopped / "report.json").read_text())
    assert [Path(r["input"]).stem for r in report["files"]] == ["p0", "p1"] and report["complete"] is False
    assert not (stopped / "summary.json").exists()

    counting.calls = []  # the failed pair is tried again on resume, the scored one is kept
    bad.write_bytes((pairs / "blurred" / "p0.png").read_bytes())
    assert _evaluate(pairs, stopped, "--skip-existing") == 0 and counting.images == 3


def test_saved_images_keep_the_inputs_depth_alpha_and_colour_profile(tmp_path):
    pairs = _make_pairs(tmp_path / "pairs", 3)
    kernel = gaussian_kernel(5, 1.0)
    blurred = np.clip(blur_numpy(_image(0), kernel), 0, 1)
    info = ImageInfo(icc_profile=SRGB, dpi=(300.0, 300.0))
    write_image(pairs / "blurred" / "p0.png", (blurred * 65535 + 0.5).astype(np.uint16), info=info)
    alpha = np.full((SIZE, SIZE, 1), 200, np.uint8)
    rgba = np.concatenate([(np.clip(blur_numpy(_image(1), kernel), 0, 1) * 255 + 0.5).astype(np.uint8), alpha], 2)
    write_image(pairs / "blurred" / "p1.png", rgba)
    gray = (np.clip(blur_numpy(_image(2), kernel), 0, 1)[:, :, :1] * 255 + 0.5).astype(np.uint8)
    write_image(pairs / "blurred" / "p2.png", gray)
    saved = tmp_path / "restored"
    args = ["evaluate", "-m", "wiener", "--pairs", str(pairs), "--metrics", "psnr", "-q", "--save-images", str(saved)]
    assert main(args) == 0
    pixels, meta = read_image_with_info(saved / "p0.png")
    assert pixels.dtype == np.uint16 and pixels.shape == (SIZE, SIZE, 3)
    assert meta.icc_profile == SRGB and meta.dpi == (300.0, 300.0)
    assert len(np.unique(pixels)) > 256  # restored at 16 bits, not 8-bit values scaled up
    pixels, _ = read_image_with_info(saved / "p1.png")
    assert pixels.shape == (SIZE, SIZE, 4) and np.array_equal(pixels[:, :, 3:], alpha)
    assert read_image_with_info(saved / "p2.png")[0].shape == (SIZE, SIZE, 1)
