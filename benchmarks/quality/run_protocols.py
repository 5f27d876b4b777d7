"""Reproduce the benchmark tables: the public protocols (MSPL-like, frames, blind, mild) on the baselines and models.

For each protocol this runs ``facedeblur benchmark`` (pairs made once under ``--work``, scores cached per
method there), copies the small report files to ``benchmarks/results/<protocol>/``, the MSPL-like comparison
grid to ``docs/images/benchmark_grid_mspl.png``, and assembles ``benchmarks/results/tables.md``; with
``--update-docs`` (alias ``--update-readme``) that text replaces the ``benchmarks`` block of docs/benchmarks.md
(between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->``) and the README's headline table
(the ``benchmarks-summary`` block) is rebuilt from ``benchmarks/results/<protocol>/results.json``.
``--docs-only`` (alias ``--readme-only``) does both from the committed results without running anything.

Default sizes fit a 2-core CPU in well under an hour: MSPL-like 40 faces x 8 kernel sizes x 1 kernel
(320 pairs), frames 5 videos x windows 7/9/11 x up to 6 windows, blind 60 faces, mild 90 faces. Full MSPL size:
``--mspl faces=80 --mspl kernels_per_size=10`` (6,400 pairs).

Usage:
    python benchmarks/quality/run_protocols.py --shared-data ../shared/data --update-readme
    python benchmarks/quality/run_protocols.py --readme-only      # docs and README from the committed results
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from _markers import DOCS, README, update_file  # noqa: E402  (shared with video_quality.py)

TITLES = {
    "mspl": "MSPL-like (camera shake 13..27 px + noise 4/255, non-blind baselines get the true kernel)",
    "frames": "Frame averaging (real motion blur: 7, 9, 11 video frames averaged, middle frame is the truth)",
    "blind": "Blind restoration (`restore` recipe: blur, downsampling, noise, JPEG)",
    "mild": "Near-sharp faces (no blur, Gaussian 0.4-1 px or motion 2-5 px, JPEG 90-95): what must not be damaged",
}
DEFAULT_SETTINGS = {"mspl": [], "frames": [], "blind": ["faces=60"], "mild": []}
SUMMARY_LABELS = {
    "mspl": "MSPL-like (camera shake 13-27 px + noise)",
    "frames": "frame averaging (real motion, 7-11 frames)",
    "blind": "blind (`restore` recipe: blur, downsampling, noise, JPEG)",
    "mild": "near-sharp faces (what must not be damaged)",
}
BASELINES = ("blurred", "wiener", "richardson-lucy")  # the input and the non-blind oracles


def main(argv: list[str] | None = None) -> int:
    from facedeblur.cli import main as cli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "benchmarks", help="pairs and full reports")
    parser.add_argument("--protocols", nargs="+", default=["mspl", "frames", "blind", "mild"])
    parser.add_argument("--models", nargs="+", help="default: baselines + every bundled model")
    for name in ("mspl", "frames", "blind", "mild"):
        parser.add_argument(f"--{name}", action="append", default=None, metavar="KEY=VALUE", help=f"{name} setting")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--update-docs",
        "--update-readme",
        dest="update_docs",
        action="store_true",
        help="write the tables into docs/benchmarks.md and the headline table into README.md",
    )
    parser.add_argument(
        "--docs-only",
        "--readme-only",
        dest="docs_only",
        action="store_true",
        help="run nothing: copy benchmarks/results/tables.md into docs/benchmarks.md and rebuild README.md's "
        "headline table from benchmarks/results/<protocol>/results.json",
    )
    args = parser.parse_args(argv)

    results = REPO / "benchmarks" / "results"
    if args.docs_only:
        return update_docs((results / "tables.md").read_text(encoding="utf-8"), results)
    sections = []
    for protocol in args.protocols:
        settings = getattr(args, protocol) if getattr(args, protocol) is not None else DEFAULT_SETTINGS[protocol]
        out = args.work / protocol
        source = args.shared_data / ("videos" if protocol == "frames" else "utkface/val")
        command = ["benchmark", "--protocol", protocol, "--source", str(source), "-o", str(out)]
        command += [x for s in settings for x in ("--set", s)]
        if args.device != "cpu":
            command += ["--device", args.device]
        if args.models:
            command += ["--models", *args.models]
        if protocol != "mspl":
            command += ["--no-speed"]  # speed does not depend on the protocol: measured once, on mspl
        start = time.time()
        code = cli(command)
        print(f"{protocol}: exit {code} in {time.time() - start:.0f} s", file=sys.stderr)
        if code not in (0, 1):
            return code
        keep = results / protocol
        if keep.is_dir():
            shutil.rmtree(keep)  # no stale files from an earlier run (e.g. a speed table no longer measured)
        keep.mkdir(parents=True)
        for name in ("results.md", "summary.csv", "by_group.csv", "speed.csv", "results.json", "per_image.csv"):
            if (out / name).is_file():
                shutil.copy2(out / name, keep / name)
        for name in ("psnr_by_group.png", "psnr_by_model.png", "grid.png"):
            if (out / name).is_file():
                shutil.copy2(out / name, keep / name)
        if protocol == "mspl" and (out / "grid.png").is_file():
            (REPO / "docs" / "images").mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / "grid.png", REPO / "docs" / "images" / "benchmark_grid_mspl.png")
        body = (out / "results.md").read_text(encoding="utf-8").split("\n", 2)[2]
        body = "\n".join(line for line in body.splitlines() if not line.startswith("!["))
        reproduce = " ".join(["facedeblur", *command[:5], "-o", f"runs/benchmarks/{protocol}", *command[7:]])
        reproduce = reproduce.replace(str(args.shared_data), "../shared/data")
        sections.append(f"### {TITLES[protocol]}\n\n```bash\n{reproduce}\n```\n\n{body.strip()}\n")
    text = "\n".join(sections)
    (results / "tables.md").write_text(text, encoding="utf-8")
    print(text)
    return update_docs(text, results) if args.update_docs else 0


def update_docs(tables: str, results: Path, docs: Path = DOCS, readme: Path = README) -> int:
    """Write the protocol tables into docs/benchmarks.md and the headline table into README.md.

    Args:
        tables: the text of ``benchmarks/results/tables.md``.
        results: the folder holding ``<protocol>/results.json``.
        docs: the file with the ``benchmarks`` block.
        readme: the file with the ``benchmarks-summary`` block.

    Returns:
        0 when both were written, else the first failure's code (2: a block's markers are missing).
    """
    return update_file(docs, {"benchmarks": tables}) or update_file(readme, {"benchmarks-summary": summary(results)})


def summary(results: Path) -> str:
    """The README's headline table: PSNR of the input, ``default`` and the best other model, per protocol.

    Args:
        results: the folder holding ``<protocol>/results.json`` (protocols without one are left out).

    Returns:
        A markdown table, one row per protocol; the best other model leaves out the input and the oracles.

    Example:
        >>> summary(REPO / "benchmarks" / "results").splitlines()[0]
        '| protocol (PSNR, dB) | pairs | input | `default` | best other model |'
    """
    lines = ["| protocol (PSNR, dB) | pairs | input | `default` | best other model |", "|---|---:|---:|---:|---|"]
    for protocol, label in SUMMARY_LABELS.items():
        path = results / protocol / "results.json"
        if not path.is_file():
            continue
        rows = {row["method"]: row for row in json.loads(path.read_text(encoding="utf-8"))["summary"]}
        others = [row for name, row in rows.items() if name not in (*BASELINES, "default")]
        best = max(others, key=lambda row: row["psnr"])
        default = f"**{rows['default']['psnr']:.2f}**" if "default" in rows else "-"
        lines.append(
            f"| {label} | {int(rows['blurred']['count'])} | {rows['blurred']['psnr']:.2f} | {default} "
            f"| {best['psnr']:.2f} (`{best['method']}`) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
