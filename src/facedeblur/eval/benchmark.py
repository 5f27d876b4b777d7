"""One benchmark run: every method on one protocol's pairs, written as markdown, CSV, plots, grids and speed.

Files written to the output folder:

- ``results.md``: the summary table (means of every metric), PSNR per group (kernel size, window length or
  downsampling class), the speed table and links to the images;
- ``summary.csv``, ``per_image.csv``, ``by_group.csv``, ``speed.csv``; ``results.json`` (everything);
- ``psnr_by_group.png``, ``psnr_by_model.png``; ``grid.png`` (input | each method | ground truth).

Example:
    >>> default_methods([])
    ['blurred', 'wiener', 'richardson-lucy']
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger("facedeblur.eval")

REPORT_FILES = (
    "results.md",
    "summary.csv",
    "per_image.csv",
    "by_group.csv",
    "speed.csv",
    "results.json",
    "psnr_by_group.png",
    "psnr_by_model.png",
    "grid.png",
)
GROUP_AXIS = {"mspl": "kernel size (px)", "frames": "frames averaged", "blind": "downsampling factor", "mild": "blur"}


def default_methods(bundled: Sequence[str] | None = None) -> list[str]:
    """The baselines followed by every bundled restoration model (parsing networks excluded)."""
    from facedeblur.eval.runner import BASELINES

    if bundled is None:
        from facedeblur.models.hub import bundled_catalogue

        bundled = []
        for entry in bundled_catalogue():
            if entry.error:  # a broken bundled file must not stop the benchmark of the others
                LOGGER.warning("bundled model %s unreadable: %s", entry.name, entry.error)
            elif not entry.component:
                bundled.append(entry.name)
        bundled.sort()
    return [*BASELINES, *bundled]


@dataclass
class BenchmarkResult:
    """What a benchmark run measured (also written to ``results.json``)."""

    protocol: str
    pairs: int
    results: dict[str, Any] = field(default_factory=dict)  # method -> EvalResult
    speed: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def run_benchmark(
    pairs_dir: str | Path,
    out_dir: str | Path,
    methods: Sequence[str],
    protocol: str = "",
    metrics: Sequence[str] | None = None,
    speed: bool = True,
    grid_faces: int = 4,
    batch_size: int = 16,
    device: str = "cpu",
    progress: bool = False,
    reuse: bool = True,
) -> BenchmarkResult:
    """Evaluate ``methods`` on a pairs folder and write the report files to ``out_dir``.

    Args:
        pairs_dir: pairs folder (from :func:`facedeblur.eval.protocols.make_protocol` or any blurred/ + gt/).
        out_dir: report folder (created).
        methods: baseline names, bundled model names or weight paths.
        protocol: protocol name for titles and the group axis.
        metrics: metrics to compute; default all of :data:`facedeblur.eval.runner.METRICS`.
        speed: measure the speed table.
        grid_faces: faces in the comparison grid (0: no grid).
        batch_size: faces per model call.
        device: torch device for the models.
        progress: progress bars.
        reuse: take a method's scores from ``out_dir/cache/`` when the same pairs, method (same weights file)
            and metrics were scored before, so adding a model to a benchmark only evaluates that model.

    Returns:
        A :class:`BenchmarkResult`.
    """
    from facedeblur.eval import report
    from facedeblur.eval.runner import METRICS, ReferenceCache, evaluate_method, group_means, load_method, read_pairs
    from facedeblur.eval.speed import baseline_speed, model_speed
    from facedeblur.images import write_text_atomic

    metrics = list(METRICS if metrics is None else metrics)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = read_pairs(pairs_dir)
    for name in REPORT_FILES:  # a report holds only what this run wrote (no stale speed table or grid)
        (out / name).unlink(missing_ok=True)
    grid_names = _grid_names(pairs, grid_faces)
    bench = BenchmarkResult(protocol or "pairs", len(pairs))
    loaded = [load_method(m, device) for m in methods]  # fail on an unknown name before any long work
    pairs_key = _pairs_key(Path(pairs_dir), pairs)
    reference_file = out / "cache" / "reference.json"
    cache = ReferenceCache.load(reference_file, pairs_key) if reuse else ReferenceCache()
    has_kernels = any(p.kernel is not None for p in pairs)
    notes = []
    for method in loaded:
        if method.needs_kernel and not has_kernels:
            notes.append(f"{method.name} needs the true kernels, which this protocol does not have: not run.")
            continue
        key = {"pairs": pairs_key, "method": _method_key(method), "metrics": metrics}
        result = _cached_result(out, method.name, key) if reuse else None
        if result is None:
            result = evaluate_method(
                pairs,
                method,
                metrics,
                batch_size,
                keep_images=grid_names,
                cache=cache,
                progress=progress,
                command="benchmark",
            )
            _store_result(out, result, key)
            cache.save(reference_file, pairs_key)
        elif grid_names:  # scores come from the cache; restore only the grid faces again
            grid_pairs = [p for p in pairs if p.name in set(grid_names)]
            result.images = evaluate_method(
                grid_pairs, method, [], batch_size, keep_images=grid_names, command="benchmark"
            ).images
        bench.results[method.name] = result
        if result.failures:
            bench.failures[method.name] = result.failures
        if speed:
            size = method.face_size or 128
            if method.kind == "model":
                bench.speed[method.name] = model_speed(method.model, size)
            elif method.name != "blurred":
                bench.speed[method.name] = baseline_speed(method.restore, size)

    summary_rows = []
    for name, result in bench.results.items():
        row = {"method": name, **result.means}
        if result.skipped and not result.rows:
            row = {"method": name, "count": 0}
        summary_rows.append(row)
    summary_cols = ["method", *metrics, *(["fid_id"] if {"id_cos", "id_l2"} & set(metrics) else []), "count"]
    report.write_csv(out / "summary.csv", summary_rows, summary_cols)
    per_image = [{"method": n, **row} for n, r in bench.results.items() for row in r.rows]
    report.write_csv(out / "per_image.csv", per_image, ["method", "name", "group", *metrics])

    groups = {n: group_means(r.rows, "psnr") for n, r in bench.results.items() if r.rows and "psnr" in metrics}
    group_labels = [g for values in groups.values() for g in values]
    group_labels = list(dict.fromkeys(group_labels))
    by_group_rows = [{"method": n, **{g: v.get(g) for g in group_labels}} for n, v in groups.items()]
    report.write_csv(out / "by_group.csv", by_group_rows, ["method", *group_labels])
    files = ["results.md", "summary.csv", "per_image.csv", "by_group.csv"]
    if groups and any(group_labels) and len(group_labels) > 1:
        report.plot_by_group(groups, out / "psnr_by_group.png", "PSNR (dB)", GROUP_AXIS.get(protocol, "group"))
        files.append("psnr_by_group.png")
    if "psnr" in metrics:
        psnr_values = {n: r.means.get("psnr", math.nan) for n, r in bench.results.items() if r.rows}
        if psnr_values:
            report.plot_by_method(psnr_values, out / "psnr_by_model.png")
            files.append("psnr_by_model.png")
    if grid_names:
        _write_grid(pairs, grid_names, bench, out / "grid.png")
        files.append("grid.png")
    speed_rows = [{"method": n, **v} for n, v in bench.speed.items()]
    speed_cols = ["method", "params_m", "gflops", "cpu_latency_ms", "cpu_throughput"]
    if any("gpu_latency_ms" in v for v in bench.speed.values()):
        speed_cols += ["gpu_latency_ms", "gpu_throughput"]
    if speed_rows:
        report.write_csv(out / "speed.csv", speed_rows, speed_cols)
        files.append("speed.csv")

    md = [f"# Benchmark: {bench.protocol} ({len(pairs)} pairs from `{_display_path(pairs_dir)}`)", ""]
    md += [report.markdown_table(summary_rows, summary_cols), ""]
    if by_group_rows and len(group_labels) > 1:
        headers = {g: g for g in group_labels}
        md += [f"PSNR (dB) by {GROUP_AXIS.get(protocol, 'group')}:", ""]
        md += [report.markdown_table(by_group_rows, ["method", *group_labels], headers), ""]
    if speed_rows:
        md += [
            "Speed (128 px faces; wall-clock medians, float32; baselines are numpy, one face at a time):",
            "",
            report.markdown_table(speed_rows, speed_cols),
            "",
        ]
    md += [f"{n}\n" for n in notes]
    skipped = {n: len(r.skipped) for n, r in bench.results.items() if r.skipped}
    if skipped:
        md += [f"Pairs skipped for lack of a true kernel: {skipped}.", ""]
    if bench.failures:
        md += [f"Pairs that failed: { {n: len(f) for n, f in bench.failures.items()} } (see results.json).", ""]
    md += [f"![{f}]({f})" for f in files if f.endswith(".png")]
    write_text_atomic(out / "results.md", "\n".join(md) + "\n")
    record = {
        "protocol": bench.protocol,
        "pairs": len(pairs),
        "pairs_dir": _display_path(pairs_dir),
        "metrics": metrics,
        "summary": summary_rows,
        "by_group": by_group_rows,
        "speed": speed_rows,
        "failures": {n: [list(x) for x in f] for n, f in bench.failures.items()},
    }
    write_text_atomic(out / "results.json", json.dumps(record, indent=2, default=_json_default) + "\n")
    files.append("results.json")
    bench.files = files
    return bench


def _pairs_key(pairs_dir: Path, pairs) -> str:
    import hashlib

    record = pairs_dir / "protocol.json"
    text = record.read_text(encoding="utf-8") if record.is_file() else ""
    names = "\n".join(p.name for p in pairs)
    return hashlib.sha256((text + names).encode("utf-8")).hexdigest()[:16]


def _method_key(method) -> str:
    """Baselines by name and default parameters; models by weights file name, size and modification time."""
    from facedeblur.eval import classical

    if method.kind == "baseline":
        return f"{method.name}:nsr={classical.DEFAULT_WIENER_NSR}:rl={classical.DEFAULT_RL_ITERATIONS}"
    return str(method.source)


def _cache_file(out: Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return out / "cache" / f"{safe}.json"


def _cached_result(out: Path, name: str, key: dict):
    from facedeblur.eval.runner import EvalResult

    path = _cache_file(out, name)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("key") != key:
        return None
    nan = float("nan")
    rows = [{k: (nan if v is None else v) for k, v in row.items()} for row in data["rows"]]
    means = {k: (nan if v is None else v) for k, v in data["means"].items()}
    failures = [tuple(f) for f in data["failures"]]
    return EvalResult(name, rows, means, failures, list(data["skipped"]))


def _store_result(out: Path, result, key: dict) -> None:
    from facedeblur.images import write_text_atomic

    def clean(d: dict) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

    data = {
        "key": key,
        "rows": [clean(r) for r in result.rows],
        "means": clean(result.means),
        "failures": [list(f) for f in result.failures],
        "skipped": result.skipped,
    }
    write_text_atomic(_cache_file(out, result.method), json.dumps(data) + "\n")


def _display_path(path: str | Path) -> str:
    """``path`` relative to the working folder when inside it (reports do not leak absolute paths)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value)


def _grid_names(pairs, count: int) -> list[str]:
    """Names spread over the pairs, preferring distinct groups (e.g. one per kernel size)."""
    if count <= 0 or not pairs:
        return []
    by_group: dict[str, list[str]] = {}
    for p in pairs:
        by_group.setdefault(str(p.params.get("group", "")), []).append(p.name)
    groups = list(by_group)
    chosen: list[str] = []
    step = max(1, len(groups) // count)
    for i in range(0, len(groups), step):
        members = by_group[groups[i]]
        chosen.append(members[(len(chosen) * 7) % len(members)])
        if len(chosen) == count:
            break
    rest = [p.name for p in pairs if p.name not in chosen]
    while len(chosen) < count and rest:
        chosen.append(rest.pop(len(rest) // 2))
    return chosen


def _write_grid(pairs, names: list[str], bench: BenchmarkResult, path: Path) -> None:
    from facedeblur.eval import report
    from facedeblur.eval.faces import load_face

    lookup = {p.name: p for p in pairs}
    methods = [n for n in bench.results if n != "blurred"]
    rows = []
    for name in names:
        pair = lookup[name]
        row = [load_face(pair.blurred, None)]
        row += [bench.results[m].images.get(name) for m in methods]
        row.append(load_face(pair.gt, None))
        rows.append(row)
    report.comparison_grid(rows, ["input", *methods, "ground truth"], path)
