"""Report files: markdown tables, CSV, plots and comparison grids are written and well formed."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image

from facedeblur.eval import report
from facedeblur.eval.runner import group_means, summarise


def test_markdown_table_is_well_formed():
    rows = [{"method": "blurred", "psnr": 23.456, "ssim": 0.7}, {"method": "x", "psnr": math.nan}]
    table = report.markdown_table(rows, ["method", "psnr", "ssim"])
    lines = table.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("|") and line.endswith("|") and line.count("|") == 4 for line in lines)
    assert lines[1] == "|---|---|---|"
    assert "| blurred | 23.46 | 0.7000 |" in lines
    assert "| x | n/a | n/a |" in lines


def test_csv_round_trip(tmp_path):
    rows = [{"method": "a", "psnr": 20.5, "ssim": math.nan}, {"method": "b", "psnr": 21.0}]
    path = tmp_path / "s.csv"
    report.write_csv(path, rows, ["method", "psnr", "ssim"])
    with open(path, newline="") as fh:
        read = list(csv.DictReader(fh))
    assert read == [{"method": "a", "psnr": "20.5", "ssim": ""}, {"method": "b", "psnr": "21.0", "ssim": ""}]


def test_plots_are_png_files(tmp_path):
    series = {"blurred": {"k13": 25.0, "k27": 22.0}, "model": {"k13": 28.0, "k27": 26.0}}
    report.plot_by_group(series, tmp_path / "g.png")
    report.plot_by_method({"blurred": 23.0, "model": 27.5}, tmp_path / "m.png")
    for name in ("g.png", "m.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 100


def test_comparison_grid_layout(tmp_path):
    face = np.full((16, 16, 3), 0.5, np.float32)
    grid = report.comparison_grid([[face, None, face], [face, face, face]], ["in", "m", "gt"], tmp_path / "x.png")
    assert grid.shape == (22 + 2 * (16 + 4), 3 * (16 + 4), 3)
    with Image.open(tmp_path / "x.png") as im:
        assert im.size == (grid.shape[1], grid.shape[0])
    with pytest.raises(ValueError, match="one per label"):
        report.comparison_grid([[face]], ["a", "b"], tmp_path / "y.png")


def test_summaries_skip_missing_values():
    rows = [
        {"group": "k13", "psnr": 20.0, "lmk_nme": math.nan},
        {"group": "k27", "psnr": 22.0, "lmk_nme": 0.1},
        {"group": "k13", "psnr": 24.0, "lmk_nme": 0.3},
    ]
    means = summarise(rows, ["psnr", "lmk_nme"])
    assert means == {"count": 3.0, "psnr": 22.0, "lmk_nme": pytest.approx(0.2)}
    assert group_means(rows, "psnr") == {"k13": 22.0, "k27": 22.0}
    assert list(group_means([{"group": "n11", "psnr": 1.0}, {"group": "n7", "psnr": 2.0}], "psnr")) == ["n7", "n11"]


def test_reference_cache_round_trip(tmp_path):
    from facedeblur.eval.runner import ReferenceCache

    cache = ReferenceCache()
    cache.descriptors["a"] = np.arange(128, dtype=np.float32)
    cache.landmarks["a"] = ((1.0, 2.0, 30.0, 40.0), np.ones((68, 2), np.float32))
    cache.landmarks["b"] = None
    cache.save(tmp_path / "r.json", "k1")
    again = ReferenceCache.load(tmp_path / "r.json", "k1")
    assert np.array_equal(again.descriptors["a"], cache.descriptors["a"])
    assert again.landmarks["a"][0] == (1.0, 2.0, 30.0, 40.0) and again.landmarks["b"] is None
    assert ReferenceCache.load(tmp_path / "r.json", "other").descriptors == {}
    assert ReferenceCache.load(tmp_path / "missing.json", "k1").landmarks == {}
