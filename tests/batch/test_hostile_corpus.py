"""The hostile corpus as tests: every batch command over 60+ kinds of bad and odd inputs.

Each command runs once, through the real entry point (``python -m facedeblur.cli``), over the whole
corpus folder (:mod:`_corpus`). Asserted for every command: each bad file is named in exactly one
line, the run goes on for the good ones, no traceback and no "internal error", the exit code is
non-zero, no input changed (sha256), and outputs are faithful (depth, mode, ICC, EXIF, DPI).
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


# -- no command changed an input --------------------------------------------------------------------


def test_no_command_changed_any_input(corpus, restore_run, faces_run, degrade_run, curate_run, evaluate_run, mine_run):
    assert _hashes(corpus.root) == corpus.hashes
    for item in corpus.specials:
        assert os.path.lexists(item.path)
