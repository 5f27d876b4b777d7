"""``facedeblur models``: list the bundled models with their metrics, or show one model's metadata."""

from __future__ import annotations

import argparse
import json

from facedeblur.commands.grammar import add_command


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "models",
        help="list the bundled models and their validation metrics",
        description=(
            "List the restoration models bundled with facedeblur (name, architecture, face size, validation "
            "metrics, training data licence). Models that do not beat their own input (MSPL-like PSNR, else "
            "validation PSNR, <= the input's) are marked experimental; components of other models are marked too. With "
            "NAME (a bundled name, 'default' or a .safetensors path), show that model's full metadata."
        ),
        examples=[("models", "the table"), ("models chrysos --json", "one model's metadata as JSON")],
    )
    parser.add_argument("name", nargs="?", help="a model to describe in full")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from facedeblur.errors import ModelMismatchError, UserError
    from facedeblur.models.hub import (
        COMPONENT_ARCHITECTURES,
        DEFAULT_MODEL,
        bundled_models,
        is_experimental,
        read_metadata,
        resolve_model,
    )

    if args.name:
        path = resolve_model(args.name)
        try:
            meta = read_metadata(path)
        except ModelMismatchError as err:
            raise UserError(str(err)) from err
        data = asdict(meta)
        data["path"] = str(path)
        data["experimental"] = is_experimental(meta) and meta.architecture not in COMPONENT_ARCHITECTURES
        if args.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        else:
            for key in sorted(data):
                value = data[key]
                if key == "template":
                    value = [[round(float(v), 2) for v in point] for point in value]
                print(f"{key:>14}: {value}")
        return 0

    rows = []
    for name, path in bundled_models().items():
        try:
            meta = read_metadata(path)
        except (ModelMismatchError, UserError) as err:
            rows.append({"name": name, "error": str(err)})
            continue
        rows.append(
            {
                "name": name,
                "default": name == DEFAULT_MODEL,
                "architecture": meta.architecture,
                "face_size": meta.face_size,
                "metrics": meta.metrics,
                "trained_on": meta.trained_on,
                "training_data": meta.training_data,
                "data_license": meta.data_license,
                "size_mb": round(path.stat().st_size / 1e6, 2),
                "notes": meta.notes,
                "component": meta.architecture in COMPONENT_ARCHITECTURES,
                "experimental": is_experimental(meta) and meta.architecture not in COMPONENT_ARCHITECTURES,
            }
        )
    rows.sort(key=lambda row: (not row.get("default"), row["name"]))  # the default first
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not rows:
        print("no bundled models found (use --model PATH.safetensors with a model you trained)")
        return 0
    header = f"{'name':<12} {'architecture':<12} {'face':>5} {'MB':>6}  {'trained':<7} metrics"
    print(header)
    print("-" * len(header))
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<12} unreadable: {row['error']}")
            continue
        metrics = ", ".join(f"{k} {format_figure(v)}" for k, v in sorted(row["metrics"].items())) or "-"
        marks = (
            (" *" if row["default"] else "")
            + (" +" if row["component"] else "")
            + (" !" if row["experimental"] else "")
        )
        name = row["name"] + marks
        print(
            f"{name:<12} {row['architecture']:<12} {row['face_size']:>5} {row['size_mb']:>6.2f}  "
            f"{row['trained_on']:<7} {metrics}"
        )
    if any(row.get("experimental") for row in rows):
        print("\n! experimental: does not beat its own input (not offered by the web demo by default)")
    if any(row.get("component") for row in rows):
        print("\n+ a component of another model (psfrgan parses faces with it), not a face restorer on its own")
    if any(row.get("default") for row in rows):
        print("\n* default model (`--model default`). Training data licences:")
    else:
        print(f"\nthe default model ({DEFAULT_MODEL}) is not bundled in this installation. Training data licences:")
    for row in rows:
        if "error" not in row:
            print(f"  {row['name']}: {row['training_data']} ({row['data_license']})")
    return 0


def format_figure(value) -> str:
    """A metric as ``facedeblur models`` and ``export`` print it: 4 significant digits, counts in full.

    Example:
        >>> format_figure(27.3491), format_figure(22000.0), format_figure("n/a")
        ('27.35', '22000', 'n/a')
    """
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e4:
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)
