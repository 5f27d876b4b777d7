"""The default restorer's campaign curve: PSNR gain over the input on the four protocols vs CPU-hours.

Every snapshot (``benchmarks/campaign/snapshot.py``) is scored on the protocols' pairs (the same configs as
``benchmarks/quality/run_protocols.py``: MSPL-like 320 pairs, frames, blind 60 faces, mild 90 faces; PSNR only)
and the gains are plotted against the campaign's CPU-hours at the snapshot. Scores are cached per snapshot.
Points already in the results file whose snapshot is no longer in the folder (an earlier session's, whose run
folder did not survive) are kept as they were scored, with the phase starts recorded there.

    python benchmarks/campaign/plot_campaign.py runs/snapshots
    # -> benchmarks/results/campaign_curve.json, docs/images/default_campaign_curve.png
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import protocol_scores  # noqa: E402  (shared with bundle_default.py)

PROTOCOLS = {"mspl": [], "frames": [], "blind": ["faces=60"], "mild": []}


def pairs_folder(protocol: str, work: Path, shared_data: Path) -> Path:
    from facedeblur.eval.protocols import default_source, make_protocol, protocol_config

    out = work / protocol
    make_protocol(protocol, default_source(protocol, shared_data), out, protocol_config(protocol, PROTOCOLS[protocol]))
    return out


def gain(weights: Path, pairs_dir: Path) -> float:
    """Mean PSNR gain (dB) of a weights file over the blurred input on a pairs folder."""
    mine, blurred = protocol_scores(weights, pairs_dir)
    return mine["psnr"] - blurred["psnr"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshots", type=Path, help="folder of <run>-step<N>.safetensors + .json snapshots")
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "campaign-curve", help="pairs and score cache")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "campaign_curve.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "default_campaign_curve.png")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    cache_file = args.work / "scores.json"
    cache = json.loads(cache_file.read_text(encoding="utf-8")) if cache_file.is_file() else {}
    folders = {p: pairs_folder(p, args.work, args.shared_data) for p in PROTOCOLS}
    earlier = json.loads(args.results.read_text(encoding="utf-8")) if args.results.is_file() else {}
    present = {p.with_suffix(".safetensors").name for p in args.snapshots.glob("*.json")}
    kept = [p for p in earlier.get("points", []) if p["snapshot"] not in present]
    points = []
    phase_starts = set(earlier.get("phase_starts_cpu_hours", []))
    for record_path in sorted(args.snapshots.glob("*.json"), key=lambda p: int(re.findall(r"step(\d+)", p.stem)[-1])):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        phase_starts |= {round(ph["cpu_minutes"] / 60, 3) for ph in record.get("phases", [])}
        weights = record_path.with_suffix(".safetensors")
        scores = cache.setdefault(weights.name, {})
        for protocol, folder in folders.items():
            if protocol not in scores:
                scores[protocol] = round(gain(weights, folder), 3)
                cache_file.write_text(json.dumps(cache, indent=2) + "\n", encoding="utf-8")
        point = {"snapshot": weights.name, "step": record["step"], "cpu_hours": round(record["cpu_minutes"] / 60, 3)}
        points.append({**point, **{f"{p}_gain": scores[p] for p in PROTOCOLS}})
        print(
            f"{weights.name}: {point['cpu_hours']:.2f} CPU-h, "
            + ", ".join(f"{p} {scores[p]:+.2f} dB" for p in PROTOCOLS),
            flush=True,
        )
    points = sorted(kept + points, key=lambda p: p["cpu_hours"])
    phase_starts = sorted(phase_starts)
    results = {"protocol_settings": PROTOCOLS, "phase_starts_cpu_hours": phase_starts, "points": points}
    args.results.write_text(json.dumps(results, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=120)
    hours = [p["cpu_hours"] for p in points]
    for protocol in PROTOCOLS:
        ax.plot(hours, [p[f"{protocol}_gain"] for p in points], marker="o", label=protocol)
    for phase_start in phase_starts:
        ax.axvline(phase_start, color="grey", linestyle=":", linewidth=1)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("CPU-hours of training (one thread)")
    ax.set_ylabel("PSNR gain over the input (dB)")
    ax.set_title("Default restorer campaign (dotted: a new curriculum phase)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"wrote {args.plot} and {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
