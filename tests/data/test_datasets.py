import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from facedeblur.cli import main
from facedeblur.data.datasets import FaceFolder, PairedFolder, VideoPairs, load_scores
from facedeblur.errors import InputError, UserError
from facedeblur.images import write_image


def make_faces(folder, n=6, size=40, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = (rng.random((size // 4, size // 4, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
        write_image(folder / f"f{i:02d}.png", img)
    return folder


def collect(ds, workers):
    loader = DataLoader(ds, batch_size=2, shuffle=False, num_workers=workers)
    return torch.cat([b["lq"] for b in loader]), torch.cat([b["gt"] for b in loader])


def test_face_folder_samples_and_determinism_across_workers(tmp_path):
    root = make_faces(tmp_path / "faces")
    ds = FaceFolder(root, size=32, recipe="deblur", seed=5)
    item = ds[0]
    assert item["lq"].shape == item["gt"].shape == (3, 32, 32)
    assert item["lq"].dtype == torch.float32 and 0 <= item["lq"].min() and item["lq"].max() <= 1
    assert item["path"].endswith("f00.png") and item["index"] == 0
    lq0, gt0 = collect(ds, 0)
    lq2, gt2 = collect(ds, 2)
    torch.testing.assert_close(lq0, lq2, rtol=0, atol=0)
    torch.testing.assert_close(gt0, gt2, rtol=0, atol=0)
    # the same item does not depend on access order
    torch.testing.assert_close(ds[3]["lq"], lq0[3], rtol=0, atol=0)
    ds.set_epoch(1)
    lq_e1, _ = collect(ds, 0)
    assert not torch.equal(lq_e1, lq0)
    ds.set_epoch(0)
    torch.testing.assert_close(ds[3]["lq"], lq0[3], rtol=0, atol=0)
    other = FaceFolder(root, size=32, recipe="deblur", seed=6)
    assert not torch.equal(other[3]["lq"], lq0[3])


def test_face_folder_flips_and_no_recipe(tmp_path):
    root = make_faces(tmp_path / "faces", n=1)
    ds = FaceFolder(root, size=40, recipe=None, seed=0, flip=True)
    seen = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        sample = ds[0]
        assert "lq" not in sample
        seen.add(sample["gt"][:, :, 0].sum().item())
    assert len(seen) == 2  # original and mirrored
    assert len({FaceFolder(root, size=40, recipe=None, flip=False)[0]["gt"].sum().item()}) == 1


def test_face_folder_restore_recipe_grayscale_targets(tmp_path):
    root = make_faces(tmp_path / "faces", n=4)
    ds = FaceFolder(root, size=32, recipe="restore", seed=0)
    ds.recipe.grayscale_probability = 1.0
    sample = ds[1]
    assert torch.allclose(sample["gt"][0], sample["gt"][1]) and torch.allclose(sample["lq"][0], sample["lq"][2])


def _faces_with_a_blurry_one_curated(tmp_path):
    """Four sharp faces and a blurred copy of one, scored by `data curate --report` at 32 px: (folder, report)."""
    import cv2

    root = make_faces(tmp_path / "faces", n=4)
    img = cv2.imread(str(root / "f00.png"))
    cv2.imwrite(str(root / "blurry.png"), cv2.GaussianBlur(img, (0, 0), 3))
    report = tmp_path / "scores.json"
    assert main(["data", "curate", str(root), "--size", "32", "--report", str(report), "--no-progress"]) == 0
    return root, report


def test_face_folder_sharpness_filter(tmp_path):
    root, report = _faces_with_a_blurry_one_curated(tmp_path)
    data = json.loads(report.read_text())
    scores = load_scores(report, 32)
    assert data["size"] == 32 and scores == {r["input"]: r["scores"] for r in data["files"]} and len(scores) == 5
    for metric in ("laplacian", "crete"):
        blurry = scores[str(root / "blurry.png")][metric]
        sharp = min(v[metric] for k, v in scores.items() if "blurry" not in k)
        assert blurry < sharp
        threshold = (blurry + sharp) / 2
        computed = FaceFolder(root, size=32, min_sharpness=threshold, metric=metric)
        cached = FaceFolder(root, size=32, min_sharpness=threshold, metric=metric, scores=report)
        assert computed.files == cached.files and len(cached) == 4
        assert not any("blurry" in str(f) for f in cached.files)
    with pytest.raises(UserError, match="size"):
        FaceFolder(root, size=48, min_sharpness=1, scores=report)
    with pytest.raises(UserError, match="no image reaches"):
        FaceFolder(root, min_sharpness=1e9)


def test_load_scores_reads_earlier_and_interrupted_curate_reports(tmp_path):
    root, report = _faces_with_a_blurry_one_curated(tmp_path)
    scores = load_scores(report, 32)
    threshold = (scores[str(root / "blurry.png")]["laplacian"] + scores[str(root / "f00.png")]["laplacian"]) / 2
    expected = FaceFolder(root, size=32, min_sharpness=threshold, metric="laplacian").files
    assert len(expected) == 4

    earlier = tmp_path / "earlier.json"  # the layout curate wrote before the batch core's
    earlier.write_text(json.dumps({"command": "data curate", "size": 32, "scores": scores, "summary": {}}))
    assert load_scores(earlier, 32) == scores
    assert FaceFolder(root, size=32, min_sharpness=threshold, metric="laplacian", scores=earlier).files == expected

    data = json.loads(report.read_text())  # a killed run's report: two files scored, the rest scored on the fly
    data["files"], data["complete"] = data["files"][:2], False
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(data))
    assert len(load_scores(cut, 32)) == 2
    assert FaceFolder(root, size=32, min_sharpness=threshold, metric="laplacian", scores=cut).files == expected

    with pytest.raises(UserError, match="size 32, the dataset uses 64"):
        load_scores(report, 64)
    (tmp_path / "other.json").write_text(json.dumps({"summary": {}}))
    with pytest.raises(UserError, match="not a curate report"):
        load_scores(tmp_path / "other.json", 32)


def test_face_folder_bad_files(tmp_path):
    root = make_faces(tmp_path / "faces", n=2)
    (root / "f00.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match="f00.png"):
        FaceFolder(root, size=32)[0]
    ds = FaceFolder(root, size=32, skip_bad=True)
    assert ds[0]["path"].endswith("f01.png") and len(ds.skipped) == 1 and "f00.png" in ds.skipped[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        FaceFolder(tmp_path / "empty")


def test_paired_folder_reads_degrade_output(tmp_path):
    root = make_faces(tmp_path / "faces", n=3)
    out = tmp_path / "pairs"
    assert main(["degrade", "images", str(root), "-o", str(out), "--no-progress"]) == 0
    ds = PairedFolder(out)
    assert len(ds) == 3
    s = ds[2]
    assert s["lq"].shape == (3, 40, 40) and s["path"].endswith("f02.png")
    assert not torch.equal(s["lq"], s["gt"])
    cropped = PairedFolder(out, crop=16, seed=1)
    a, b = cropped[0], cropped[0]
    assert a["lq"].shape == (3, 16, 16) and torch.equal(a["lq"], b["lq"])
    assert PairedFolder(out, size=24)[0]["gt"].shape == (3, 24, 24)
    (out / "gt" / "f01.png").unlink()
    with pytest.raises(UserError, match="no ground truth"):
        PairedFolder(out)
    with pytest.raises(UserError, match="blurred/ and gt/"):
        PairedFolder(root)


def test_video_pairs_dataset(tmp_path):
    from facedeblur.video import write_video

    rng = np.random.default_rng(0)
    texture = (rng.random((8, 12, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    write_video(tmp_path / "clip.mp4", [np.roll(texture, 2 * i, axis=1) for i in range(20)], fps=25)
    out = tmp_path / "vp"
    cmd = ["degrade", "video", str(tmp_path / "clip.mp4"), "-o", str(out), "--frames", "3,5", "--stride", "3"]
    assert main([*cmd, "--psnr-range", "5:60", "--min-motion", "0.5", "--no-progress"]) == 0
    ds = VideoPairs(out, crop=16)
    assert len(ds) >= 4
    sample = ds[0]
    assert sample["lq"].shape == (3, 16, 16) and sample["video"] == "clip.mp4" and sample["frames"] in (3, 5)
    only5 = VideoPairs(out, min_frames=5)
    assert all(m["frames"] == 5 for m in only5.meta) and len(only5) < len(ds)
    records = json.loads((out / "report.json").read_text())["files"][0]["records"]
    assert sum(r["accepted"] for r in records) == len(ds)
