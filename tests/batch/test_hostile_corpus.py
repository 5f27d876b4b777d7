"""The hostile corpus as tests: every batch command over 60+ kinds of bad and odd inputs.

Each command runs once, through the real entry point (``python -m facedeblur.cli``), over the whole
corpus folder (:mod:`_corpus`); ``restore --ray`` over a subset, the web demo's backend in process.
Asserted for every command: each bad file is named in exactly one line, the run goes on for the
good ones, no traceback and no "internal error", the exit code is non-zero, no input changed
(sha256), and outputs are faithful (depth, mode, ICC, EXIF, DPI; training pairs: 8-bit RGB of the
asked size, not black, one per good input).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _corpus import CRASH_WORDS, Corpus, Item, build_corpus, cli_env
from _restore_helpers import cached_val_faces, make_tiny_model
from conftest import SHARED_DATA
from facedeblur.images import read_image_with_info

pytestmark = pytest.mark.slow

LOSSY = (".jpg", ".jpeg", ".webp", ".bmp")  # 8-bit only
NO_METADATA = (".bmp",)  # BMP holds no ICC or EXIF
NO_DPI = (".webp",)


def cli(*args: str, timeout: int = 600) -> tuple[int, str]:
    """Run ``facedeblur ARGS`` in a fresh process; returns (exit code, stdout + stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "facedeblur.cli", *args],
        capture_output=True,
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    return proc.returncode, output


def shown(path: Path) -> str:
    """How ``path`` appears in the CLI's output (bytes that are not UTF-8 as ``\\udcXX`` escapes)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def lines_naming(output: str, path: Path) -> list[str]:
    return [line for line in output.splitlines() if shown(path) in line]


def assert_no_crash(output: str) -> None:
    for word in CRASH_WORDS:
        assert word not in output, output[-3000:]


def assert_each_named_once(output: str, items: list[Item]) -> None:
    wrong = {shown(item.path): len(lines_naming(output, item.path)) for item in items}
    wrong = {name: count for name, count in wrong.items() if count != 1}
    assert not wrong, f"bad files not named in exactly one line (name: lines): {wrong}\n{output[-3000:]}"


def _hashes(root: Path) -> dict[str, str]:
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# -- the corpus and the tiny model, built once ------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    face = None
    val = SHARED_DATA / "utkface" / "val"
    if val.is_dir():  # a real face makes restore and faces change pixels; without it they copy
        face = cached_val_faces(val, 1)[0]
    built = build_corpus(tmp_path_factory.mktemp("corpus"), face)
    built.hashes = _hashes(built.root)
    built.has_face = face is not None
    return built


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outputs")


def _bad(items: list[Item]) -> list[Item]:
    return [item for item in items if not item.good]


def _good(items: list[Item]) -> list[Item]:
    return [item for item in items if item.good]


def test_the_corpus_has_at_least_60_kinds(corpus):
    kinds = {item.kind for item in corpus.all_items()} | set(corpus.configs)
    assert corpus.kinds >= 60 and len(kinds) == corpus.kinds  # every entry a kind of its own
    assert len(_bad(corpus.images)) >= 15 and len(_good(corpus.images)) >= 35


# -- restore ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def restore_run(corpus, tiny_model, outputs):
    out = outputs / "restore"
    code, output = cli(
        "restore", str(corpus.root / "images"), str(corpus.root / "videos"), "-o", str(out),
        "--model", tiny_model, "--device", "cpu", "--detector", "hog", "--quiet", "--compare", "--save-faces",
    )  # fmt: skip
    report = json.loads((out / "restore-report.json").read_text())
    # keyed by the real path: photo.png and the link to it are one input (restored once)
    records = {os.path.realpath(record["input"]): record for record in report["files"]}
    return code, output, out, records


def test_restore_names_each_bad_file_once_and_goes_on(corpus, restore_run):
    code, output, _, records = restore_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.images) + _bad(corpus.videos) + corpus.specials)
    for item in _good(corpus.images) + _good(corpus.videos):
        assert records[os.path.realpath(item.path)]["status"] == "ok", records[os.path.realpath(item.path)]
    for item in _bad(corpus.images) + _bad(corpus.videos):
        assert records[os.path.realpath(item.path)]["status"] == "failed"


def _expected_dtype(src: np.ndarray, ext: str):
    return np.uint8 if ext in LOSSY else src.dtype


def assert_faithful(src_path: Path, out_path: Path, *, same_size: bool = True, crop: bool = False) -> None:
    """``out_path`` keeps ``src_path``'s size, mode and depth (as its format can) and its metadata."""
    src, src_info = read_image_with_info(src_path)
    out, out_info = read_image_with_info(out_path)
    ext = out_path.suffix.lower()
    if same_size:
        assert out.shape == src.shape, (src_path.name, out.shape, src.shape)
    else:
        assert out.shape[2] == src.shape[2], (src_path.name, out.shape, src.shape)
    expected = _expected_dtype(src, ext)
    if crop and src.dtype == np.float32:
        expected = np.uint16  # a float photo's PNG crop is 16-bit
    assert out.dtype == expected, (src_path.name, out.dtype, expected)
    if ext not in NO_METADATA:
        assert out_info.icc_profile == src_info.icc_profile, src_path.name
        if src_info.exif:
            from PIL import Image

            exif = Image.Exif()
            exif.load(out_info.exif)
            assert exif.get(0x010F) == "CorpusCam" and exif.get(0x0112, 1) == 1, src_path.name
    if ext not in NO_DPI and not crop and src_info.dpi:
        assert out_info.dpi == pytest.approx(src_info.dpi, abs=0.05), src_path.name


def test_restore_outputs_are_faithful(corpus, restore_run):
    _, _, out, records = restore_run
    for item in _good(corpus.images):
        record = records[os.path.realpath(item.path)]
        target = Path(record["output"])
        assert_faithful(item.path, target)
        if record["faces"] == 0 and target.suffix.lower() == item.path.suffix.lower():
            assert target.read_bytes() == item.path.read_bytes(), item.path.name  # unchanged: bit for bit
        src, src_info = read_image_with_info(item.path)
        compare = Path(record["compare"])
        side, side_info = read_image_with_info(compare)
        assert side.shape[2] == 3 and side.shape[0] == src.shape[0], compare.name  # 8-bit RGB, input | output
        if compare.suffix.lower() not in NO_METADATA:
            assert side_info.icc_profile == (src_info.icc_profile if src.shape[2] >= 3 else None), compare.name
            assert bool(side_info.exif) == bool(src_info.exif), compare.name
        for crop in record.get("face_files", []):
            crop_info = read_image_with_info(crop)[1]
            assert crop_info.icc_profile == (src_info.icc_profile if src.shape[2] >= 3 else None), crop
            assert bool(crop_info.exif) == bool(src_info.exif) and crop_info.dpi is None, crop
    if corpus.has_face:
        restored = [r for r in records.values() if r.get("faces")]
        assert len(restored) >= 25  # the photos with the face: the encoders really ran
    video = records[os.path.realpath(corpus.videos[0].path)]
    assert video["status"] == "ok" and video["frames"] == 6


def test_restore_into_a_read_only_folder_is_one_line(corpus, tiny_model, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: use the immutable flag
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(locked)]).returncode != 0:
            pytest.skip("cannot make a read-only folder here (root without chattr +i)")
    else:
        locked.chmod(0o555)
    try:
        code, output = cli(
            "restore", str(corpus.root / "images" / "photo.png"), "-o", str(locked),
            "--model", tiny_model, "--device", "cpu", "--quiet",
        )  # fmt: skip
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(locked)])
        locked.chmod(0o755)
    assert code != 0
    assert_no_crash(output)
    named = [line for line in output.splitlines() if str(locked) in line]
    assert named and any(w in output for w in ("permission denied", "not permitted", "read-only")), output


# -- faces ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces_run(corpus, outputs):
    out = outputs / "faces"
    code, output = cli("faces", str(corpus.root / "images"), "-o", str(out), "--detector", "hog", "--quiet")
    return code, output, out


def test_faces_goes_on_past_bad_files_without_a_crash(corpus, faces_run):
    code, output, _ = faces_run
    assert code == 1
    assert_no_crash(output)
    for item in _bad(corpus.images):
        assert lines_naming(output, item.path), item.path.name


def test_faces_names_each_bad_file_once(corpus, faces_run):
    assert_each_named_once(faces_run[1], _bad(corpus.images))


def test_faces_names_links_and_fifos(corpus, faces_run):
    assert_each_named_once(faces_run[1], corpus.specials)


def test_faces_crops_keep_depth_mode_and_metadata(corpus, faces_run):
    _, _, out = faces_run
    if not corpus.has_face:
        pytest.skip("no UTKFace face to place in the photos (shared data missing)")
    stems = [item.path.stem for item in _good(corpus.images)]
    checked = 0
    for item in _good(corpus.images):
        record_path = out / f"{item.path.stem}.json"
        if stems.count(item.path.stem) > 1 or not record_path.is_file():
            continue  # photo.jpg and photo.png share a crop name (the output-path policy's job)
        record = json.loads(record_path.read_text(encoding="utf-8", errors="surrogateescape"))
        for entry in record["faces"]:
            assert_faithful(item.path, out / entry["crop"], same_size=False, crop=True)
            checked += 1
    assert checked >= 20


# -- degrade, data curate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def degrade_run(corpus, outputs):
    out = outputs / "degrade"
    code, output = cli(
        "degrade", "images", str(corpus.root / "images"), "-o", str(out), "--size", "32", "--no-progress"
    )
    return code, output, out


def test_degrade_names_each_bad_file_once_and_goes_on(corpus, degrade_run):
    code, output, out = degrade_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.images))
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["written"] >= len({item.path.stem for item in _good(corpus.images)}) - 1


def test_degrade_names_links_and_fifos(corpus, degrade_run):
    assert_each_named_once(degrade_run[1], corpus.specials)


def test_degrade_writes_one_pair_per_good_image(corpus, degrade_run):
    report = json.loads((degrade_run[2] / "report.json").read_text())
    assert report["summary"]["written"] == len(_good(corpus.images)) + 1  # + the good link to photo.png


def assert_pair_images(folder: Path, name: str, shape: tuple[int, int, int]) -> None:
    """``blurred/NAME.png`` and ``gt/NAME.png``: 8-bit RGB training pairs of ``shape``, not black."""
    for side in ("blurred", "gt"):
        pixels = read_image_with_info(folder / side / f"{name}.png")[0]
        assert pixels.shape == shape and pixels.dtype == np.uint8, (side, name, pixels.shape, pixels.dtype)
        assert pixels.mean() > 8, (side, name, pixels.mean())  # not black


def test_degrade_pairs_are_right_sized_rgb_and_one_per_good_input(corpus, degrade_run):
    _, _, out = degrade_run
    records = json.loads((out / "report.json").read_text(errors="surrogateescape"))["files"]
    ok = {os.path.realpath(r["input"]): r for r in records if r["status"] == "ok"}
    good = [os.path.realpath(item.path) for item in _good(corpus.images)]
    assert set(good) <= set(ok) and len(ok) == len(good)  # the link shares photo.png's real path
    names = [r["pair"] for r in records if r["status"] == "ok"]
    assert len(set(names)) == len(names)  # photo.jpg and photo.png do not share a pair
    for name in names:
        assert_pair_images(out, name, (32, 32, 3))
    written = {p.relative_to(out / "gt").with_suffix("").as_posix() for p in (out / "gt").rglob("*.png")}
    assert written == set(names)


@pytest.fixture(scope="module")
def curate_run(corpus, outputs):
    report = outputs / "curate.json"
    code, output = cli("data", "curate", str(corpus.root / "images"), "--report", str(report), "--no-progress")
    return code, output, report


def test_curate_names_each_bad_file_once_and_scores_the_rest(corpus, curate_run):
    code, output, report = curate_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.images))
    assert f"{len(_good(corpus.images)) + 1} faces scored" in output  # + the good link to photo.png


def test_curate_names_links_and_fifos(corpus, curate_run):
    assert_each_named_once(curate_run[1], corpus.specials)


# -- evaluate ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluate_run(corpus, outputs, tiny_model):
    out = outputs / "evaluate"
    code, output = cli(
        "evaluate", "--pairs", str(corpus.root / "pairs"), "--model", tiny_model, "--metrics", "fast",
        "-o", str(out), "--save-images", str(outputs / "evaluate_images"), "--quiet",
    )  # fmt: skip
    return code, output, out


def test_evaluate_scores_good_pairs_and_names_each_bad_one_once(corpus, evaluate_run):
    code, output, out = evaluate_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.pairs))
    summary = json.loads((out / "summary.json").read_text(errors="surrogateescape"))
    assert "facedeblur" in json.dumps(summary) or summary  # written despite the failures
    scored = (out / "per_image.csv").read_text(errors="surrogateescape")
    for item in _good(corpus.pairs):
        assert item.path.stem in scored, item.path.name


# -- mine ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mine_run(corpus, outputs):
    code, output = cli("mine", str(corpus.root / "videos"), "-o", str(outputs / "mine"), "--quiet")
    return code, output


def test_mine_goes_on_past_bad_videos(corpus, mine_run):
    code, output = mine_run
    assert code == 1
    assert_no_crash(output)
    for item in _bad(corpus.videos):
        assert lines_naming(output, item.path), item.path.name


def test_mine_names_each_bad_video_once(corpus, mine_run):
    assert_each_named_once(mine_run[1], _bad(corpus.videos))


# -- bad configs and weights: one line, exit 2 -----------------------------------------------------


def test_bad_recipes_configs_and_weights_are_one_line_each(corpus, outputs, tmp_path):
    configs = corpus.configs
    recipe = tmp_path / "unknown.yaml"
    recipe.write_text("recipe: deblur\nnot_a_field: 3\n")
    cases = [
        (["train", str(configs["syntax"]), "--out", str(outputs / "train")], configs["syntax"], "not valid YAML"),
        (["train", str(configs["not_a_mapping"]), "--out", str(outputs / "train")], configs["not_a_mapping"], ""),
        (["degrade", "images", str(corpus.root / "images"), "-o", str(outputs / "d2"), "--recipe",
          str(configs["syntax"])], configs["syntax"], "not valid YAML"),
        (["degrade", "images", str(corpus.root / "images"), "-o", str(outputs / "d3"), "--recipe",
          str(configs["unknown_key"])], configs["unknown_key"], ""),
        (["degrade", "images", str(corpus.root / "images"), "-o", str(outputs / "d4"), "--recipe", str(recipe)],
         recipe, "unknown key"),
        (["export", str(configs["weights"]), "-o", str(outputs / "w.onnx")], configs["weights"], "safetensors"),
        (["export", str(configs["checkpoint"]), "-o", str(outputs / "c.safetensors"), "--format", "safetensors"],
         configs["checkpoint"], "checkpoint"),
    ]  # fmt: skip
    for args, named, words in cases:
        code, output = cli(*args)
        assert code == 2, (args, output)
        assert_no_crash(output)
        assert len(output.strip().splitlines()) == 1 and str(named.name) in output and words in output, output


# -- degrade video ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def degrade_video_run(corpus, outputs):
    out = outputs / "degrade_video"
    code, output = cli(
        "degrade", "video", str(corpus.root / "videos"), "-o", str(out), "--quiet",
        "--frames", "3", "--stride", "1", "--min-motion", "0", "--psnr-range", "0:100",  # the 6-frame clip gives pairs
    )  # fmt: skip
    return code, output, out


def test_degrade_video_names_each_bad_video_once_and_goes_on(corpus, degrade_video_run):
    code, output, out = degrade_video_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.videos))
    records = {r["input"]: r for r in json.loads((out / "report.json").read_text())["files"]}
    clip = records[str(corpus.videos[0].path)]
    assert clip["status"] == "ok" and clip["pairs"] == 4, clip
    for path in sorted((out / "gt").rglob("*.png")):
        assert_pair_images(out, path.relative_to(out / "gt").with_suffix("").as_posix(), (64, 64, 3))
    assert len(list((out / "gt").rglob("*.png"))) == 4


# -- data inspect, data parse-labels -------------------------------------------------------------------


@pytest.fixture(scope="module")
def inspect_runs(corpus):
    runs = {}
    for folder in ("images", "pairs"):
        code, output = cli("data", "inspect", str(corpus.root / folder), "--check")
        runs[folder] = code, output, json.loads(output[output.index("{") : output.rindex("}") + 1])
    return runs


def test_inspect_names_each_bad_image_link_and_fifo_once(corpus, inspect_runs):
    code, output, report = inspect_runs["images"]
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.images) + corpus.specials)
    assert report["bad"] == len(_bad(corpus.images) + corpus.specials)
    assert report["decoded"] == report["images"] - len(_bad(corpus.images)) == len(_good(corpus.images)) + 1  # + link


def test_inspect_of_pairs_names_each_bad_pair_once_and_goes_on(corpus, inspect_runs):
    code, output, report = inspect_runs["pairs"]
    assert code == 1
    assert_no_crash(output)
    bad = [item for item in _bad(corpus.pairs) if "8 x 8" not in item.kind]  # too small only for evaluate's SSIM
    assert_each_named_once(output, bad)
    assert report["kind"] == "pairs" and report["bad"] == len(bad)
    assert report["pairs"] == len(corpus.pairs) - 1  # all but the one without ground truth


@pytest.fixture(scope="module")
def parse_labels_run(corpus, outputs):
    out = outputs / "labels"
    code, output = cli("data", "parse-labels", str(corpus.root / "images"), "-o", str(out), "--size", "32", "--quiet")
    return code, output, out


def test_parse_labels_names_each_bad_file_once_and_labels_the_rest(corpus, parse_labels_run):
    code, output, out = parse_labels_run
    assert code == 1
    assert_no_crash(output)
    assert_each_named_once(output, _bad(corpus.images) + corpus.specials)
    report = json.loads((out / "parse_labels_report.json").read_text(errors="surrogateescape"))
    records = {r["input"]: r for r in report["files"]}
    stems = [item.path.stem for item in corpus.images]
    for item in _good(corpus.images):
        record = records[str(item.path)]
        if stems.count(item.path.stem) > 1:  # photo.jpg and photo.png: a label is found by the name
            assert record["status"] == "failed" and "rename one" in record["error"], record
            assert len(lines_naming(output, item.path)) == 1, item.path.name
            continue
        assert record["status"] == "ok", record
        if "label" in record:
            labels = read_image_with_info(record["label"])[0]
            assert labels.shape == (32, 32, 1) and labels.dtype == np.uint8 and labels.max() > 0, item.path.name
    if corpus.has_face:
        assert report["summary"]["labelled"] >= 20


# -- restore --ray (a local Ray instance), a subset -------------------------------------------------------

RAY_SUBSET = (
    "photo.jpg", "rgb16.png", "float.tif", "la.png", "rgba16.png", "strip_5000x1.png", "latin1_caf\udce9.png",
    "zero_byte.png", "truncated.jpg", "bomb_400mp.png", "bad_\udcff\udcfe.png", "dangling.png", "fifo.png",
)  # fmt: skip


@pytest.fixture(scope="module")
def ray_run(corpus, tiny_model, outputs):
    pytest.importorskip("ray")
    inputs = [corpus.root / "images" / name for name in RAY_SUBSET] + [item.path for item in corpus.videos[:3]]
    out = outputs / "ray"
    code, output = cli(
        "restore", *map(str, inputs), "-o", str(out), "--model", tiny_model, "--device", "cpu", "--detector", "hog",
        "--quiet", "--ray", "local",
    )  # fmt: skip
    report = json.loads((out / "restore-report.json").read_text(errors="surrogateescape"))
    return code, output, inputs, {os.path.realpath(r["input"]): r for r in report["files"]}


def test_restore_with_ray_names_each_bad_file_once_and_writes_faithful_outputs(corpus, ray_run):
    code, output, inputs, records = ray_run
    assert code == 1
    assert_no_crash(output)
    items = {os.path.realpath(item.path): item for item in corpus.all_items()}
    chosen = [items[os.path.realpath(path)] for path in inputs]
    assert_each_named_once(output, _bad(chosen))
    for item in _bad(chosen):
        if item not in corpus.specials:
            assert records[os.path.realpath(item.path)]["status"] == "failed"
    for item in _good(chosen):
        record = records[os.path.realpath(item.path)]
        assert record["status"] == "ok", record
        if item in corpus.images:
            assert_faithful(item.path, Path(record["output"]))
    if corpus.has_face:
        assert sum(1 for r in records.values() if r.get("faces")) >= 4


# -- the web demo's backend (in process, no browser) ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(corpus, tiny_model, tmp_path_factory):
    from facedeblur.serve.backend import DemoBackend

    backend = DemoBackend(model=tiny_model, device="cpu", work_dir=tmp_path_factory.mktemp("demo"))
    choice = backend.default_choice
    uploads = [item.path for item in corpus.images + corpus.specials]
    photos = backend.restore_photos(uploads, choice, 1.0)
    videos = [backend.restore_video(item.path, choice, 1.0) for item in corpus.videos]
    return uploads, photos, videos


def test_demo_gives_one_line_per_upload_and_faithful_downloads(corpus, demo_run):
    uploads, photos, videos = demo_run
    assert len(photos.outcomes) == len(uploads)
    assert_no_crash(photos.status + "".join(v.message for v in videos))
    items = corpus.images + corpus.specials
    for item, outcome in zip(items, photos.outcomes, strict=True):
        assert "\n" not in outcome.message and outcome.message.startswith(item.path.name + ":"), outcome.message
        assert outcome.message.count(item.path.name) == 1, outcome.message
        if not item.good:
            assert not outcome.ok and "no face found" not in outcome.message, outcome.message
        elif outcome.ok:
            assert_faithful(item.path, outcome.output)
        else:
            assert "no face found" in outcome.message, outcome.message  # read, nothing to restore
    if corpus.has_face:
        assert len(photos.restored) >= 25
    for item, outcome in zip(corpus.videos, videos, strict=True):
        assert "\n" not in outcome.message and outcome.message.startswith(item.path.name + ":"), outcome.message
        assert (outcome.output is not None) == item.good, outcome.message


# -- no command changed an input --------------------------------------------------------------------


def test_no_command_changed_any_input(corpus, restore_run, faces_run, degrade_run, curate_run, evaluate_run, mine_run):
    assert _hashes(corpus.root) == corpus.hashes


def test_no_further_command_changed_any_input(
    corpus, degrade_video_run, inspect_runs, parse_labels_run, ray_run, demo_run
):
    assert _hashes(corpus.root) == corpus.hashes
    for item in corpus.specials:
        assert os.path.lexists(item.path)
