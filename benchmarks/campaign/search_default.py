"""The default restorer's architecture search: export each candidate run, score it on the MSPL-like protocol,
time it in reference units, and write the table and the training curves.

Each candidate is a run folder made by ``facedeblur train restorer --out RUNS/NAME --set ...``
with the same seed, data, recipe and ``engine.cpu_time_limit`` (equal CPU time, whatever else shared
the machine). This script:

1. exports ``RUNS/NAME/checkpoints/last.ckpt`` (EMA weights) to ``WORK/NAME.safetensors``;
2. runs ``facedeblur benchmark --protocol mspl`` on them with the blurred input and the Wiener oracle;
3. times ``Restorer.restore_aligned`` per face on one thread in reference units (``restore_units.py``);
4. writes ``benchmarks/results/default_search.json``, the markdown table, and the curves
   (validation PSNR gain vs CPU-minutes) to ``docs/images/default_search_curves.png``.

    python benchmarks/campaign/search_default.py --runs runs/search
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def curve(run: Path) -> list[tuple[float, float]]:
    """(CPU-minutes, validation PSNR gain over the input) at every validation of a run."""
    points, cpu = [], 0.0
    for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["event"] == "train":
            cpu = event.get("cpu_minutes", cpu)
        elif event["event"] == "val":
            points.append((cpu, event["psnr"] - event["psnr_input"]))
    return points


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "facedeblur.cli", *args], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="folder of candidate run folders")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "default-search")
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "default_search.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "default_search_curves.png")
    args = parser.parse_args()

    runs = sorted(p for p in args.runs.iterdir() if (p / "checkpoints" / "last.ckpt").is_file())
    if not runs:
        print(f"{args.runs}: no run folders with checkpoints/last.ckpt", file=sys.stderr)
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    weights = {}
    for run in runs:
        out = args.work / f"{run.name}.safetensors"
        cli("export", str(run / "checkpoints" / "last.ckpt"), "-o", str(out), "--name", run.name)
        weights[run.name] = out
    bench = args.work / "mspl"
    source = args.shared_data / "utkface" / "val"
    cli(
        "benchmark",
        "--protocol",
        "mspl",
        "--source",
        str(source),
        "-o",
        str(bench),
        "--no-speed",
        "--metrics",
        "psnr,ssim",
        "--models",
        "blurred",
        "wiener",
        *map(str, weights.values()),
    )
    scores = {row["method"]: row for row in json.loads((bench / "results.json").read_text(encoding="utf-8"))["summary"]}

    import torch

    from facedeblur.models.hub import read_metadata

    units_json = args.work / "units.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "speed" / "restore_units.py"),
            "--json",
            str(units_json),
            "--models",
            *map(str, weights.values()),
        ],
        check=True,
    )
    units = {Path(r["model"]).stem: r for r in json.loads(units_json.read_text(encoding="utf-8"))}
    rows = []
    for run in runs:
        meta = read_metadata(weights[run.name])
        state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
        score = next(v for k, v in scores.items() if Path(k).stem == run.name or k == run.name)
        rows.append(
            {
                "candidate": run.name,
                "architecture": meta.architecture,
                "parameters_m": sum(v.numel() for v in state["models"]["generator"].values()) / 1e6,
                "steps": state["step"],
                "images": state["step"] * state["recipe"]["engine"]["batch_size"],
                "cpu_minutes": state.get("cpu_minutes"),
                "mspl_psnr": score["psnr"],
                "mspl_ssim": score["ssim"],
                "units_per_face": units[run.name]["units"],
                "curve": curve(run),
            }
        )
    baseline = {k: scores[k] for k in ("blurred", "wiener") if k in scores}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"baselines": baseline, "candidates": rows}, indent=2), encoding="utf-8")

    print("| candidate | architecture | params (M) | images seen | CPU-min | MSPL PSNR | SSIM | units/face |")
    print("|---|---|---|---|---|---|---|---|")
    for name, b in baseline.items():
        print(f"| {name} | — | — | — | — | {b['psnr']:.2f} | {b['ssim']:.3f} | — |")
    for r in sorted(rows, key=lambda r: -r["mspl_psnr"]):
        print(
            f"| {r['candidate']} | {r['architecture']} | {r['parameters_m']:.2f} | {r['images']:,} | "
            f"{r['cpu_minutes']:.1f} | {r['mspl_psnr']:.2f} | {r['mspl_ssim']:.3f} | {r['units_per_face']:.2f} |"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for r in rows:
        if r["curve"]:
            xs, ys = zip(*r["curve"], strict=True)
            ax.plot(xs, ys, marker="o", label=r["candidate"])
    ax.set_xlabel("CPU-minutes of training (one thread)")
    ax.set_ylabel("validation PSNR gain over input (dB)")
    ax.set_title("Default restorer search: equal CPU time, same data and seed")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot)
    print(f"wrote {args.results.relative_to(REPO)} and {args.plot.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
