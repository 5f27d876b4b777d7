"""``facedeblur export SOURCE -o OUT``: a training checkpoint (or a bundled model) to a weights file."""

from __future__ import annotations

import argparse

from facedeblur.commands.grammar import add_command

# Output formats: name -> writer function in this module, taking (model, metadata, output path, args).
FORMATS: dict[str, str] = {
    "safetensors": "_write_safetensors",
    "onnx": "_write_onnx",
    "torchscript": "_write_torchscript",
}
# --format when not given: from the output file's extension (anything else: safetensors).
SUFFIX_FORMATS: dict[str, str] = {
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
}


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "export",
        help="export a training checkpoint or a bundled model to a weights file",
        description=(
            "Write the generator of a training checkpoint (the EMA weights when the run kept them) with its "
            "metadata: architecture, config, face size, alignment template, training data and licence, "
            "validation metrics. SOURCE may also be a bundled model name or a .safetensors file."
        ),
        examples=[
            ("export runs/chrysos/checkpoints/best.ckpt -o my.safetensors", "a run's best weights"),
            ("export chrysos --format onnx -o chrysos.onnx", "a bundled model for onnxruntime"),
            ("export my.safetensors -o my.pt", "TorchScript"),
        ],
    )
    parser.add_argument("source", metavar="CHECKPOINT", help="runs/NAME/checkpoints/best.ckpt, a model name or a file")
    parser.add_argument("-o", "--output", required=True, help="output file, e.g. model.safetensors")
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="output format (default: from -o's extension: .onnx, .pt/.ts TorchScript, else safetensors); "
        "onnx and torchscript exports are checked against PyTorch (max abs difference <= 1e-3)",
    )
    parser.add_argument("--name", help="model name recorded in the metadata (default: the run folder's name)")
    parser.add_argument("--data-license", help="licence of the training data (default: UTKFace's for UTKFace runs)")
    parser.add_argument(
        "--metrics",
        metavar="JSON",
        help="validation metrics to record instead of the checkpoint's "
        "(a JSON file of name -> number, e.g. from benchmarks/quality/validate.py --json)",
    )
    parser.add_argument("--notes", default="", help="free text shown by `facedeblur models`")
    parser.set_defaults(handler=_run)


def _read_metrics(path: str | None) -> dict[str, float] | None:
    import json
    from pathlib import Path

    from facedeblur.errors import UserError

    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot read metrics JSON ({err})") from err
    data = data.get("metrics", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        raise UserError(f"{path}: expected a JSON object of metric name -> number")
    return {str(k): float(v) for k, v in data.items()}


def _write_safetensors(model, meta, output, args) -> None:
    from facedeblur.models.hub import save_weights

    save_weights(model, output, meta)


def _write_onnx(model, meta, output, args) -> None:
    from facedeblur.deploy.export import export_for_cli

    export_for_cli(model, meta, output, "onnx", args.source)


def _write_torchscript(model, meta, output, args) -> None:
    from facedeblur.deploy.export import export_for_cli

    export_for_cli(model, meta, output, "torchscript", args.source)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facedeblur.errors import UserError
    from facedeblur.train.export import load_source

    output = Path(args.output)
    if output.resolve() == Path(args.source).resolve():
        raise UserError(f"{output}: refusing to overwrite the source")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: output folder does not exist")
    model, meta = load_source(args.source, args.name, args.data_license, _read_metrics(args.metrics), args.notes)
    args.format = args.format or SUFFIX_FORMATS.get(output.suffix.lower(), "safetensors")
    globals()[FORMATS[args.format]](model, meta, output, args)
    size = output.stat().st_size / 1e6
    from facedeblur.commands.models import format_figure

    figures = ", ".join(f"{k} {format_figure(v)}" for k, v in meta.metrics.items())
    print(f"wrote {output} ({meta.architecture}, {size:.1f} MB{', ' + figures if figures else ''})")
    return 0
