"""Export a training run's last checkpoint (EMA weights) as a campaign snapshot, for the curve and bundling.

    python benchmarks/campaign/snapshot.py runs/default-campaign-p2 --out runs/snapshots
    while sleep 1200; do python benchmarks/campaign/snapshot.py RUN --out runs/snapshots; done   # every 20 min

Writes ``OUT/<run>-step<N>.safetensors`` and ``OUT/<run>-step<N>.json`` (step, CPU minutes of the whole
campaign lineage, the run's phases). The checkpoint is copied first, so a run writing it meanwhile is harmless.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder (holds checkpoints/last.ckpt)")
    parser.add_argument("--out", type=Path, required=True, help="snapshot folder")
    args = parser.parse_args()

    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "last.ckpt"
        shutil.copy2(args.run / "checkpoints" / "last.ckpt", ckpt)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        stem = f"{args.run.name}-step{state['step']}"
        weights = args.out / f"{stem}.safetensors"
        if not weights.is_file():
            cmd = [sys.executable, "-m", "facedeblur.cli", "export", str(ckpt), "-o", str(weights), "--name", "default"]
            subprocess.run(cmd, check=True)
    record = {
        "step": int(state["step"]),
        "cpu_minutes": float(state.get("cpu_minutes") or 0.0),
        "run": args.run.name,
        "phases": state.get("phases", []),
    }
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{weights}: step {record['step']}, {record['cpu_minutes'] / 60:.2f} CPU-hours")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
