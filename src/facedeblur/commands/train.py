"""``facedeblur train RECIPE [--data DIR] [--set key=value ...] [--out DIR] [--resume]``."""

from __future__ import annotations

import argparse

from facedeblur.commands.grammar import add_command, add_quiet_argument, add_set_argument


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "train",
        help="train a model from a recipe (a shipped name such as chrysos, or a YAML file)",
        description=(
            "Train a model from a typed YAML recipe (a shipped name, e.g. 'chrysos', a name in ./configs/, or a path). "
            "Several GPUs: --set engine.devices=N; several nodes: launch with torchrun or SLURM and set "
            "engine.num_nodes (see README, Training)."
        ),
        examples=[
            ("train chrysos --data ../shared/data/utkface", "the default recipe on train/ and val/"),
            ("train chrysos --set engine.steps=500 options.optimizer.lr=1e-3", "override recipe values"),
            ("train dfpgnet --out runs/dfpg --resume", "continue a run from its last checkpoint"),
            ("train restorer --out runs/p2 --init-from runs/p1/checkpoints/last.ckpt", "next phase, new --set values"),
            (
                "train restorer --out runs/p3 --init-from default.safetensors --set options.optimizer.lr=3e-4",
                "warm restart",
            ),
            ("train chrysos --device cuda --set engine.devices=2", "two GPUs"),
        ],
    )
    parser.add_argument(
        "recipe",
        help="recipe name (./configs/NAME.yaml, else a shipped one) or a recipe YAML path",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="training faces: a folder of sharp aligned faces, or a folder with train/ (and val/) inside",
    )
    add_set_argument(parser, "recipe value", "engine.steps=500 options.optimizer.lr=1e-3", dest="overrides")
    parser.add_argument(
        "--device",
        default=None,
        metavar="DEVICE",
        help="auto, cpu, cuda or mps: sets engine.accelerator (default: the recipe's, auto in the bundled ones)",
    )
    parser.add_argument("--out", metavar="DIR", help="run folder (default: runs/<recipe name>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument(
        "--init-from",
        metavar="CKPT",
        help="start a new run (a curriculum phase) from another run's checkpoint of the same network: weights, "
        "optimizer, EMA, step and CPU minutes carry over, data and degradation settings may change; or from a "
        ".safetensors weights file (a warm restart: fresh optimizer and warm-up, use a lower learning rate)",
    )
    add_quiet_argument(parser, "no progress bar (engine.progress=false)")
    parser.set_defaults(handler=_run)


_ACCELERATORS = {"auto": "auto", "cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps"}


def _data_overrides(data: str | None) -> list[str]:
    import json
    from pathlib import Path

    from facedeblur.errors import UserError

    if data is None:
        return []
    root = Path(data)
    if not root.is_dir():
        raise UserError(f"{root}: --data must be a folder")
    if (root / "train").is_dir():
        out = [f"data.train={json.dumps(str(root / 'train'))}"]
        if (root / "val").is_dir():
            out.append(f"data.val={json.dumps(str(root / 'val'))}")
        return out
    return [f"data.train={json.dumps(str(root))}"]


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facedeblur.errors import UserError
    from facedeblur.train.config import load_recipe
    from facedeblur.train.recipes import find_recipe

    extra = []
    if args.device is not None:
        if args.device.lower() not in _ACCELERATORS:
            raise UserError(f"--device {args.device!r}: use one of auto, cpu, cuda, mps")
        extra.append(f"engine.accelerator={_ACCELERATORS[args.device.lower()]}")
    if args.quiet:
        extra.append("engine.progress=false")
    path = find_recipe(args.recipe)
    recipe = load_recipe(path, _data_overrides(args.data) + extra + list(args.overrides))
    out_dir = Path(args.out) if args.out else Path("runs") / path.stem

    from facedeblur.train.engine import train

    result = train(recipe, out_dir, resume=args.resume, init_from=args.init_from)
    if result.rank == 0:
        best = result.best or {}
        figures = f", best val PSNR {best['psnr']:.2f} dB / SSIM {best['ssim']:.4f}" if best else ""
        print(f"trained {result.step} steps on {result.world_size} process(es){figures}; run folder: {out_dir}")
    return 0
