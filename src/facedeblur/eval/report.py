"""Benchmark reports: markdown tables, CSV files, PNG plots and comparison grids.

Example:
    >>> print(markdown_table([{"method": "blurred", "psnr": 23.4567}], ["method", "psnr"]))
    | Method | PSNR (dB) ↑ |
    |---|---|
    | blurred | 23.46 |
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.images import to_uint8

# column -> (header, decimals); arrows say which direction is better
COLUMNS: dict[str, tuple[str, int]] = {
    "method": ("Method", 0),
    "psnr": ("PSNR (dB) ↑", 2),
    "ssim": ("SSIM ↑", 4),
    "psnr_y": ("PSNR-Y (dB) ↑", 2),
    "ssim_y": ("SSIM-Y ↑", 4),
    "ms_ssim": ("MS-SSIM ↑", 4),
    "niqe": ("NIQE ↓", 3),
    "id_cos": ("ID cos ↓", 4),
    "id_l2": ("ID L2 ↓", 4),
    "lmk_nme": ("Landmark NME ↓", 4),
    "fid_id": ("FID-ID ↓", 4),
    "count": ("Images", 0),
    "params_m": ("Params (M)", 2),
    "gflops": ("GFLOPs / face", 2),
    "cpu_latency_ms": ("CPU latency (ms, batch 1)", 1),
    "cpu_throughput": ("CPU faces/s (batch 8)", 1),
    "gpu_latency_ms": ("GPU latency (ms, batch 1)", 2),
    "gpu_throughput": ("GPU faces/s (batch 32)", 0),
}


def _format(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    decimals = COLUMNS.get(key, (key, 2))[1]
    if decimals == 0:
        return str(int(round(float(value))))
    return f"{float(value):.{decimals}f}"


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Mapping[str, str] | None = None
) -> str:
    """A GitHub markdown table of ``rows`` (dicts) with the given column keys; missing values show ``n/a``.

    Args:
        rows: one dict per table row.
        columns: keys to show, in order; headers come from :data:`COLUMNS` unless ``headers`` names them.
        headers: optional header overrides.

    Returns:
        The table, lines joined by newlines (no trailing newline).
    """
    headers = dict(headers or {})
    head = [headers.get(c, COLUMNS.get(c, (c, 0))[0]) for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_format(c, row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write rows to a CSV file (atomically); floats are written with full precision, missing as empty."""
    from facedeblur.images import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        out = []
        for c in columns:
            v = row.get(c)
            out.append("" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v)
        writer.writerow(out)
    write_text_atomic(path, buffer.getvalue())


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: str | Path) -> None:
    from facedeblur.images import write_bytes_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


def plot_by_group(
    series: Mapping[str, Mapping[str, float]], path: str | Path, ylabel: str = "PSNR (dB)", xlabel: str = "kernel size"
) -> None:
    """Line plot of a metric per group (e.g. kernel size class) for each method.

    Args:
        series: method -> {group label: value}; groups are plotted in the order of the first method.
        path: PNG file to write.
        ylabel: y-axis label.
        xlabel: x-axis label.
    """
    plt = _figure()
    groups: list[str] = []
    for values in series.values():
        groups += [g for g in values if g not in groups]
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, values in series.items():
        ax.plot(range(len(groups)), [values.get(g, np.nan) for g in groups], marker="o", label=method)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_figure(fig, path)
    plt.close(fig)


def plot_by_method(values: Mapping[str, float], path: str | Path, ylabel: str = "PSNR (dB)") -> None:
    """Bar chart of one metric per method (value printed on each bar)."""
    plt = _figure()
    names = list(values)
    heights = [values[n] for n in names]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names)), 3.5))
    bars = ax.bar(range(len(names)), heights, color="tab:blue")
    finite = [h for h in heights if math.isfinite(h)]
    if finite:
        lo, hi = min(finite), max(finite)
        ax.set_ylim(lo - 0.15 * (hi - lo + 1), hi + 0.15 * (hi - lo + 1))
    for bar, h in zip(bars, heights, strict=True):
        if math.isfinite(h):
            ax.text(bar.get_x() + bar.get_width() / 2, h, f"{h:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    _save_figure(fig, path)
    plt.close(fig)


def comparison_grid(
    rows: Sequence[Sequence[np.ndarray | None]], labels: Sequence[str], path: str | Path, scale: int = 1
) -> np.ndarray:
    """Tile images into a labelled grid (one row per face: input | each method | ground truth) and save it.

    Args:
        rows: per face, one (H, W, 3) float RGB image in [0, 1] per column (None leaves the cell grey).
        labels: column titles, one per column.
        path: PNG file to write.
        scale: integer upscaling of every cell (nearest neighbour) so small faces stay visible.

    Returns:
        The grid as (H_total, W_total, 3) uint8.

    Shape:
        every image (H, W, 3) of the same size.
    """
    import cv2

    from facedeblur.images import write_image

    if not rows or any(len(r) != len(labels) for r in rows):
        raise ValueError(f"expected rows of {len(labels)} images each, one per label")
    sample = next((img for r in rows for img in r if img is not None), None)
    if sample is None:
        raise ValueError("no images to tile")
    h, w = sample.shape[0] * scale, sample.shape[1] * scale
    pad, header = 4, 22
    grid = np.full((header + len(rows) * (h + pad), len(labels) * (w + pad), 3), 255, np.uint8)
    for j, label in enumerate(labels):
        text = label if len(label) <= w // 8 else label[: max(1, w // 8 - 1)] + "."
        cv2.putText(grid, text, (j * (w + pad) + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y0, x0 = header + i * (h + pad), j * (w + pad)
            if img is None:
                grid[y0 : y0 + h, x0 : x0 + w] = 200
                continue
            cell = to_uint8(img)
            if scale != 1:
                cell = cv2.resize(cell, (w, h), interpolation=cv2.INTER_NEAREST)
            grid[y0 : y0 + h, x0 : x0 + w] = cell
    write_image(path, grid)
    return grid
