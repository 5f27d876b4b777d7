"""One GPU phase of the default's campaign, inside one device call (run by gpu_train.sh, which see).

Unpacks the pack that ``pack_faces.py`` wrote, restarts the learning-rate schedule for the GPU's batch
(``phase_ckpt.restart_schedule``), trains the pack's recipe (the campaign's own) from its checkpoint with
``--init-from`` semantics through the real engine, faces held on the GPU (``resident.ResidentFaces``),
bf16 autocast and channels_last, and stops on ``engine.time_limit`` so that everything, the copy back
included, ends ``--deadline`` seconds after the command started. Brings back through ``--out``
(``$OUT``): ``last.ckpt`` (marked as a device phase: the campaign's CPU minutes are not inflated),
``metrics.jsonl``, ``recipe.yaml``, ``gpu-summary.json``; gpu_train.sh adds ``train.log``.
While training, each new ``last.ckpt`` is copied to ``--out`` at once, so a command killed at its limit
still brings back the latest one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
import zipfile
from pathlib import Path

MIB = 2**20
RESERVE_S = 45.0  # final validation, checkpoint and copy back after the time limit


def unpack(pack: Path, work: Path) -> dict[str, int]:
    """Extract the pack's zips into ``work/{train,val,pairs}``; returns the member count of each."""
    counts = {}
    for target, pattern in (("train", "faces-*.zip"), ("val", "val.zip"), ("pairs", "pairs.zip")):
        counts[target] = 0
        for shard in sorted(pack.glob(pattern)):
            with zipfile.ZipFile(shard) as zf:
                zf.extractall(work / target)
                counts[target] += len(zf.namelist())
    return counts


class CopyBack(threading.Thread):
    """Copies ``src`` to ``dst`` (through a temporary file) each time ``src`` changes, until stopped."""

    def __init__(self, src: Path, dst: Path, every_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.src, self.dst, self.every_s = src, dst, every_s
        self.stopped = threading.Event()
        self.copied = 0

    def run(self) -> None:
        seen = None
        while not self.stopped.wait(self.every_s):
            try:
                stamp = self.src.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if stamp != seen:
                tmp = self.dst.with_name(self.dst.name + ".part")
                shutil.copyfile(self.src, tmp)
                tmp.replace(self.dst)
                seen, self.copied = stamp, self.copied + 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=Path(".campaign-gpu"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/fd-gpu"), help="local disk for data and the run")
    parser.add_argument("--out", type=Path, required=True, help="what comes back ($OUT)")
    parser.add_argument("--start", type=float, default=None, help="epoch seconds the command started")
    parser.add_argument("--deadline", type=float, default=510.0, help="seconds after --start to be done by")
    parser.add_argument("--batch", type=int, default=256, help="faces per step (the CPU campaign uses 8)")
    parser.add_argument(
        "--lr", type=float, default=4e-3, help="peak lr (CPU: 1e-3 at batch 8; sqrt scaling gives 5.7e-3 at 256)"
    )
    parser.add_argument("--warmup", type=int, default=300, help="warm-up steps from 0 to --lr")
    parser.add_argument("--device", default="gpu", help="engine.accelerator (cpu for a dry run)")
    parser.add_argument("--precision", default="bf16-mixed", help="engine.precision")
    parser.add_argument("--threads", type=int, default=8, help="torch CPU threads (degradation draws, noise)")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (dry runs)")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--ckpt-every", type=int, default=250)
    parser.add_argument("--max-ckpt-mib", type=float, default=15.5, help="drop optimizer moments above this")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="further recipe overrides")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = args.start if args.start is not None else time.time()
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    import torch
    from phase_ckpt import mark_device_phase, restart_schedule, slim
    from resident import ResidentFaces

    from facedeblur.train.checkpoint import load_checkpoint, save_checkpoint
    from facedeblur.train.config import load_recipe
    from facedeblur.train.data import data_recipe, validation_set
    from facedeblur.train.engine import train

    cuda = torch.cuda.is_available()
    device_name = torch.cuda.get_device_name(0) if cuda else "cpu"
    torch.backends.cudnn.benchmark = True  # one input size all run long
    print(f"torch {torch.__version__}, cuda {torch.version.cuda}, device {device_name}", flush=True)
    work, out = args.work, args.out
    if work.exists():
        shutil.rmtree(work)
    out.mkdir(parents=True, exist_ok=True)
    counts = unpack(args.pack, work)
    print(f"unpacked {counts} in {time.time() - start:.0f} s", flush=True)

    init = load_checkpoint(args.pack / "init.ckpt")
    start_step, start_cpu, start_val = int(init["step"]), float(init.get("cpu_minutes") or 0.0), init.get("val")
    save_checkpoint(restart_schedule(init, args.lr, args.warmup), work / "init.ckpt")
    overrides = [
        f"data.train={work / 'train'}",
        f"data.val={work / 'val'}",
        "data.scores=null",
        "data.min_sharpness=null",  # the pack holds the curated faces only
        "data.workers=0",
        f"options.pairs={work / 'pairs' if counts['pairs'] else 'null'}",
        f"options.optimizer.lr={args.lr}",
        f"options.scheduler.warmup={args.warmup}",
        f"engine.batch_size={args.batch}",
        f"engine.accelerator={args.device}",
        f"engine.precision={args.precision}",
        "engine.channels_last=true",
        f"engine.threads={args.threads}",
        "engine.progress=false",
        "engine.cpu_time_limit=null",
        f"engine.log_every={args.log_every}",
        f"engine.val_every={args.val_every}",
        f"engine.ckpt_every={args.ckpt_every}",
        *args.set,
    ]
    if args.steps is not None:
        overrides.append(f"engine.steps={start_step + args.steps}")
    recipe = load_recipe(args.pack / "recipe.yaml", overrides)
    train_device = "cuda" if cuda and args.device != "cpu" else "cpu"
    faces = ResidentFaces(
        work / "train", recipe.data.size, train_device, recipe.data.seed, recipe.data.flip, workers=args.threads
    )
    val = validation_set(
        recipe.data.val, recipe.data.size, data_recipe(recipe.data), seed=recipe.data.seed, limit=recipe.data.val_limit
    )
    minutes = (start + args.deadline - RESERVE_S - time.time()) / 60
    if minutes < 0.5:
        raise SystemExit(f"only {minutes:.2f} minutes left for training before the deadline: not starting")
    recipe.engine.time_limit = minutes
    print(
        f"{len(faces)} faces on {train_device}, {len(val)} val faces; training from step {start_step} for at most "
        f"{minutes:.2f} min, batch {args.batch}, lr {args.lr:g} (warm-up {args.warmup})",
        flush=True,
    )

    run = work / "run"
    copier = CopyBack(run / "checkpoints" / "last.ckpt", out / "last.ckpt")
    copier.start()
    began = time.time()
    error = None
    try:
        train(recipe, run, init_from=work / "init.ckpt", datasets=(faces, val))
    except Exception as err:  # e.g. a diverged loss: bring back the last checkpoint all the same
        error = f"{type(err).__name__}: {err}"
        print(f"training stopped: {error}", flush=True)
    finally:
        copier.stopped.set()
        copier.join()
    wall = time.time() - began
    if not (run / "checkpoints" / "last.ckpt").is_file():
        raise SystemExit(f"no checkpoint was written ({error})")

    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [e for e in events if e["event"] == "train"][1:]  # the first includes start-up and warm-up
    img_per_s = statistics.median(e["img_per_s"] for e in logged) if logged else None
    data_s = statistics.median(e["data_s"] for e in logged) if logged else None
    vals = [e for e in events if e["event"] == "val"]
    state = load_checkpoint(run / "checkpoints" / "last.ckpt")
    steps = int(state["step"]) - start_step
    record = {
        "kind": "gpu" if train_device == "cuda" else "cpu-dry-run",
        "name": device_name,
        "wall_minutes": round(wall / 60, 3),
        "steps": steps,
        "images": steps * args.batch,
        "img_per_s": img_per_s,
        "degrade_s_per_step": data_s,
        "batch": args.batch,
        "lr": args.lr,
        "warmup": args.warmup,
    }
    mark_device_phase(state, record)
    final = out / "last.ckpt"
    save_checkpoint(state, final)
    if final.stat().st_size > args.max_ckpt_mib * MIB:
        save_checkpoint(slim(state), final)
    for name in ("metrics.jsonl", "recipe.yaml"):
        shutil.copyfile(run / name, out / name)
    summary = {
        **record,
        "torch": torch.__version__,
        "start_step": start_step,
        "end_step": int(state["step"]),
        "campaign_cpu_minutes": start_cpu,
        "faces": len(faces),
        "val_start": start_val,
        "val_first": vals[0] if vals else None,
        "val": state["val"],
        "best": state["best"],
        "error": error,
        "checkpoint_mib": round(final.stat().st_size / MIB, 2),
        "seconds_since_start": round(time.time() - start, 1),
    }
    (out / "gpu-summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    rate = f"{img_per_s:.0f}" if img_per_s is not None else "n/a"
    print(
        f"{device_name}: {steps} steps x {args.batch} faces in {wall / 60:.2f} min, {rate} img/s (median); "
        f"val PSNR {(start_val or {}).get('psnr', float('nan')):.2f} -> "
        f"{(state['val'] or {}).get('psnr', float('nan')):.2f} dB; last.ckpt {summary['checkpoint_mib']} MiB; "
        f"done {summary['seconds_since_start']:.0f} s after the start",
        flush=True,
    )
    return 0 if error is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
