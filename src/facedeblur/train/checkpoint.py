"""Training checkpoints: everything needed to continue a run exactly, and to export its generator.

A checkpoint is a ``torch.save`` dict (loadable with ``weights_only=True``) with keys:

- ``format``, ``task``, ``recipe`` (the whole recipe as a plain dict), ``step``, ``epoch``, ``batch``
  (batches of the current epoch already consumed by each process), ``world_size``;
- ``models``, ``optimizers``, ``schedulers``, ``ema`` (state dicts by name), ``precision`` (grad scaler);
- ``rng``: one entry per process (torch, CUDA, numpy, Python and the task's generator states);
- ``val`` (latest validation metrics), ``best`` (best validation metrics so far);
- ``export``: ``architecture``, ``config`` and ``face_size`` of the generator, for ``facedeblur export``.

Example:
    >>> state = rng_state(torch.Generator().manual_seed(1))
    >>> sorted(state)
    ['cuda', 'numpy', 'python', 'task', 'torch']
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facedeblur.errors import UserError

CHECKPOINT_FORMAT = 1


def rng_state(task_rng: torch.Generator) -> dict[str, Any]:
    """This process's random states, as plain types and tensors (safe for ``weights_only`` loading)."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": np_state[0],
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
        "task": task_rng.get_state(),
    }


def set_rng_state(state: dict[str, Any], task_rng: torch.Generator) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    task_rng.set_state(state["task"])


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write a checkpoint atomically through the package's one atomic-write helper (a temporary file in the same
    folder, the usual file mode, renamed onto ``path``; removed when the write fails)."""
    from facedeblur.images import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint (tensors on the CPU).

    Raises:
        UserError: missing file, not a checkpoint, or of an unknown format.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise UserError(f"{path}: not a facedeblur training checkpoint ({str(err).splitlines()[0]})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or "export" not in state:
        raise UserError(f"{path}: not a facedeblur training checkpoint (format {CHECKPOINT_FORMAT})")
    return state


def generator_weights(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights to ship from a checkpoint: the EMA generator when the run kept one, else the generator."""
    return state["ema"].get("generator") or state["models"]["generator"]
