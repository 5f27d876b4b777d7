"""The default restorer's campaign curve: validation PSNR gain over the input vs CPU-hours, from a run's metrics.

python benchmarks/campaign/plot_campaign.py runs/default-campaign          # -> docs/images/default_campaign_curve.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "default_campaign_curve.png")
    args = parser.parse_args()

    from search_default import curve

    points = curve(args.run)
    for cpu, gain in points:
        print(f"{cpu / 60:.2f} CPU-h: {gain:+.2f} dB")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot([c / 60 for c, _ in points], [g for _, g in points], marker="o")
    ax.set_xlabel("CPU-hours of training (one thread)")
    ax.set_ylabel("validation PSNR gain over input (dB)")
    ax.set_title("Default restorer campaign (photo recipe, 100 val faces)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
