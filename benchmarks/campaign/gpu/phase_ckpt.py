"""Checkpoint surgery between the CPU campaign and a GPU phase: a fresh learning-rate warm-up, slim files.

``facedeblur train --init-from CKPT`` carries the optimizer and scheduler states over, so a new phase keeps
the old learning rate and skips its warm-up. A GPU phase trains with a larger batch and a higher rate, and
the CPU phase after it needs the CPU rate back: both restart the schedule here first.

    # bring a GPU checkpoint back into the CPU campaign (fresh Adam moments, CPU rate, warm-up from 0):
    python benchmarks/campaign/gpu/phase_ckpt.py gpu/last.ckpt runs/gpu-p3-start.ckpt --lr 0.001 --warmup 200
    facedeblur train /work/runs/restorer.yaml --out runs/default-campaign-p4 --init-from runs/gpu-p3-start.ckpt ...

The checkpoint stays loadable by ``--init-from`` (the optimizer keeps its parameter groups; an empty state
means fresh moments) and by ``facedeblur export``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def slim(state: dict[str, Any]) -> dict[str, Any]:
    """Drop the optimizers' moments (half the file): ``--init-from`` then starts Adam afresh.

    Args:
        state: a training checkpoint dict (changed in place and returned).
    """
    for opt in state["optimizers"].values():
        opt["state"] = {}
    return state


def restart_schedule(state: dict[str, Any], lr: float, warmup: int) -> dict[str, Any]:
    """Make the next ``--init-from`` phase warm up from 0 to ``lr`` over ``warmup`` iterations.

    ``LambdaLR`` keeps ``base_lrs`` and ``last_epoch`` in its state; the new phase's lambda (its recipe's
    ``options.scheduler``) is applied to them. Resetting ``last_epoch`` restarts the warm-up of a
    ``constant`` schedule (the campaign's); the engine's own step count (EMA, logging) is not touched.

    Args:
        state: a training checkpoint dict (changed in place and returned).
        lr: the new phase's peak learning rate (its recipe's ``options.optimizer.lr``).
        warmup: the new phase's ``options.scheduler.warmup``.
    """
    first = lr * (min(1.0, 1.0 / warmup) if warmup else 1.0)
    for name, opt in state["optimizers"].items():
        for group in opt["param_groups"]:
            group["lr"], group["initial_lr"] = first, lr
        sched = state["schedulers"].get(name)
        if sched is not None:
            sched["base_lrs"] = [lr] * len(opt["param_groups"])
            sched["last_epoch"] = 0
            sched["_step_count"] = 1
            sched["_last_lr"] = [first] * len(opt["param_groups"])
    return state


def mark_device_phase(state: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """Record a phase run on another machine (a GPU) and keep its CPU time out of the campaign's CPU-hours.

    The engine counts the process's CPU time into ``cpu_minutes``; on a GPU host that is not campaign CPU
    time. The last phase record (written by ``--init-from``) holds the CPU minutes the phase started from:
    ``cpu_minutes`` goes back to it, and ``record`` (device, minutes, images, ...) is stored as the phase's
    ``device``. Idempotent: an already marked checkpoint keeps its first record.

    Args:
        state: a training checkpoint dict (changed in place and returned).
        record: what to remember of the device phase (plain JSON types).
    """
    phases = state.get("phases") or []
    if not phases:
        raise ValueError("the checkpoint has no phase record: was the device run started with --init-from?")
    last = phases[-1]
    if "device" not in last:
        used = float(state.get("cpu_minutes") or 0.0) - float(last["cpu_minutes"])
        last["device"] = {**record, "host_cpu_minutes": round(used, 3)}
        state["cpu_minutes"] = float(last["cpu_minutes"])
    return state


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a training checkpoint (e.g. the GPU run's last.ckpt)")
    parser.add_argument("out", type=Path, help="the checkpoint to start the next phase from (--init-from)")
    parser.add_argument("--lr", type=float, required=True, help="the next phase's options.optimizer.lr")
    parser.add_argument("--warmup", type=int, required=True, help="the next phase's options.scheduler.warmup")
    parser.add_argument("--keep-optimizer", action="store_true", help="keep the Adam moments (default: fresh)")
    args = parser.parse_args()
    if args.out.resolve() == args.checkpoint.resolve():
        parser.error("write to another file: the input checkpoint is never overwritten")

    from facedeblur.train.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(args.checkpoint)  # tensors land on the CPU whatever device wrote them
    if state["export"].get("trained_on") == "gpu" and state.get("phases"):
        mark_device_phase(state, {"kind": "gpu", "note": "marked on return"})
    if not args.keep_optimizer:
        slim(state)
    restart_schedule(state, args.lr, args.warmup)
    save_checkpoint(state, args.out)
    size = args.out.stat().st_size / 2**20
    print(
        f"{args.out}: step {state['step']}, {state['cpu_minutes'] / 60:.2f} CPU-hours, lr warm-up to {args.lr:g} "
        f"over {args.warmup} steps, {size:.1f} MiB (torch {torch.__version__})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
