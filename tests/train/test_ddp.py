"""DDP on 2 CPU processes (gloo) through the real entry point: Fabric launches the second process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _train_helpers import write_faces
from facedeblur.train.checkpoint import load_checkpoint
from facedeblur.train.recipes import CONFIG_DIRS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_replicas_in_sync(tmp_path):
    write_faces(tmp_path / "faces" / "train", 12, seed=0)
    write_faces(tmp_path / "faces" / "val", 4, seed=1)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "facedeblur", "train", str(CONFIG_DIRS[0] / "chrysos-smoke.yaml")]
    cmd += ["--data", str(tmp_path / "faces"), "--out", str(out)]
    cmd += ["--set", "engine.devices=2", "engine.strategy=ddp", "engine.steps=3", "engine.val_every=3"]
    cmd += ["engine.threads=1", "data.size=24"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_PORT=str(29500 + os.getpid() % 1000))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es)" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 3
    assert summary["replica_spread"] == 0.0  # gradients were all-reduced: both replicas hold the same weights
    state = load_checkpoint(out / "checkpoints" / "last.ckpt")
    assert len(state["rng"]) == 2  # one random state per process, for exact resume
    # the two processes drew different faces: their sampler shares are disjoint
    from facedeblur.train.data import ResumableSampler

    shares = [set(ResumableSampler(12, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert not shares[0] & shares[1] and len(shares[0] | shares[1]) == 12
