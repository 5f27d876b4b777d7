"""End-of-session step of the default restorer's campaign: export the run's EMA weights, score them on the four
protocols against the bundled default, and bundle them as ``default`` only when they are better.

    python benchmarks/campaign/bundle_default.py runs/default-campaign-p2            # compare, bundle if better
    python benchmarks/campaign/bundle_default.py runs/default-campaign-p2 --force    # bundle regardless

"Better": a higher MSPL-like PSNR and no protocol (frames, blind, mild) more than ``--tolerance`` dB worse.
The protocols' pairs and settings are those of ``plot_campaign.py`` (and ``quality/run_protocols.py``).
Writes ``src/facedeblur/weights/default.safetensors`` (metadata metrics: MSPL-like PSNR/SSIM, every protocol's
PSNR gain over its input and the campaign's CPU-hours) and prints both models' figures. Optimizer states are
never bundled: a weights file holds the generator only.
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

from plot_campaign import PROTOCOLS, pairs_folder  # noqa: E402  (the curve's protocols and pairs)
from scoring import protocol_scores  # noqa: E402  (the curve's scoring)
from search_default import cli  # noqa: E402  (the same facedeblur CLI call)


def score(weights: Path, folders: dict[str, Path]) -> dict[str, float]:
    """PSNR gain over the input on every protocol, plus the MSPL-like PSNR/SSIM and its input's PSNR."""
    out: dict[str, float] = {}
    for protocol, folder in folders.items():
        mine, base = protocol_scores(weights, folder, ("psnr", "ssim") if protocol == "mspl" else ("psnr",))
        out[f"{protocol}_gain"] = round(mine["psnr"] - base["psnr"], 3)
        if protocol == "mspl":
            out.update(mspl_psnr=round(mine["psnr"], 3), mspl_ssim=round(mine["ssim"], 4))
            out["mspl_psnr_input"] = round(base["psnr"], 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the campaign's run folder")
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "campaign-curve", help="protocol pairs")
    parser.add_argument("--tolerance", type=float, default=0.1, help="dB a protocol other than MSPL may lose")
    parser.add_argument("--force", action="store_true", help="bundle even if it does not beat the bundled default")
    parser.add_argument(
        "--phase",
        type=int,
        help="the campaign phase to name in the notes (default: from the run's lineage; a run "
        "warm-restarted from weights does not know the phases before them)",
    )
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "last.ckpt"
        shutil.copy2(args.run / "checkpoints" / "last.ckpt", ckpt)  # the run may still be writing it
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        cpu_hours = float(state.get("cpu_minutes") or 0.0) / 60
        folders = {p: pairs_folder(p, args.work, args.shared_data) for p in PROTOCOLS}
        candidate = Path(tmp) / "candidate.safetensors"
        cli("export", str(ckpt), "-o", str(candidate), "--name", "default")
        new = score(candidate, folders)
        print(f"candidate (step {state['step']}, {cpu_hours:.2f} CPU-hours): {json.dumps(new)}")
        old = None
        if BUNDLED.is_file():
            previous = Path(tmp) / "previous.safetensors"
            shutil.copy2(BUNDLED, previous)
            old = score(previous, folders)
            print(f"bundled: {json.dumps(old)}")
        if old is not None and not args.force:
            worse = [p for p in PROTOCOLS if p != "mspl" and new[f"{p}_gain"] < old[f"{p}_gain"] - args.tolerance]
            if new["mspl_psnr"] <= old["mspl_psnr"] or worse:
                print(
                    f"the candidate is not better (MSPL-like or {', '.join(worse) or 'no'} protocol): nothing bundled"
                )
                return 0
        metrics = {**new, "cpu_hours": round(cpu_hours, 2), "steps": int(state["step"])}  # a warm restart reads both
        metrics_file = Path(tmp) / "metrics.json"
        metrics_file.write_text(json.dumps(metrics), encoding="utf-8")
        phases = args.phase or len(state.get("phases", [])) + 1
        notes = (
            f"default restorer (multi-scale U-Net), campaign step {state['step']} (phase {phases}), "
            f"{cpu_hours:.2f} CPU-hours on a 2-core CPU; docs/default-model-search.md"
        )
        cli(
            "export",
            str(ckpt),
            "-o",
            str(BUNDLED),
            "--name",
            "default",
            "--metrics",
            str(metrics_file),
            "--notes",
            notes,
        )
    print(f"bundled {BUNDLED.relative_to(REPO)} ({BUNDLED.stat().st_size / 1e6:.2f} MB): {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
