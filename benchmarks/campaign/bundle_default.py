"""End-of-session step of the default restorer's campaign: export the run's EMA weights, score them on the
MSPL-like protocol against the bundled default, and bundle them as ``default`` only when they beat it.

    python benchmarks/campaign/bundle_default.py runs/default-campaign            # compare, bundle if better
    python benchmarks/campaign/bundle_default.py runs/default-campaign --force    # bundle regardless

Writes ``src/facedeblur/weights/default.safetensors`` (metadata metrics: MSPL-like PSNR/SSIM and the
campaign's CPU-hours) and prints both models' figures. Optimizer states are never bundled: a weights file
holds the generator only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "src" / "facedeblur" / "weights" / "default.safetensors"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_default import cli  # noqa: E402  (the same facedeblur CLI call)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the campaign's run folder")
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bundle-default")
    parser.add_argument("--force", action="store_true", help="bundle even if it does not beat the bundled default")
    args = parser.parse_args()

    import torch

    ckpt = args.run / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    cpu_hours = float(state.get("cpu_minutes") or 0.0) / 60
    args.work.mkdir(parents=True, exist_ok=True)
    candidate = args.work / "candidate.safetensors"
    cli("export", str(ckpt), "-o", str(candidate), "--name", "default")
    models = [str(candidate)]
    previous = args.work / "previous.safetensors"
    if BUNDLED.is_file():
        shutil.copy2(BUNDLED, previous)
        models.append(str(previous))
    bench = args.work / "mspl"
    cli(
        "benchmark",
        "--protocol",
        "mspl",
        "--source",
        str(args.shared_data / "utkface" / "val"),
        "-o",
        str(bench),
        "--no-speed",
        "--metrics",
        "psnr,ssim",
        "--models",
        "blurred",
        *models,
    )
    summary = {Path(r["method"]).stem: r for r in json.loads((bench / "results.json").read_text())["summary"]}
    new = summary["candidate"]
    old = summary.get("previous")
    print(
        f"candidate: MSPL-like {new['psnr']:.2f} dB / {new['ssim']:.3f} after {cpu_hours:.2f} CPU-hours, "
        f"step {state['step']}"
    )
    if old is not None:
        print(f"bundled:   MSPL-like {old['psnr']:.2f} dB / {old['ssim']:.3f}")
    if old is not None and new["psnr"] <= old["psnr"] and not args.force:
        print("the candidate does not beat the bundled default: nothing bundled")
        return 0
    metrics = {
        "mspl_psnr": round(new["psnr"], 3),
        "mspl_ssim": round(new["ssim"], 4),
        "mspl_psnr_input": round(summary["blurred"]["psnr"], 3),
        "cpu_hours": round(cpu_hours, 2),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(metrics, fh)
    notes = (
        f"default restorer (multi-scale U-Net), campaign step {state['step']}, {cpu_hours:.2f} CPU-hours on a "
        "2-core CPU; docs/default-model-search.md"
    )
    cli("export", str(ckpt), "-o", str(BUNDLED), "--name", "default", "--metrics", fh.name, "--notes", notes)
    Path(fh.name).unlink()
    print(f"bundled {BUNDLED.relative_to(REPO)} ({BUNDLED.stat().st_size / 1e6:.2f} MB): {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
