"""Regenerate every committed result in ``benchmarks/results/`` with one command.

Each entry of :data:`REGISTRY` is one script run with the exact options that produced its committed files
(read from the script's docstring, the README's "reproduce" lines and the settings the results record).
Entries run in the registry's order; the first failure stops the run with a message naming the entry and
its command (``--keep-going`` runs the rest and lists the failures at the end). Every command runs from
the repository root with this checkout's ``src/`` first on ``PYTHONPATH``.

    python benchmarks/regenerate.py --list                        # entries, what they write, rough CPU cost
    python benchmarks/regenerate.py --dry-run                     # the commands, nothing run
    python benchmarks/regenerate.py --only restore-units jpeg-background
    python benchmarks/regenerate.py --keep-going                  # everything (hours of CPU)
    python benchmarks/regenerate.py --check                       # every entry's options parse (seconds)

A result that is not covered by an entry, an entry naming a missing script, or options a script does not
accept fail ``tests/benchmarks/test_regenerate.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = "benchmarks/results"
SHARED_DATA = "../shared/data"
FACEDEBLUR = "facedeblur"  # a step starting with this runs the package's CLI instead of a script


@dataclass(frozen=True)
class Entry:
    """One regeneration step: a benchmark script, its options, and what it writes.

    Attributes:
        name: short name for ``--only`` (lowercase, dashes).
        command: the script (path from the repository root) and its options, as an argv.
        writes: files or folders under ``benchmarks/results/`` the command (re)writes.
        cpu_minutes: rough CPU cost on the 2-core development machine, in CPU-minutes.
        shared_data: whether it reads ``../shared/data`` (UTKFace faces, dev videos).
        also_writes: files outside ``benchmarks/results/`` it also rewrites (docs images, the generated blocks of
            docs/benchmarks.md and README.md).
        before: steps run first, e.g. ``("facedeblur", "data", "parse-labels", ...)`` making its inputs.
        requires: inputs that must exist beforehand and that no entry makes (training runs, snapshots).
        env: environment variables the figures depend on (e.g. ``OMP_NUM_THREADS=1`` for CPU-time figures).
        note: what to know before trusting a regenerated figure.
    """

    name: str
    command: tuple[str, ...]
    writes: tuple[str, ...]
    cpu_minutes: float
    shared_data: bool
    also_writes: tuple[str, ...] = ()
    before: tuple[tuple[str, ...], ...] = ()
    requires: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    note: str = field(default="", compare=False)

    @property
    def script(self) -> str:
        """The script the entry runs (path from the repository root)."""
        return self.command[0]

    def steps(self) -> tuple[tuple[str, ...], ...]:
        """Every argv the entry runs, preparatory steps first."""
        return (*self.before, self.command)


def _results(*names: str) -> tuple[str, ...]:
    return tuple(f"{RESULTS}/{name}" for name in names)


ONE_THREAD = (("OMP_NUM_THREADS", "1"),)


def _heldout_recall(
    name: str, seed: int, photos: int = 80, photos_4k: int = 40, photos_8k: int = 14, cpu_minutes: float = 4
) -> Entry:
    """A CenterFace recall check on held-out photos of one untouched seed (no dev-video frames); it writes
    ``face_recall_heldout_seedN.json``, or ``face_recall_heldout_8k_seedN.json`` when it has no 4k photos."""
    stem = f"face_recall_heldout_{'' if photos_4k else '8k_'}seed{seed}.json"
    return Entry(
        name,
        (
            "benchmarks/quality/face_recall.py",
            SHARED_DATA,
            "--detectors",
            "centerface",
            "--photo-set",
            "held-out",
            "--seed",
            str(seed),
            "--photos",
            str(photos),
            "--photos-4k",
            str(photos_4k),
            "--photos-8k",
            str(photos_8k),
            "--video-every",
            "0",
            "-o",
            f"{RESULTS}/{stem}",
        ),
        _results(stem),
        cpu_minutes,
        True,
        env=ONE_THREAD,
    )


REGISTRY: tuple[Entry, ...] = (
    # --- speed ---
    Entry(
        "degrade",
        (
            "benchmarks/speed/degrade.py",
            f"{SHARED_DATA}/utkface/val",
            "--pairs",
            "1000",
            "--bank",
            "-o",
            f"{RESULTS}/degrade.json",
        ),
        _results("degrade.json"),
        10,
        True,
    ),
    Entry(
        "onnx-vs-torch",
        (
            "benchmarks/speed/onnx_vs_torch.py",
            "--threads",
            "1",
            "--repeats",
            "10",
            "--json",
            f"{RESULTS}/onnx_vs_torch.json",
        ),
        _results("onnx_vs_torch.json"),
        5,
        False,
        note="every bundled model: the committed file predates the bundled default, which now adds rows",
    ),
    Entry(
        "precision-throughput",
        (
            "benchmarks/speed/precision_throughput.py",
            "--threads",
            "1",
            "--json",
            f"{RESULTS}/precision_throughput.json",
        ),
        _results("precision_throughput.json"),
        20,
        False,
        note="the committed file was measured on a CPU with native bf16; without it bf16 is emulated, slower",
    ),
    Entry(
        "restore-latency",
        (
            "benchmarks/speed/restore_latency.py",
            "--model",
            "chrysos",
            "--json",
            f"{RESULTS}/restore_latency_chrysos.json",
        ),
        _results("restore_latency_chrysos.json"),
        2,
        False,
    ),
    Entry(
        "restore-units",
        (
            "benchmarks/speed/restore_units.py",
            "--models",
            "default",
            "chrysos",
            "--json",
            f"{RESULTS}/restore_units.json",
        ),
        _results("restore_units.json"),
        2,
        False,
    ),
    Entry(
        "serve-load",
        (
            "benchmarks/speed/serve_load.py",
            "--requests",
            "300",
            "--clients",
            "8",
            "--model",
            "default",
            "--json",
            f"{RESULTS}/serve_load.json",
        ),
        _results("serve_load.json"),
        12,
        True,
        note="loopback only; the table of docs/benchmarks.md is the bundled default model at --concurrency 2",
    ),
    Entry(
        "train-throughput-crop64",
        (
            "benchmarks/speed/train_throughput.py",
            "--threads",
            "1",
            "--json",
            f"{RESULTS}/train_throughput_chrysos_crop64.json",
        ),
        _results("train_throughput_chrysos_crop64.json"),
        2,
        False,
    ),
    Entry(
        "train-throughput-128",
        (
            "benchmarks/speed/train_throughput.py",
            "--threads",
            "1",
            "--set",
            "options.crop=null",
            "--json",
            f"{RESULTS}/train_throughput_chrysos_128.json",
        ),
        _results("train_throughput_chrysos_128.json"),
        3,
        False,
    ),
    Entry(
        "train-throughput-128-2threads",
        (
            "benchmarks/speed/train_throughput.py",
            "--threads",
            "2",
            "--set",
            "options.crop=null",
            "--json",
            f"{RESULTS}/train_throughput_chrysos_128_2threads.json",
        ),
        _results("train_throughput_chrysos_128_2threads.json"),
        3,
        False,
    ),
    # --- quality ---
    Entry(
        "validate-all",
        (
            "benchmarks/quality/validate.py",
            "--models",
            "chrysos,dfpgnet,psfrgan",
            "--recipes",
            "deblur",
            "--limit",
            "500",
            "--json",
            f"{RESULTS}/validate_all.json",
        ),
        _results("validate_all.json"),
        12,
        True,
    ),
    Entry(
        "validate-dfpgnet",
        (
            "benchmarks/quality/validate.py",
            "--models",
            "chrysos,dfpgnet",
            "--recipes",
            "deblur",
            "--limit",
            "500",
            "--json",
            f"{RESULTS}/validate_dfpgnet.json",
        ),
        _results("validate_dfpgnet.json"),
        8,
        True,
    ),
    Entry(
        "chrysos-val",
        (
            "benchmarks/quality/validate.py",
            "--model",
            "chrysos",
            "--limit",
            "500",
            "--json",
            f"{RESULTS}/chrysos_val.json",
        ),
        _results("chrysos_val.json"),
        5,
        True,
    ),
    Entry(
        "psfrgan-validation",
        (
            "benchmarks/quality/validate.py",
            "--models",
            "psfrgan,parsenet",
            "--recipes",
            "deblur,restore",
            "--limit",
            "200",
            "--json",
            f"{RESULTS}/psfrgan_validation.json",
        ),
        _results("psfrgan_validation.json"),
        6,
        True,
    ),
    Entry(
        "face-recall",
        (
            "benchmarks/quality/face_recall.py",
            SHARED_DATA,
            "--detectors",
            "centerface",
            "hog",
            "--photos",
            "80",
            "-o",
            f"{RESULTS}/face_recall.json",
        ),
        _results("face_recall.json"),
        45,
        True,
        env=ONE_THREAD,
    ),
    Entry(
        "face-recall-heldout",
        (
            "benchmarks/quality/face_recall.py",
            SHARED_DATA,
            "--detectors",
            "centerface",
            "--photo-set",
            "held-out",
            "--photos",
            "80",
            "--video-every",
            "0",
            "-o",
            f"{RESULTS}/face_recall_heldout.json",
        ),
        _results("face_recall_heldout.json"),
        15,
        True,
        env=ONE_THREAD,
    ),
    _heldout_recall("face-recall-heldout-seed2", 2, photos_4k=40, photos_8k=40, cpu_minutes=10),
    _heldout_recall("face-recall-heldout-8k-seed1", 1, photos=20, photos_4k=0, cpu_minutes=2),
    _heldout_recall("face-recall-heldout-8k-seed3", 3, photos=20, photos_4k=0, cpu_minutes=2),
    _heldout_recall("face-recall-heldout-8k-seed4", 4, photos=20, photos_4k=0, cpu_minutes=2),
    _heldout_recall("face-recall-heldout-seed5", 5, photos=20, photos_4k=20, cpu_minutes=4),
    _heldout_recall("face-recall-heldout-seed6", 6, photos=20, photos_4k=20, cpu_minutes=4),
    Entry(
        "face-recall-int8",
        (
            "benchmarks/quality/face_recall.py",
            SHARED_DATA,
            "--detectors",
            "centerface",
            "--centerface-int8",
            "--photos",
            "80",
            "--photos-4k",
            "0",
            "--photos-8k",
            "0",
            "--video-every",
            "0",
            "-o",
            f"{RESULTS}/face_recall_int8.json",
        ),
        _results("face_recall_int8.json"),
        5,
        True,
        env=ONE_THREAD,
    ),
    Entry(
        "face-recall-cnn",
        (
            "benchmarks/quality/face_recall.py",
            SHARED_DATA,
            "--detectors",
            "cnn",
            "--photos",
            "4",
            "--photos-4k",
            "0",
            "--photos-8k",
            "0",
            "--video-every",
            "100",
            "-o",
            f"{RESULTS}/face_recall_cnn.json",
        ),
        _results("face_recall_cnn.json"),
        20,
        True,
        env=ONE_THREAD,
    ),
    Entry(
        "landmark-alignment",
        (
            "benchmarks/quality/landmark_alignment.py",
            f"{SHARED_DATA}/utkface/val",
            "--count",
            "300",
            "-o",
            f"{RESULTS}/landmark_alignment.json",
        ),
        _results("landmark_alignment.json"),
        4,
        True,
        env=ONE_THREAD,
    ),
    Entry(
        "jpeg-background",
        (
            "benchmarks/quality/jpeg_background.py",
            "--photo",
            "docs/images/example.jpg",
            "--model",
            "default",
            "--json",
            f"{RESULTS}/jpeg_background.json",
        ),
        _results("jpeg_background.json"),
        1,
        False,
    ),
    Entry(
        "parsenet-miou",
        (
            "benchmarks/quality/parsenet_miou.py",
            "--model",
            "parsenet",
            "--labels",
            "runs/parse-labels/val",
            "--prior-labels",
            "runs/parse-labels/train",
            "--json",
            f"{RESULTS}/parsenet_miou.json",
        ),
        _results("parsenet_miou.json"),
        20,
        True,
        before=(
            (FACEDEBLUR, "data", "parse-labels", f"{SHARED_DATA}/utkface/val", "-o", "runs/parse-labels/val"),
            (
                FACEDEBLUR,
                "data",
                "parse-labels",
                f"{SHARED_DATA}/utkface/train",
                "-o",
                "runs/parse-labels/train",
                "--limit",
                "3200",
            ),
        ),
        note="the label folders are resumable: a second run only scores",
    ),
    Entry(
        "video-quality",
        (
            "benchmarks/quality/video_quality.py",
            f"{SHARED_DATA}/videos",
            "--seconds",
            "1.5",
            "--config",
            'nohold={"hold": 0}',
            "--json",
            f"{RESULTS}/video_quality.json",
            "--update-docs",
        ),
        _results("video_quality.json"),
        25,
        True,
        also_writes=("docs/benchmarks.md", "README.md"),
    ),
    Entry(
        "protocols",
        ("benchmarks/quality/run_protocols.py", "--shared-data", SHARED_DATA, "--update-docs"),
        _results("mspl", "frames", "blind", "mild", "tables.md"),
        90,
        True,
        also_writes=("docs/images/benchmark_grid_mspl.png", "docs/benchmarks.md", "README.md"),
        note="pairs and per-method scores are cached under runs/benchmarks: a rerun only scores what changed",
    ),
    # --- campaign ---
    Entry(
        "default-search",
        ("benchmarks/campaign/search_default.py", "--runs", "runs/search"),
        _results("default_search.json"),
        30,
        True,
        also_writes=("docs/images/default_search_curves.png",),
        requires=("runs/search",),
        note="needs the search's candidate run folders (facedeblur train restorer --out runs/search/NAME ...)",
    ),
    Entry(
        "campaign-curve",
        ("benchmarks/campaign/plot_campaign.py", "runs/snapshots"),
        _results("campaign_curve.json"),
        20,
        True,
        also_writes=("docs/images/default_campaign_curve.png",),
        requires=("runs/snapshots",),
        note="needs the campaign's snapshots (benchmarks/campaign/snapshot.py); earlier points are kept",
    ),
)


def find_entries(names: Sequence[str], registry: Sequence[Entry] = REGISTRY) -> list[Entry]:
    """The entries called ``names``, in the registry's order.

    Args:
        names: entry names; empty means every entry.
        registry: the entries to choose from.

    Returns:
        The chosen entries.

    Raises:
        KeyError: a name that is no entry's (the message lists the known names).
    """
    known = {entry.name: entry for entry in registry}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"no entry called {', '.join(unknown)}; entries: {', '.join(known)}")
    wanted = set(names)
    return [entry for entry in registry if not names or entry.name in wanted]


def covering_entry(path: str, registry: Sequence[Entry] = REGISTRY) -> Entry | None:
    """The entry that writes ``path`` (a file under ``benchmarks/results/``), directly or as part of a folder.

    Args:
        path: the file's path from the repository root, with forward slashes.
        registry: the entries to look in.

    Returns:
        The first entry whose ``writes`` holds the path or a folder above it, else None.

    >>> covering_entry("benchmarks/results/mspl/grid.png").name
    'protocols'
    >>> covering_entry("benchmarks/results/unknown.json") is None
    True
    """
    for entry in registry:
        for written in entry.writes:
            if path == written or path.startswith(written.rstrip("/") + "/"):
                return entry
    return None


def result_files(root: Path = REPO) -> list[str]:
    """Every file in ``benchmarks/results/`` (paths from ``root``, forward slashes, sorted).

    Args:
        root: the repository root.

    Returns:
        The files' paths.
    """
    folder = root / RESULTS
    return sorted(p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())


def uncovered(files: Iterable[str], registry: Sequence[Entry] = REGISTRY) -> list[str]:
    """The files no entry writes.

    Args:
        files: paths from the repository root.
        registry: the entries.

    Returns:
        The files without an entry, in the given order.
    """
    return [path for path in files if covering_entry(path, registry) is None]


def shell_line(entry: Entry, python: str = "python") -> str:
    """The entry's commands as shell lines, one per step, for ``--dry-run``.

    Args:
        entry: the entry.
        python: how the interpreter is spelled in the line.

    Returns:
        The lines joined with newlines.

    >>> print(shell_line(find_entries(["restore-units"])[0]))
    python benchmarks/speed/restore_units.py --models default chrysos --json benchmarks/results/restore_units.json
    """
    prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in entry.env)
    lines = []
    for step in entry.steps():
        argv = list(step) if step[0] == FACEDEBLUR else [python, *step]
        lines.append(prefix + " ".join(shlex.quote(arg) for arg in argv))
    return "\n".join(lines)


def _argv(step: Sequence[str]) -> list[str]:
    if step[0] == FACEDEBLUR:
        return [sys.executable, "-m", "facedeblur", *step[1:]]
    return [sys.executable, *step]


def _environment(entry: Entry, root: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(root / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else src
    env.update(dict(entry.env))
    return env


def missing_inputs(entry: Entry, root: Path = REPO) -> list[str]:
    """What the entry needs that is not there: its script, ``../shared/data``, its ``requires``.

    Args:
        entry: the entry.
        root: the repository root.

    Returns:
        One line per missing thing (empty when it can run).
    """
    problems = []
    if not (root / entry.script).is_file():
        problems.append(f"its script {entry.script} does not exist")
    if entry.shared_data and not (root / SHARED_DATA).is_dir():
        problems.append(f"it reads {SHARED_DATA} (UTKFace faces, dev videos), which is not there")
    problems += [f"it needs {path}, which is not there" for path in entry.requires if not (root / path).exists()]
    return problems


def run_entry(entry: Entry, root: Path = REPO) -> str | None:
    """Run one entry's steps from ``root``; output goes to this process's stdout and stderr.

    Args:
        entry: the entry.
        root: the repository root (commands run there).

    Returns:
        None on success, else one line saying what failed.
    """
    problems = missing_inputs(entry, root)
    if problems:
        return f"{entry.name}: not run: " + "; ".join(problems)
    env = _environment(entry, root)
    start = time.time()
    for step in entry.steps():
        code = subprocess.run(_argv(step), cwd=root, env=env).returncode
        if code != 0:
            return f"{entry.name}: exit {code} from: {' '.join(shlex.quote(a) for a in step)}"
    stale = [path for path in entry.writes if not (root / path).exists() or (root / path).stat().st_mtime < start]
    if stale:
        return f"{entry.name}: finished but did not write {', '.join(stale)}"
    return None


def run_entries(entries: Sequence[Entry], keep_going: bool = False, root: Path = REPO) -> list[str]:
    """Run entries in order, stopping at the first failure unless ``keep_going``.

    Args:
        entries: the entries.
        keep_going: run the rest after a failure.
        root: the repository root.

    Returns:
        One line per failed entry (empty when all succeeded).
    """
    failures = []
    for i, entry in enumerate(entries, 1):
        print(f"[{i}/{len(entries)}] {entry.name} (~{entry.cpu_minutes:g} CPU-min)", file=sys.stderr, flush=True)
        start = time.time()
        failure = run_entry(entry, root)
        if failure is None:
            print(f"[{i}/{len(entries)}] {entry.name}: done in {time.time() - start:.0f} s", file=sys.stderr)
            continue
        failures.append(failure)
        print(f"FAILED {failure}", file=sys.stderr, flush=True)
        if not keep_going:
            rest = [e.name for e in entries[i:]]
            if rest:
                print(f"stopped; not run: {', '.join(rest)} (--keep-going runs them)", file=sys.stderr)
            break
    return failures


_PARSE_ONLY = r"""
import argparse, contextlib, io, json, os, runpy, sys

class _Parsed(Exception):
    pass

def _parse_and_stop(self, args=None, namespace=None):
    _original(self, args, namespace)
    raise _Parsed

_original = argparse.ArgumentParser.parse_args
argparse.ArgumentParser.parse_args = _parse_and_stop
report = {}
for key, step in json.loads(sys.stdin.read()):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            if step[0] == "facedeblur":
                from facedeblur.cli import main
                main(step[1:])
            else:
                sys.argv = list(step)
                sys.path.insert(0, os.path.dirname(os.path.abspath(step[0])))
                try:
                    runpy.run_path(step[0], run_name="__main__")
                finally:
                    sys.path.pop(0)
        report[key] = "it returned without parsing its arguments"
    except _Parsed:
        report[key] = None
    except SystemExit as exc:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        report[key] = f"exit {exc.code}: " + (lines[-1] if lines else "no message")
    except BaseException as exc:
        report[key] = f"{type(exc).__name__}: {exc}"
print(json.dumps(report))
"""


def check_arguments(entries: Sequence[Entry], root: Path = REPO) -> dict[str, str | None]:
    """Parse every step's options with its own argparse parser, running nothing else (one child process).

    Each script is run up to its ``parse_args`` call, which parses the entry's options and then stops the
    script; ``facedeblur`` steps go through the CLI's parser the same way.

    Args:
        entries: the entries.
        root: the repository root.

    Returns:
        ``{"NAME" or "NAME step K": None if accepted, else argparse's complaint}`` for every step.
    """
    jobs = []
    for entry in entries:
        steps = entry.steps()
        for k, step in enumerate(steps, 1):
            key = entry.name if k == len(steps) else f"{entry.name} step {k}"
            jobs.append((key, list(step)))
    env = _environment(Entry("check", ("-",), (), 0, False), root)
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY], input=json.dumps(jobs), capture_output=True, text=True, cwd=root, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"the argument check crashed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def list_table(entries: Sequence[Entry]) -> str:
    """A markdown table of the entries: name, script, what it writes, cost, inputs.

    Args:
        entries: the entries.

    Returns:
        The table, then the total cost.
    """
    rows = ["| entry | script | writes (benchmarks/results/) | ~CPU-min | needs |", "| --- | --- | --- | --- | --- |"]
    for entry in entries:
        writes = ", ".join(path.removeprefix(RESULTS + "/") for path in entry.writes)
        if entry.also_writes:
            writes += " (also " + ", ".join(entry.also_writes) + ")"
        needs = ([SHARED_DATA] if entry.shared_data else []) + list(entry.requires)
        needs += [f"{key}={value}" for key, value in entry.env]
        rows.append(
            f"| {entry.name} | {entry.script.removeprefix('benchmarks/')} | {writes} | {entry.cpu_minutes:g} "
            f"| {', '.join(needs) or '-'} |"
        )
    total = sum(entry.cpu_minutes for entry in entries)
    return "\n".join(rows) + f"\n\n{len(entries)} entries, about {total / 60:.1f} CPU-hours in all"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: list, dry-run, check or run the registry's entries.

    Args:
        argv: options (default: ``sys.argv[1:]``).

    Returns:
        0 when everything asked for succeeded, 1 when an entry failed, 2 on a usage error.
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the entries, what they write and their cost")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these entries")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--keep-going", action="store_true", help="after a failure, run the remaining entries")
    parser.add_argument("--check", action="store_true", help="parse every entry's options with its script, run none")
    args = parser.parse_args(argv)
    try:
        entries = find_entries(args.only)
    except KeyError as err:
        print(f"regenerate: {err.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        print(list_table(entries))
        return 0
    if args.dry_run:
        for entry in entries:
            print(f"# {entry.name}" + (f": {entry.note}" if entry.note else ""))
            print(shell_line(entry))
        return 0
    if args.check:
        report = check_arguments(entries)
        bad = {key: why for key, why in report.items() if why}
        for key, why in bad.items():
            print(f"{key}: {why}", file=sys.stderr)
        print(f"{len(report) - len(bad)} of {len(report)} commands' options accepted")
        return 1 if bad else 0
    failures = run_entries(entries, keep_going=args.keep_going)
    if failures:
        print(f"{len(failures)} of {len(entries)} entries failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print(f"all {len(entries)} entries regenerated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
