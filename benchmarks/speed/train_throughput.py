"""Training throughput (faces per second) of a recipe through the real engine, on synthetic in-memory faces.

Runs `facedeblur.train.engine.train` with the recipe's model, optimizer, EMA and clipping, on random
faces held in memory (so disk and JPEG decoding are not measured), and reports the rate between the
end of the warm-up and the last step. On a GPU it also reports the recipe under bf16/fp16 mixed precision.

    python benchmarks/speed/train_throughput.py                       # facedeblur/configs/chrysos.yaml, CPU
    python benchmarks/speed/train_throughput.py --set options.crop=null --threads 2
    python benchmarks/speed/train_throughput.py --accelerator gpu --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import json
import tempfile


class RandomFaces:
    """``count`` random (lq, gt) pairs of ``size`` px in memory, with FaceFolder's interface."""

    def __init__(self, count: int, size: int) -> None:
        import torch

        gen = torch.Generator().manual_seed(0)
        self.gt = torch.rand(count, 3, size, size, generator=gen)
        self.lq = (self.gt + 0.05 * torch.randn(count, 3, size, size, generator=gen)).clamp(0, 1)

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return len(self.gt)

    def __getitem__(self, i: int) -> dict:
        return {"lq": self.lq[i], "gt": self.gt[i], "path": f"random_{i}", "index": i}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="chrysos", help="recipe name or YAML")
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], help="recipe overrides key=value")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the recipe's)")
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--precision", default=None, help="e.g. 32-true, bf16-mixed, 16-mixed")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    from facedeblur.train.config import load_recipe
    from facedeblur.train.engine import resolve_accelerator, resolve_precision, train
    from facedeblur.train.recipes import find_recipe

    total = args.warmup + args.steps
    overrides = list(args.overrides) + [
        f"engine.steps={total}",
        f"engine.log_every={args.warmup}",
        f"engine.val_every={total + 1}",
        f"engine.ckpt_every={total + 1}",
        "engine.time_limit=null",
        "engine.progress=false",
        f"engine.accelerator={args.accelerator}",
    ]
    if args.threads is not None:
        overrides.append(f"engine.threads={args.threads}")
    if args.precision is not None:
        overrides.append(f"engine.precision={args.precision}")
    recipe = load_recipe(find_recipe(args.recipe), overrides)
    size, batch = recipe.data.size, recipe.engine.batch_size
    data = RandomFaces(max(batch * 4, 32), size)
    with tempfile.TemporaryDirectory() as tmp:
        train(recipe, tmp, datasets=(data, None))
        events = [json.loads(line) for line in open(f"{tmp}/metrics.jsonl", encoding="utf-8")]
    rate = [e for e in events if e["event"] == "train"][-1]["img_per_s"]
    crop = recipe.options.get("crop")
    where = f"{crop} px windows of {size} px faces" if crop else f"{size} px faces"
    precision = resolve_precision(recipe.engine.precision, resolve_accelerator(args.accelerator))
    print(
        f"{recipe.task} ({args.accelerator}, {precision}, threads {recipe.engine.threads}, "
        f"batch {batch}, {where}): {rate:.2f} img/s"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"recipe": args.recipe, "overrides": args.overrides, "img_per_s": rate}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
