"""benchmarks/_markers.py and the scripts that write generated blocks: run_protocols.py, video_quality.py.

The committed docs/benchmarks.md and README.md blocks must be what the scripts make of the committed results.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


markers = _load("_markers", REPO / "benchmarks" / "_markers.py")
run_protocols = _load("run_protocols", REPO / "benchmarks" / "quality" / "run_protocols.py")
video_quality = _load("video_quality", REPO / "benchmarks" / "quality" / "video_quality.py")

PAGE = "# Page\n\n<!-- a:begin -->\nold a\n<!-- a:end -->\n\ntext\n<!-- b:begin -->\nold b\n<!-- b:end -->\n"


def test_a_block_is_read_and_replaced_and_the_rest_kept():
    page = markers.replace_block(PAGE, "a", "new\nlines\n")
    assert markers.read_block(page, "a") == "new\nlines"
    assert markers.read_block(page, "b") == "old b"
    assert page.replace("new\nlines", "old a") == PAGE
    assert markers.replace_block(page, "a", "old a") == PAGE
    with pytest.raises(ValueError, match="no <!-- c:begin --> ... <!-- c:end --> block"):
        markers.replace_block(PAGE, "c", "x")
    with pytest.raises(ValueError):
        markers.read_block("<!-- a:begin -->\nno end", "a")


def test_update_file_writes_every_block_or_none(tmp_path: Path, capsys):
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    assert markers.update_file(page, {"a": "1", "c": "3"}) == 2
    assert page.read_text(encoding="utf-8") == PAGE
    assert "page.md has no <!-- c:begin -->" in capsys.readouterr().err
    assert markers.update_file(page, {"a": "1", "b": "2"}) == 0
    assert [markers.read_block(page.read_text(encoding="utf-8"), n) for n in "ab"] == ["1", "2"]


def _results(folder: Path, protocol: str, psnr: dict[str, float]) -> None:
    (folder / protocol).mkdir(parents=True)
    rows = [{"method": name, "count": 10.0, "psnr": value} for name, value in psnr.items()]
    (folder / protocol / "results.json").write_text(json.dumps({"summary": rows}), encoding="utf-8")


def test_the_summary_compares_default_with_the_best_other_model_not_the_oracles(tmp_path: Path):
    _results(tmp_path, "blind", {"blurred": 25.0, "wiener": 40.0, "default": 27.0, "chrysos": 26.0, "psfrgan": 26.5})
    table = run_protocols.summary(tmp_path).splitlines()
    assert len(table) == 3  # header, rule, the one protocol with results
    assert table[2].startswith("| blind (`restore` recipe")
    assert table[2].endswith("| 10 | 25.00 | **27.00** | 26.50 (`psfrgan`) |")


def test_update_docs_writes_the_docs_tables_and_the_readme_summary(tmp_path: Path):
    _results(tmp_path, "mspl", {"blurred": 24.0, "default": 27.0, "chrysos": 25.0})
    docs, readme = tmp_path / "docs.md", tmp_path / "README.md"
    docs.write_text("<!-- benchmarks:begin -->\n<!-- benchmarks:end -->\n", encoding="utf-8")
    readme.write_text("<!-- benchmarks-summary:begin -->\n<!-- benchmarks-summary:end -->\n", encoding="utf-8")
    assert run_protocols.update_docs("### tables", tmp_path, docs=docs, readme=readme) == 0
    assert markers.read_block(docs.read_text(encoding="utf-8"), "benchmarks") == "### tables"
    assert "| 24.00 | **27.00** | 25.00 (`chrysos`) |" in readme.read_text(encoding="utf-8")
    assert run_protocols.update_docs("x", tmp_path, docs=readme, readme=docs) == 2  # markers in the wrong file


def test_video_quality_update_readme_from_json_writes_both_files(tmp_path: Path, monkeypatch):
    docs, readme = tmp_path / "docs.md", tmp_path / "README.md"
    docs.write_text("a\n<!-- video-steady:begin -->\n<!-- video-steady:end -->\nb\n", encoding="utf-8")
    readme.write_text("<!-- video-steady-summary:begin -->\n<!-- video-steady-summary:end -->\n", encoding="utf-8")
    monkeypatch.setattr(video_quality, "DOCS", docs)
    monkeypatch.setattr(video_quality, "README", readme)
    figures = RESULTS / "video_quality.json"
    assert video_quality.main(["--from-json", str(figures), "--update-readme"]) == 0
    table = markers.read_block(docs.read_text(encoding="utf-8"), "video-steady")
    assert table.splitlines()[-1].startswith("| **mean** |") and len(table.splitlines()) == 2 + 5 + 1
    line = markers.read_block(readme.read_text(encoding="utf-8"), "video-steady-summary")
    assert line.startswith("Flicker on the 5 dev clips") and "\n" not in line


def test_the_committed_blocks_are_what_the_scripts_make_of_the_committed_results():
    docs = markers.DOCS.read_text(encoding="utf-8")
    readme = markers.README.read_text(encoding="utf-8")
    figures = json.loads((RESULTS / "video_quality.json").read_text(encoding="utf-8"))
    assert markers.read_block(docs, "benchmarks") == (RESULTS / "tables.md").read_text(encoding="utf-8").strip()
    assert markers.read_block(readme, "benchmarks-summary") == run_protocols.summary(RESULTS)
    assert markers.read_block(docs, "video-steady") == video_quality.steady_table(figures)
    assert markers.read_block(readme, "video-steady-summary") == video_quality.steady_summary(figures)


def test_docstring_examples():
    for module in (markers, run_protocols, video_quality):
        assert doctest.testmod(module).failed == 0, module.__name__
