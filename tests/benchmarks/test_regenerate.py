"""benchmarks/regenerate.py: every committed result has an entry, every entry's command is accepted by its script."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", REPO / "benchmarks" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["regenerate"] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


regenerate = _load_regenerate()


def test_every_committed_result_is_written_by_an_entry():
    files = regenerate.result_files()
    assert len(files) > 40 and "benchmarks/results/mspl/grid.png" in files
    assert regenerate.uncovered(files) == []
    assert regenerate.uncovered([*files, "benchmarks/results/new.json"]) == ["benchmarks/results/new.json"]


def test_entries_name_existing_scripts_and_results_by_relative_paths():
    names = [entry.name for entry in regenerate.REGISTRY]
    assert len(names) == len(set(names))
    for entry in regenerate.REGISTRY:
        assert (REPO / entry.script).is_file(), f"{entry.name}: no script {entry.script}"
        assert entry.writes, entry.name
        for path in entry.writes:
            assert path.startswith("benchmarks/results/") and (REPO / path).exists(), f"{entry.name}: {path}"
        for step in entry.steps():
            assert not any(Path(arg).is_absolute() for arg in step), f"{entry.name}: absolute path in {step}"
    alone = replace(regenerate.REGISTRY[0], command=("benchmarks/nothere.py",), shared_data=False, requires=())
    assert regenerate.missing_inputs(alone) == ["its script benchmarks/nothere.py does not exist"]


def test_every_entry_options_are_accepted_by_its_script():
    report = regenerate.check_arguments(regenerate.REGISTRY)
    assert len(report) == sum(len(entry.steps()) for entry in regenerate.REGISTRY)
    assert {key: why for key, why in report.items() if why} == {}


def test_the_argument_check_catches_a_wrong_option_and_a_wrong_value():
    units = regenerate.find_entries(["restore-units"])[0]
    labels = regenerate.find_entries(["parsenet-miou"])[0]
    report = regenerate.check_arguments(
        [
            replace(units, name="bogus", command=(*units.command, "--bogus")),
            replace(units, name="value", command=(units.script, "--repeats", "many")),
            replace(labels, name="cli", before=((regenerate.FACEDEBLUR, "data", "parse-labels", "--nope"),)),
        ]
    )
    assert "unrecognized arguments: --bogus" in report["bogus"]
    assert "invalid int value: 'many'" in report["value"]
    assert report["cli step 1"].startswith("exit 2") and report["cli"] is None


def _fake_repo(tmp_path: Path) -> Path:
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "write.py").write_text(
        "import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('ok')\n", encoding="utf-8"
    )
    (tmp_path / "fail.py").write_text("raise SystemExit(3)\n", encoding="utf-8")
    (tmp_path / "idle.py").write_text("pass\n", encoding="utf-8")
    return tmp_path


def _entry(name: str, script: str, *args: str, writes: str = "benchmarks/results/a.json", **kw):
    return regenerate.Entry(name, (script, *args), (writes,), 0.1, False, **kw)


def test_a_failure_stops_the_run_unless_keep_going(tmp_path, capsys):
    root = _fake_repo(tmp_path)
    entries = [
        _entry("first", "write.py", "benchmarks/results/a.json"),
        _entry("broken", "fail.py"),
        _entry("last", "write.py", "benchmarks/results/b.json", writes="benchmarks/results/b.json"),
    ]
    failures = regenerate.run_entries(entries, root=root)
    assert failures == ["broken: exit 3 from: fail.py"]
    assert (root / "benchmarks/results/a.json").is_file() and not (root / "benchmarks/results/b.json").exists()
    assert "not run: last (--keep-going runs them)" in capsys.readouterr().err

    assert regenerate.run_entries(entries, keep_going=True, root=root) == failures
    assert (root / "benchmarks/results/b.json").read_text() == "ok"


def test_an_entry_that_writes_nothing_or_lacks_its_inputs_fails(tmp_path):
    root = _fake_repo(tmp_path)
    idle = _entry("idle", "idle.py")
    assert regenerate.run_entry(idle, root) == "idle: finished but did not write benchmarks/results/a.json"
    needy = _entry("needy", "write.py", "benchmarks/results/a.json", requires=("runs/snapshots",))
    assert regenerate.run_entry(needy, root) == "needy: not run: it needs runs/snapshots, which is not there"
    assert not (root / "benchmarks/results/a.json").exists()


def test_list_dry_run_and_unknown_names(capsys):
    assert regenerate.main(["--list"]) == 0
    table = capsys.readouterr().out
    assert all(f"| {entry.name} |" in table for entry in regenerate.REGISTRY)
    assert regenerate.main(["--dry-run", "--only", "face-recall", "restore-units"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "# restore-units",
        "python benchmarks/speed/restore_units.py --models default chrysos "
        "--json benchmarks/results/restore_units.json",
        "# face-recall",
        "OMP_NUM_THREADS=1 python benchmarks/quality/face_recall.py ../shared/data --detectors centerface hog "
        "--photos 80 -o benchmarks/results/face_recall.json",
    ]
    assert regenerate.main(["--only", "nope"]) == 2
    assert "no entry called nope" in capsys.readouterr().err


def test_docstring_examples():
    assert doctest.testmod(regenerate, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("name", ["mspl", "tables.md"])
def test_the_protocols_entry_covers_its_folders(name):
    assert regenerate.covering_entry(f"benchmarks/results/{name}").name == "protocols"
