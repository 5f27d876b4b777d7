"""`facedeblur evaluate` / `benchmark` through the real entry point, protocols and the runner on tiny sets."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from facedeblur.cli import main
from facedeblur.degrade.kernels import gaussian_kernel
from facedeblur.degrade.ops import blur_numpy
from facedeblur.images import read_image, write_image

SIZE = 48


def _image(seed: int) -> np.ndarray:
    import cv2

    small = np.random.default_rng(seed).random((6, 6, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC), 0, 1)


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _make_pairs(root: Path, count: int = 3, kernels: bool = True, identical: bool = False) -> Path:
    for sub in ("blurred", "gt", "kernels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    kernel = gaussian_kernel(7, 1.5)
    for i in range(count):
        gt = _image(i)
        blurred = gt if identical else blur_numpy(gt, kernel)
        write_image(root / "gt" / f"p{i}.png", _u8(gt))
        write_image(root / "blurred" / f"p{i}.png", _u8(blurred))
        if kernels:
            np.save(root / "kernels" / f"p{i}.npy", kernel)
    return root


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_evaluate_blurred_baseline_on_a_tiny_set(tmp_path, capsys):
    pairs = _make_pairs(tmp_path / "pairs")
    code = main(
        ["evaluate", "--model", "blurred", "--pairs", str(pairs), "--metrics", "fast", "-o", str(tmp_path / "o")]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| p0 |" in out and "| blurred |" in out
    rows = _read_csv(tmp_path / "o" / "per_image.csv")
    assert [r["name"] for r in rows] == ["p0", "p1", "p2"]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    # the mean PSNR is the mean of the per-image PSNRs computed here by hand
    expected = []
    for i in range(3):
        a = read_image(pairs / "blurred" / f"p{i}.png").astype(np.float64) / 255
        b = read_image(pairs / "gt" / f"p{i}.png").astype(np.float64) / 255
        expected.append(10 * math.log10(1 / np.mean((a - b) ** 2)))
    assert summary["means"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-3)
    assert summary["means"]["count"] == 3 and summary["failures"] == []


def test_identical_pairs_score_perfectly_including_identity(tmp_path, capsys):
    pairs = _make_pairs(tmp_path / "pairs", identical=True)
    code = main(
        [
            "evaluate",
            "-m",
            "blurred",
            "--pairs",
            str(pairs),
            "--metrics",
            "psnr,ssim,ms_ssim,id_cos,id_l2",
            "-q",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    means = json.loads((tmp_path / "o" / "summary.json").read_text())["means"]
    assert means["psnr"] == 100.0 and means["ssim"] == pytest.approx(1.0) and means["ms_ssim"] == pytest.approx(1.0)
    assert means["id_cos"] == pytest.approx(0.0, abs=1e-6) and means["id_l2"] == pytest.approx(0.0, abs=1e-5)
    assert means["fid_id"] == pytest.approx(0.0, abs=1e-4)


def test_wiener_beats_the_blurred_input_and_needs_kernels(tmp_path, capsys):
    pairs = _make_pairs(tmp_path / "pairs")
    assert (
        main(["evaluate", "-m", "wiener", "--pairs", str(pairs), "--metrics", "psnr", "-q", "-o", str(tmp_path / "w")])
        == 0
    )
    assert (
        main(["evaluate", "-m", "blurred", "--pairs", str(pairs), "--metrics", "psnr", "-q", "-o", str(tmp_path / "b")])
        == 0
    )
    wiener = json.loads((tmp_path / "w" / "summary.json").read_text())["means"]["psnr"]
    blurred = json.loads((tmp_path / "b" / "summary.json").read_text())["means"]["psnr"]
    assert wiener > blurred + 1
    no_kernels = _make_pairs(tmp_path / "nok", kernels=False)
    assert main(["evaluate", "-m", "richardson-lucy", "--pairs", str(no_kernels)]) == 2
    assert "kernels" in capsys.readouterr().err


def test_user_errors_exit_2(tmp_path, capsys):
    pairs = _make_pairs(tmp_path / "pairs")
    assert main(["evaluate", "-m", "no-such-model", "--pairs", str(pairs)]) == 2
    assert "richardson-lucy" in capsys.readouterr().err
    assert main(["evaluate", "-m", "blurred", "--pairs", str(tmp_path / "missing")]) == 2
    assert main(["evaluate", "-m", "blurred", "--pairs", str(pairs), "--metrics", "psnr,bogus"]) == 2


def test_evaluate_video_refuses_an_output_on_an_input_before_any_work(tmp_path, capsys):
    clip, restored = tmp_path / "clip.mp4", tmp_path / "restored.mp4"
    clip.write_bytes(b"not decoded: refused first")
    restored.write_bytes(b"the restoration to score")
    base = ["evaluate", "--video", str(clip), "--restored", str(restored)]
    assert main([*base, "--output", str(clip)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    folder = tmp_path / "scores"
    folder.mkdir()
    named = folder / "video_summary.json"
    named.write_bytes(b"a restoration named like the summary")
    assert main(["evaluate", "--video", str(clip), "--restored", str(named), "--output", str(folder)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert named.read_bytes() == b"a restoration named like the summary"
    assert clip.read_bytes() == b"not decoded: refused first"


def test_an_output_that_cannot_be_written_fails_before_any_scoring(tmp_path, capsys, monkeypatch):
    import facedeblur.eval.runner

    def never(*args, **kwargs):
        raise AssertionError("scored although the output cannot be written")

    monkeypatch.setattr(facedeblur.eval.runner, "evaluate_method", never)
    pairs = _make_pairs(tmp_path / "pairs")
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder would be made")
    base = ["evaluate", "-m", "blurred", "--pairs", str(pairs), "--metrics", "psnr", "-q"]
    for option in ("-o", "--save-images"):
        assert main([*base, option, str(blocker / "scores")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "a parent is not a folder" in err and str(blocker) in err
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded: refused first")
    assert main(["evaluate", "--video", str(clip), "--restored", str(clip), "-o", str(blocker / "v")]) == 1
    assert "a parent is not a folder" in capsys.readouterr().err


def test_a_broken_pair_is_reported_and_the_rest_scored(tmp_path, capsys):
    pairs = _make_pairs(tmp_path / "pairs")
    (pairs / "blurred" / "p1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code = main(
        ["evaluate", "-m", "blurred", "--pairs", str(pairs), "--metrics", "psnr", "-q", "-o", str(tmp_path / "o")]
    )
    assert code == 1
    assert "p1.png" in capsys.readouterr().err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["means"]["count"] == 2 and summary["failures"][0]["name"] == "p1"


def test_a_model_file_is_evaluated_and_timed(tmp_path):
    from facedeblur.eval.runner import evaluate_method, load_method, read_pairs
    from facedeblur.eval.speed import model_speed
    from facedeblur.models.hub import WeightsMetadata, save_weights
    from facedeblur.models.registry import build_model

    config = {"width": 8, "blocks": 3, "skip_every": 2}
    meta = WeightsMetadata("tiny", "chrysos", config, SIZE, [[0.0, 0.0]] * 5, "none", "none", "cpu")
    save_weights(build_model("chrysos", **config), tmp_path / "tiny.safetensors", meta)
    method = load_method(str(tmp_path / "tiny.safetensors"))
    assert method.kind == "model" and method.face_size == SIZE
    result = evaluate_method(read_pairs(_make_pairs(tmp_path / "pairs")), method, ["psnr", "ssim"], keep_images=["p0"])
    assert len(result.rows) == 3 and math.isfinite(result.means["psnr"])
    assert result.images["p0"].shape == (SIZE, SIZE, 3)
    speed = model_speed(method.model, SIZE, cpu_batch=2, repeats=2, gpu=False)
    assert speed["params_m"] > 0 and speed["gflops"] > 0 and speed["cpu_throughput"] > 0
    # a parsing network is not a restoration model: refused by name with a clear message
    parsing = WeightsMetadata("parse", "parsenet", {}, SIZE, [[0.0, 0.0]] * 5, "none", "none", "cpu")
    save_weights(build_model("chrysos", **config), tmp_path / "parse.safetensors", parsing)
    from facedeblur.errors import UserError

    with pytest.raises(UserError, match="not a restoration model"):
        load_method(str(tmp_path / "parse.safetensors"))


def test_flop_count_of_a_convolution():
    import torch

    from facedeblur.eval.speed import count_flops, count_parameters

    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert count_parameters(conv) == 4 * 3 * 9 + 4
    assert count_flops(conv, 10) == 2 * 4 * 3 * 9 * 10 * 10
    # modules that derive their weight in forward (spectral norm, as in the GAN generators) are counted too
    normed = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Conv2d(3, 4, 3, padding=1)).eval()
    assert count_flops(normed, 10) == 2 * 4 * 3 * 9 * 10 * 10


def test_mspl_protocol_and_real_face_metrics(utkface_val, tmp_path):
    from facedeblur.eval.protocols import MsplConfig, make_protocol
    from facedeblur.eval.runner import evaluate_method, load_method, read_pairs

    config = MsplConfig(faces=2, kernel_sizes=(13, 27))
    record = make_protocol("mspl", utkface_val, tmp_path / "p", config)
    assert record["pairs"] == 4
    pairs = read_pairs(tmp_path / "p")
    assert {p.params["group"] for p in pairs} == {"k13", "k27"}
    for pair in pairs:
        kernel = np.load(pair.kernel)
        assert kernel.shape == (pair.params["kernel_size"],) * 2 and kernel.sum() == pytest.approx(1, abs=1e-4)
        assert read_image(pair.blurred).shape == (128, 128, 3)
    # same config: reused; another config: refused
    assert make_protocol("mspl", utkface_val, tmp_path / "p", config)["pairs"] == 4
    from facedeblur.errors import UserError

    with pytest.raises(UserError, match="another config"):
        make_protocol("mspl", utkface_val, tmp_path / "p", MsplConfig(faces=3))
    result = evaluate_method(pairs, load_method("wiener"))
    means = result.means
    assert all(math.isfinite(means[m]) for m in ("psnr", "niqe", "id_cos", "id_l2", "lmk_nme", "fid_id"))
    assert means["lmk_nme"] < 0.2 and means["id_l2"] < 0.6


def test_blind_and_frames_protocols(utkface_val, videos_dir, tmp_path):
    from facedeblur.eval.protocols import BlindConfig, FramesConfig, make_protocol
    from facedeblur.eval.runner import read_pairs

    record = make_protocol("blind", utkface_val, tmp_path / "blind", BlindConfig(faces=2))
    pairs = read_pairs(tmp_path / "blind")
    assert record["pairs"] == 2 and all(p.kernel is None and p.params["recipe"] == "restore" for p in pairs)
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "d12.mp4").symlink_to(videos_dir / "d12.mp4")
    config = FramesConfig(windows=(7,), pairs_per_window=1, max_frames=40, stride=8)
    record = make_protocol("frames", videos, tmp_path / "frames", config)
    assert record["pairs"] == 1
    (pair,) = read_pairs(tmp_path / "frames")
    assert pair.params["frames"] == 7 and pair.params["group"] == "n7"
    assert read_image(pair.gt).shape == (128, 128, 3)


def test_benchmark_writes_every_report_file(utkface_val, tmp_path, capsys):
    out = tmp_path / "bench"
    args = [
        "benchmark",
        "--protocol",
        "mspl",
        "--source",
        str(utkface_val),
        "--set",
        "faces=2",
        "--set",
        "kernel_sizes=[13, 15]",
        "--models",
        "blurred",
        "wiener",
        "--metrics",
        "fast",
        "--grid-faces",
        "2",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    for name in (
        "results.md",
        "summary.csv",
        "per_image.csv",
        "by_group.csv",
        "speed.csv",
        "results.json",
        "psnr_by_group.png",
        "psnr_by_model.png",
        "grid.png",
    ):
        assert (out / name).is_file(), name
    summary = _read_csv(out / "summary.csv")
    assert [r["method"] for r in summary] == ["blurred", "wiener"]
    assert float(summary[1]["psnr"]) > float(summary[0]["psnr"])
    assert len(_read_csv(out / "per_image.csv")) == 8
    by_group = _read_csv(out / "by_group.csv")
    assert list(by_group[0]) == ["method", "k13", "k15"]
    md = (out / "results.md").read_text()
    assert "| blurred |" in md and "![grid.png](grid.png)" in md
    grid = read_image(out / "grid.png")
    assert grid.shape[0] == 22 + 2 * (128 + 4) and grid.shape[1] == 3 * (128 + 4)  # input | wiener | gt
    # a second run reuses the cached scores and writes the same summary
    assert (out / "cache" / "wiener.json").is_file()
    before = (out / "summary.csv").read_text()
    assert main(args) == 0
    assert (out / "summary.csv").read_text() == before
    assert main([*args[:-2], "--set", "faces=3", "-o", str(out)]) == 2  # pairs of another config are refused


def test_mild_protocol_is_near_sharp_reproducible_and_benchmarks_through_the_cli(utkface_val, tmp_path):
    from facedeblur.cli import main
    from facedeblur.eval.protocols import MildConfig, make_protocol
    from facedeblur.eval.runner import read_pairs

    record = make_protocol("mild", utkface_val, tmp_path / "a", MildConfig(faces=3))
    make_protocol("mild", utkface_val, tmp_path / "b", MildConfig(faces=3))
    pairs = read_pairs(tmp_path / "a")
    assert record["pairs"] == 3 and sorted(p.params["group"] for p in pairs) == ["gauss", "motion", "none"]
    for pair, twin in zip(pairs, read_pairs(tmp_path / "b"), strict=True):
        blurred, gt = read_image(pair.blurred).astype(float), read_image(pair.gt).astype(float)
        assert np.array_equal(blurred, read_image(twin.blurred))  # seeded
        psnr = 10 * np.log10(255.0**2 / np.mean((blurred - gt) ** 2))
        assert 30 < psnr < 50, (pair.params, psnr)  # near sharp, never identical
    with pytest.raises(ValueError, match="motion_length"):
        MildConfig(motion_length=(5.0, 2.0))
    out = tmp_path / "bench"
    code = main(
        ["benchmark", "-p", "mild", "--source", str(utkface_val), "--set", "faces=3", "--models", "blurred"]
        + ["--metrics", "fast", "--no-speed", "-o", str(out), "--quiet"]
    )
    report = (out / "results.md").read_text(encoding="utf-8")
    assert code == 0 and "PSNR (dB) by blur" in report and "| gauss | motion | none |" in report
