"""Per-class IoU of a parsing network on validation faces, clean and degraded (fixed seed).

Targets are the landmark pseudo-labels of the sharp validation faces (``facedeblur data parse-labels``);
faces are resized to ``--size`` (128), the network parses them at its own size and its logits are
resized back (as inside PSFR-GAN); it parses the clean face and the same face degraded by each
recipe (``deblur``, ``restore``; sample ``i`` uses ``numpy.random.default_rng([seed, i])``).
Prints a markdown table and writes JSON.

    facedeblur data parse-labels ../shared/data/utkface/val -o runs/parse-labels/val
    python benchmarks/quality/parsenet_miou.py --model parsenet --labels runs/parse-labels/val

``--model`` takes a bundled name or a ``.safetensors`` file of a ``parsenet`` model, or of a ``psfrgan``
bundle (its parsing network is evaluated).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="parsenet")
    parser.add_argument("--faces", default="../shared/data/utkface/val")
    parser.add_argument("--labels", default="runs/parse-labels/val")
    parser.add_argument("--recipes", default="clean,deblur,restore")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=128, help="face size the labels are scored at")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument(
        "--prior-labels",
        default=None,
        help="training label folder: also score the per-pixel most frequent training label (ignores the image)",
    )
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from facedeblur.data.datasets import list_images, square_resize
    from facedeblur.degrade.recipes import degrade_numpy, load_recipe
    from facedeblur.eval.parsing import confusion_matrix, iou_per_class, mean_iou
    from facedeblur.face.parsing import PARSING_CLASSES
    from facedeblur.images import read_image, to_float_rgb
    from facedeblur.models.hub import load_weights, resolve_model
    from facedeblur.models.psfrgan import parse_faces
    from facedeblur.train.tasks.parsenet import LabelIndex

    model, meta = load_weights(resolve_model(args.model))
    net = model.parsenet if meta.architecture == "psfrgan" else model
    if meta.architecture not in ("parsenet", "psfrgan"):
        print(f"{args.model}: a {meta.architecture} model has no parsing network", file=sys.stderr)
        return 2
    size = meta.face_size if meta.architecture == "psfrgan" else args.size
    labels = LabelIndex(args.labels, size)
    files = [f for f in list_images(args.faces) if f.stem in labels.paths or f.name.split(".")[0] in labels.paths]
    files = files[: args.limit]
    if not files:
        print(f"no face in {args.faces} has a label in {args.labels}", file=sys.stderr)
        return 2
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    n = len(PARSING_CLASSES)
    conf = {r: np.zeros((n, n), np.int64) for r in recipes}
    prior = None
    if args.prior_labels:
        train_labels = LabelIndex(args.prior_labels, size)
        counts = np.zeros((n, size, size), np.int64)
        for label_path in sorted(train_labels.paths.values())[:1000]:
            lab = train_labels.get(str(label_path))
            counts += lab[None] == np.arange(n)[:, None, None]
        prior = counts.argmax(0)
        conf["prior (no image)"] = np.zeros((n, n), np.int64)
    start = time.time()
    torch.set_grad_enabled(False)
    for b0 in range(0, len(files), args.batch_size):
        chunk = files[b0 : b0 + args.batch_size]
        gts = [square_resize(to_float_rgb(read_image(f))[0], size) for f in chunk]
        target = np.stack([labels.get(str(f)) for f in chunk])
        for r in recipes:
            if r == "clean":
                imgs = gts
            else:
                recipe = load_recipe(r)
                imgs = [
                    degrade_numpy(g, recipe, np.random.default_rng([args.seed, b0 + i]))[0] for i, g in enumerate(gts)
                ]
            x = torch.from_numpy(np.stack(imgs).transpose(0, 3, 1, 2).copy()).float()
            pred = parse_faces(net, x).argmax(1).numpy()
            conf[r] += confusion_matrix(pred, target, n)
        if prior is not None:
            conf["prior (no image)"] += confusion_matrix(np.broadcast_to(prior, target.shape), target, n)
    results = {
        r: {
            "miou": round(mean_iou(c), 4),
            "iou": {name: round(float(v), 4) for name, v in zip(PARSING_CLASSES, iou_per_class(c), strict=True)},
        }
        for r, c in conf.items()
    }
    header = "| input | mIoU | " + " | ".join(PARSING_CLASSES) + " |"
    print(f"{args.model} ({meta.trained_on}-trained) on {len(files)} faces of {args.faces}, seed {args.seed}\n")
    print(header)
    print("|" + "---|" * (len(PARSING_CLASSES) + 2))
    for r, res in results.items():
        print(f"| {r} | {res['miou']:.3f} | " + " | ".join(f"{v:.3f}" for v in res["iou"].values()) + " |")
    print(f"\n({time.time() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"model": args.model, "faces": len(files), "seed": args.seed, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
