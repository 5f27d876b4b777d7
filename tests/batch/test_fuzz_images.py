"""Seeded fuzz: 300 mutated JPEG/PNG files through the image reader, ``restore``, ``faces`` and ``data curate``.

Bytes are flipped, truncated, inserted, deleted and duplicated with a fixed seed, so a failure is
reproducible. Every file must either decode to valid pixels or raise the reader's one-line
:class:`~facedeblur.errors.InputError`: 0 crashes. A per-file timeout guard (the reader runs in a
worker process that reports each file; ``restore``'s report must keep growing) turns a hang into a
failure that names the file: 0 hangs.
"""

from __future__ import annotations

import io
import json
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _corpus import CRASH_WORDS, cli_env
from _face_helpers import canvas
from _restore_helpers import make_tiny_model

pytestmark = pytest.mark.slow

SEED = 17
MUTANTS = 300
PER_FILE_SECONDS = 30  # far beyond the milliseconds a 48 px image takes: only a hang gets there

_WORKER = r"""
import sys
from pathlib import Path
import numpy as np
from facedeblur.errors import InputError
from facedeblur.images import read_image
for path in sorted(Path(sys.argv[1]).iterdir()):
    print("START", path.name, flush=True)
    try:
        pixels = read_image(path)
    except InputError as err:
        text = str(err)
        ok = "\n" not in text and str(path) in text
        print("BAD" if ok else "CRASH", path.name, "message:", text.replace("\n", " | "), flush=True)
        continue
    except BaseException as err:
        print("CRASH", path.name, type(err).__name__, str(err).replace("\n", " | "), flush=True)
        continue
    valid = (
        pixels.ndim == 3 and pixels.shape[2] in (1, 2, 3, 4) and min(pixels.shape[:2]) >= 1
        and pixels.dtype in (np.uint8, np.uint16, np.float32)
    )
    print("OK" if valid else "CRASH", path.name, pixels.shape, pixels.dtype, flush=True)
print("DONE", flush=True)
"""


def _bases() -> dict[str, bytes]:
    from PIL import Image

    rgb = canvas(40, 48, seed=2)
    out = {}
    for name, fmt, options, image in [
        ("base.jpg", "JPEG", {"quality": 85}, Image.fromarray(rgb)),
        ("prog.jpg", "JPEG", {"quality": 70, "progressive": True}, Image.fromarray(rgb)),
        ("rgb.png", "PNG", {}, Image.fromarray(rgb)),
        ("rgba.png", "PNG", {}, Image.fromarray(np.dstack([rgb, rgb[:, :, 0]]))),
        ("pal.png", "PNG", {}, Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out[name] = buffer.getvalue()
    import cv2

    out["deep.png"] = cv2.imencode(".png", (rgb.astype(np.uint16) * 257)[:, :, ::-1])[1].tobytes()  # 16-bit
    return out


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One seeded mutation of ``data``: (what was done, the new bytes)."""
    buf = bytearray(data)
    op = ("flip", "flip_header", "truncate", "insert", "delete", "duplicate")[int(rng.integers(6))]
    if op in ("flip", "flip_header"):
        span = min(len(buf), 96) if op == "flip_header" else len(buf)
        for pos in rng.integers(0, span, size=int(rng.integers(1, 9))):
            buf[pos] ^= int(rng.integers(1, 256))
    elif op == "truncate":
        buf = buf[: int(rng.integers(0, len(buf)))]
    elif op == "insert":
        pos = int(rng.integers(0, len(buf)))
        buf[pos:pos] = rng.bytes(int(rng.integers(1, 65)))
    elif op == "delete":
        pos = int(rng.integers(0, len(buf)))
        del buf[pos : pos + int(rng.integers(1, 65))]
    else:
        start = int(rng.integers(0, len(buf)))
        chunk = buf[start : start + int(rng.integers(1, 257))]
        pos = int(rng.integers(0, len(buf)))
        buf[pos:pos] = chunk
    return op, bytes(buf)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    bases = _bases()
    names = sorted(bases)
    rng = np.random.default_rng(SEED)
    for i in range(MUTANTS):
        base = names[i % len(names)]
        op, data = mutate(bases[base], rng)
        (folder / f"{i:03d}_{op}_{base}").write_bytes(data)
    return folder


def test_the_reader_never_crashes_or_hangs_on_mutated_files(fuzz_dir):
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(fuzz_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env(),
        text=True,
    )
    lines, current = [], None
    try:
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], PER_FILE_SECONDS * 2)
            if not ready:
                pytest.fail(f"the reader hung on {current} (no answer in {PER_FILE_SECONDS * 2} s)")
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the reader process died on {current} (exit {proc.wait()})\n" + "".join(lines[-5:]))
            lines.append(line)
            if line.startswith("START"):
                current = line.split()[1]
            if line.startswith("DONE"):
                break
    finally:
        proc.kill()
        proc.wait()
    results = [line for line in lines if line.split()[0] in ("OK", "BAD", "CRASH")]
    crashes = [line for line in results if line.startswith("CRASH")]
    assert len(results) == MUTANTS
    assert not crashes, "".join(crashes)
    assert not [line for line in lines if line.split()[0] not in ("START", "OK", "BAD", "DONE")], "stray output"
    bad = sum(line.startswith("BAD") for line in results)
    assert 0 < bad < MUTANTS  # the mutations really break files, and not all of them


def test_restore_never_crashes_or_hangs_on_mutated_files(fuzz_dir, tmp_path):
    model = make_tiny_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    report = out / "restore-report.json"
    log = tmp_path / "log.txt"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facedeblur.cli", "restore", str(fuzz_dir), "-o", str(out), "--model", str(model),
             "--device", "cpu", "--detector", "hog", "--quiet"],
            stdout=sink, stderr=subprocess.STDOUT, env=cli_env(), stdin=subprocess.DEVNULL,
        )  # fmt: skip
        done, last_change = -1, time.monotonic()
        while proc.poll() is None:
            time.sleep(0.5)
            try:
                count = len(json.loads(report.read_text())["files"])
            except (OSError, ValueError, KeyError):
                count = done
            if count != done:
                done, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > PER_FILE_SECONDS * 4:  # reports are written every few s
                proc.kill()
                pytest.fail(f"restore hung after {done} of {MUTANTS} files")
    output = log.read_text(errors="replace")
    for word in CRASH_WORDS:
        assert word not in output, output[-3000:]
    assert proc.returncode == 1, output[-2000:]
    final = json.loads(report.read_text())
    assert len(final["files"]) == MUTANTS
    failed = [r for r in final["files"] if r["status"] == "failed"]
    assert failed and all("\n" not in r["error"] and r["input"] in r["error"] for r in failed)
    for record in failed:
        assert sum(record["input"] in line for line in output.splitlines()) == 1, record["input"]
    unexpected = [r["error"] for r in failed if "Error:" in r["error"].split(": ", 1)[1].split("(")[0]]
    assert not unexpected, unexpected  # only the reader's own messages, no stray exception types


def _assert_one_line_per_failure(final: dict, output: str) -> None:
    """Every file has a record; each failure is one line naming its file, printed once, from the reader."""
    for word in CRASH_WORDS:
        assert word not in output, output[-3000:]
    assert len(final["files"]) == MUTANTS
    failed = [r for r in final["files"] if r["status"] == "failed"]
    assert 0 < len(failed) < MUTANTS
    assert all("\n" not in r["error"] and r["input"] in r["error"] for r in failed)
    lines = output.splitlines()
    for record in failed:
        assert sum(record["input"] in line for line in lines) == 1, record["input"]
    unexpected = [r["error"] for r in failed if "Error:" in r["error"].split(": ", 1)[1].split("(")[0]]
    assert not unexpected, unexpected  # only the reader's own messages, no stray exception types


def _cli(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "facedeblur.cli", *args],
        capture_output=True, env=cli_env(), stdin=subprocess.DEVNULL, timeout=PER_FILE_SECONDS * 10,
    )  # fmt: skip
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


def test_faces_never_crashes_on_mutated_files(fuzz_dir, tmp_path):
    code, output = _cli("faces", str(fuzz_dir), "-o", str(tmp_path / "faces"), "--detector", "hog", "--quiet")
    assert code == 1, output[-2000:]
    _assert_one_line_per_failure(json.loads((tmp_path / "faces" / "faces_report.json").read_text()), output)


def test_curate_never_crashes_on_mutated_files(fuzz_dir, tmp_path):
    report = tmp_path / "curate.json"
    code, output = _cli("data", "curate", str(fuzz_dir), "--report", str(report), "--no-progress")
    assert code == 1, output[-2000:]
    final = json.loads(report.read_text())
    _assert_one_line_per_failure(final, output)
    assert final["summary"]["scored"] == final["summary"]["ok"] > 0
