"""Pack what a GPU phase of the campaign needs into one git-ignored folder that a device call carries.

Run it in the root of the checkout the device tool sends (the session's own, usually /work/main), with the
campaign's current checkpoint:

    python benchmarks/campaign/gpu/pack_faces.py /work/runs/default-campaign-p2/checkpoints/last.ckpt

Writes ``.campaign-gpu/`` (added to ``.git/info/exclude``):

- ``faces-000.zip`` ...: the curated training faces (the recipe's ``data.train`` filtered by ``data.scores`` /
  ``data.min_sharpness`` exactly as the campaign's FaceFolder filters them), a seeded random subset, as the
  original files (UTKFace's 200 px JPEGs average 5.5 KB, less than a 128 px re-encode at q95, and are the
  very bytes the CPU run reads), stored uncompressed in shards of at most ``--shard-mib``;
- ``val.zip``: the first ``data.val_limit`` validation faces (the ones the engine validates on), originals;
- ``pairs.zip``: the real motion pairs (``options.pairs``) as lossless WebP (half the PNG size, same pixels);
- ``init.ckpt``: the checkpoint without its optimizer moments (``phase_ckpt.slim``);
- ``recipe.yaml``: the checkpoint's own recipe (so the GPU runs the campaign's recipe, whatever --set made it);
- ``manifest.json``: counts, bytes, the travelling tree's size and the budget.

As many faces as fit: one call carries at most 64 MiB, the working tree (tracked and untracked files not
ignored) included, so the faces get what the tree, the checkpoint, the pairs and the validation faces leave.
``--skip N`` leaves out the first N faces of the seeded order (those an earlier GPU phase already had).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import zipfile
from pathlib import Path

MIB = 2**20


def travelling_tree_bytes(repo: Path) -> int:
    """Bytes of what a device call sends: tracked files plus untracked files git does not ignore."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    total = 0
    for name in {n for n in out.decode().split("\0") if n}:
        path = repo / name
        if path.is_symlink() or path.is_file():
            total += path.lstat().st_size
    return total


def ignore_in_git(repo: Path, folder: Path) -> None:
    """Add ``/<folder>/`` to the repository's ``info/exclude`` unless git already ignores it."""
    try:
        rel = folder.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:  # outside the checkout: nothing travels from there anyway
        return
    if subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", rel + "/"]).returncode == 0:
        return
    common = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    exclude = Path(common) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as fh:
        fh.write(f"/{rel}/\n")


def lossless_webp(path: Path) -> bytes:
    """A PNG (or any image) re-encoded as lossless WebP; raises if the pixels would change."""
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path}: unreadable image")
    ok, data = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    back = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if not ok or back is None or not np.array_equal(back, image):
        raise ValueError(f"{path}: lossless WebP did not round-trip")
    return data.tobytes()


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> int:
    """Store ``(name, bytes)`` members uncompressed (JPEG/WebP do not shrink); returns the file's size."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    tmp.replace(path)
    return path.stat().st_size


def zip_entry_bytes(name: str, size: int) -> int:
    """Bytes one stored member takes in a zip (local header, central directory entry, data)."""
    return size + 30 + 46 + 2 * len(name.encode())


def curated_faces(recipe, skip: int, seed: int) -> list[Path]:
    """The campaign's training faces (its FaceFolder's filter) in a seeded random order, the first ``skip`` dropped."""
    import numpy as np

    from facedeblur.data.datasets import FaceFolder

    d = recipe.data
    folder = FaceFolder(
        d.train, size=d.size, recipe=None, min_sharpness=d.min_sharpness, metric=d.sharpness_metric, scores=d.scores
    )
    order = np.random.default_rng(seed).permutation(len(folder.files))
    return [folder.files[i] for i in order[skip:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="the campaign checkpoint the GPU phase starts from")
    parser.add_argument("--out", type=Path, default=Path(".campaign-gpu"), help="pack folder (inside --repo)")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the checkout a device call sends")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides (data paths)")
    parser.add_argument("--budget-mib", type=float, default=64.0, help="what one call may carry, tree included")
    parser.add_argument("--margin-mib", type=float, default=1.0, help="room left for the tree to grow")
    parser.add_argument("--shard-mib", type=float, default=55.0, help="largest face shard")
    parser.add_argument("--faces", type=int, default=None, help="at most this many faces (default: what fits)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N faces of the seeded order")
    parser.add_argument("--seed", type=int, default=0, help="seed of the face order")
    args = parser.parse_args()

    import yaml
    from phase_ckpt import slim

    from facedeblur.config import to_dict
    from facedeblur.data.datasets import list_images
    from facedeblur.train.checkpoint import load_checkpoint, save_checkpoint
    from facedeblur.train.config import RecipeConfig, load_recipe

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.zip")) + list(out.glob("*.ckpt")):
        old.unlink()
    ignore_in_git(args.repo, out)

    state = load_checkpoint(args.checkpoint)
    stored = RecipeConfig.from_mapping(state["recipe"])
    recipe_path = out / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(to_dict(stored), sort_keys=False), encoding="utf-8")
    recipe = load_recipe(recipe_path, args.set)
    recipe_path.write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False), encoding="utf-8")
    save_checkpoint(slim(state), out / "init.ckpt")
    sizes = {"init.ckpt": (out / "init.ckpt").stat().st_size, "recipe.yaml": recipe_path.stat().st_size}

    val_root = Path(recipe.data.val)
    val_files = list_images(val_root)[: recipe.data.val_limit]
    sizes["val.zip"] = write_zip(
        out / "val.zip", [(f.relative_to(val_root).as_posix(), f.read_bytes()) for f in val_files]
    )
    pairs = 0
    if recipe.options.get("pairs"):
        root = Path(recipe.options["pairs"])
        members = []
        for sub in ("blurred", "gt"):
            for f in list_images(root / sub):
                members.append((f"{sub}/{f.relative_to(root / sub).with_suffix('.webp').as_posix()}", lossless_webp(f)))
        pairs = len(members) // 2
        sizes["pairs.zip"] = write_zip(out / "pairs.zip", members)

    tree = travelling_tree_bytes(args.repo)
    room = int((args.budget_mib - args.margin_mib) * MIB) - tree - sum(sizes.values()) - 4096  # manifest
    faces = curated_faces(recipe, args.skip, args.seed)
    train_root = Path(recipe.data.train)
    shards: list[list[tuple[str, bytes]]] = [[]]
    shard_bytes, used = 22, 22  # 22: a zip's end record
    for f in faces:
        if args.faces is not None and sum(len(s) for s in shards) >= args.faces:
            break
        name = f.relative_to(train_root).as_posix()
        entry = zip_entry_bytes(name, f.stat().st_size)
        new_shard = shard_bytes + entry > args.shard_mib * MIB
        if used + entry + (22 if new_shard else 0) > room:
            break
        if new_shard:
            shards.append([])
            shard_bytes, used = 22, used + 22
        shards[-1].append((name, f.read_bytes()))
        shard_bytes, used = shard_bytes + entry, used + entry
    packed = 0
    for i, members in enumerate(s for s in shards if s):
        sizes[f"faces-{i:03d}.zip"] = write_zip(out / f"faces-{i:03d}.zip", members)
        packed += len(members)

    manifest = {
        "checkpoint": str(args.checkpoint),
        "step": int(state["step"]),
        "cpu_minutes": float(state.get("cpu_minutes") or 0.0),
        "faces": packed,
        "faces_available": len(faces) + args.skip,
        "skip": args.skip,
        "seed": args.seed,
        "val_faces": len(val_files),
        "pairs": pairs,
        "files": sizes,
        "pack_mib": round(sum(sizes.values()) / MIB, 2),
        "tree_mib": round(tree / MIB, 2),
        "budget_mib": args.budget_mib,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    total = (sum(sizes.values()) + tree + (out / "manifest.json").stat().st_size) / MIB
    print(
        f"{out}: {packed} of {len(faces) + args.skip} curated faces (skip {args.skip}), {len(val_files)} val faces, "
        f"{pairs} real pairs, checkpoint step {state['step']}; pack {manifest['pack_mib']} MiB + tree "
        f"{manifest['tree_mib']} MiB = {total:.2f} MiB of {args.budget_mib:g}"
    )
    for name, size in sizes.items():
        print(f"  {name:16s} {size / MIB:7.2f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
