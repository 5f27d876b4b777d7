"""Reproduce the README's benchmark tables: the three public protocols on the baselines and bundled models.

For each protocol this runs ``facedeblur benchmark`` (pairs made once under ``--work``, scores cached per
method there), copies the small report files to ``benchmarks/results/<protocol>/``, the MSPL-like comparison
grid to ``docs/images/benchmark_grid_mspl.png``, and assembles ``benchmarks/results/tables.md``; with
``--update-readme`` that text replaces the block between the ``<!-- benchmarks:begin -->`` and
``<!-- benchmarks:end -->`` markers of README.md.

Default sizes fit a 2-core CPU in well under an hour: MSPL-like 40 faces x 8 kernel sizes x 1 kernel
(320 pairs), frames 5 videos x windows 7/9/11 x up to 6 windows, blind 60 faces, mild 90 faces. Full MSPL size:
``--mspl faces=80 --mspl kernels_per_size=10`` (6,400 pairs).

Usage:
    python benchmarks/quality/run_protocols.py --shared-data ../shared/data --update-readme
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
TITLES = {
    "mspl": "MSPL-like (camera shake 13..27 px + noise 4/255, non-blind baselines get the true kernel)",
    "frames": "Frame averaging (real motion blur: 7, 9, 11 video frames averaged, middle frame is the truth)",
    "blind": "Blind restoration (`restore` recipe: blur, downsampling, noise, JPEG)",
    "mild": "Near-sharp faces (no blur, Gaussian 0.4-1 px or motion 2-5 px, JPEG 90-95): what must not be damaged",
}
DEFAULT_SETTINGS = {"mspl": [], "frames": [], "blind": ["faces=60"], "mild": []}


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
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument(
        "--readme-only", action="store_true", help="only copy benchmarks/results/tables.md into README.md"
    )
    args = parser.parse_args(argv)

    results = REPO / "benchmarks" / "results"
    if args.readme_only:
        return _update_readme((results / "tables.md").read_text(encoding="utf-8"))
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
    return _update_readme(text) if args.update_readme else 0


def _update_readme(text: str) -> int:
    readme = REPO / "README.md"
    content = readme.read_text(encoding="utf-8")
    if BEGIN not in content or END not in content:
        print(f"README.md has no {BEGIN} ... {END} block to update", file=sys.stderr)
        return 2
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
