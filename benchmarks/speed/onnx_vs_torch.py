"""ONNX Runtime vs PyTorch latency per aligned-face batch on the CPU, for every bundled model.

Each model is exported with `facedeblur export NAME --format onnx` (the same code, into a temporary
folder, parity-checked against PyTorch), then both runtimes restore the same random 128 px face
batches with the same number of CPU threads; the median of ``--repeats`` timed runs (after warm-up)
is reported per batch and per face. Prints a markdown table (the one in docs/benchmarks.md).

    python benchmarks/speed/onnx_vs_torch.py                          # every bundled model, batch 1 and 8, 1 thread
    python benchmarks/speed/onnx_vs_torch.py --models chrysos --batch 1 8 16 --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path


def _median_seconds(run, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


STAND_IN_ARCHITECTURES = ("chrysos", "dfpgnet", "psfrgan")
ROOT = Path(__file__).resolve().parents[2]


def stand_in(architecture: str, bundled: dict):
    """An untrained ``architecture`` network with the bundled recipe's config (configs/ARCH.yaml options.net)."""
    import torch
    import yaml

    from facedeblur.face.align import template
    from facedeblur.models.hub import WeightsMetadata, read_metadata
    from facedeblur.models.registry import build_model
    from facedeblur.train.recipes import CONFIG_DIRS

    recipe = yaml.safe_load((CONFIG_DIRS[0] / f"{architecture}.yaml").read_text())
    config = dict(recipe["options"]["net"])
    if architecture == "psfrgan" and "parsenet" in bundled:
        config["parsenet"] = read_metadata(bundled["parsenet"]).config
    model = build_model(architecture, **config).eval()
    with torch.no_grad():  # zero-initialised output maps make an untrained net the identity: perturb them
        for name, param in model.named_parameters():
            if name.startswith(("to_image", "to_rgb")):
                param.normal_(0, 0.05)
    meta = WeightsMetadata(
        name=architecture,
        architecture=architecture,
        config=config,
        face_size=128,
        template=template(128).tolist(),
        training_data="untrained stand-in",
        data_license="n/a",
        trained_on="cpu",
    )
    return model, meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", help="bundled names or .safetensors files (default: every bundled)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="faces per forward pass")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both runtimes")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--stand-ins",
        action="store_true",
        help="also time untrained networks built from facedeblur/configs/ARCH.yaml for the restoration architectures "
        "(chrysos, dfpgnet, psfrgan) that are not bundled: latency does not depend on training",
    )
    parser.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch

    from facedeblur.deploy.export import export_model
    from facedeblur.models.hub import bundled_models, load_weights, resolve_model

    torch.set_num_threads(args.threads)
    names = args.models or sorted(bundled_models())
    if not names:
        print("no bundled models found; pass --models FILE.safetensors")
        return 1
    candidates = [(name, lambda name=name: load_weights(resolve_model(name))) for name in names]
    if args.stand_ins:
        bundled = {name: path for name, path in bundled_models().items()}
        missing = [arch for arch in STAND_IN_ARCHITECTURES if arch not in bundled]
        candidates += [(f"{arch} (untrained stand-in)", lambda arch=arch: stand_in(arch, bundled)) for arch in missing]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, load in candidates:
            model, meta = load()
            report = export_model(model, meta, Path(tmp) / f"{meta.name}.onnx", "onnx")
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(report.path), sess_options=options, providers=["CPUExecutionProvider"])
            input_name = session.get_inputs()[0].name
            size = int(meta.face_size)
            for batch in args.batch:
                faces = np.random.default_rng(batch).random((batch, 3, size, size), dtype=np.float32)
                tensor = torch.from_numpy(faces)

                def run_torch(model=model, tensor=tensor):
                    with torch.inference_mode():
                        model(tensor)

                def run_ort(session=session, feed={input_name: faces}):  # noqa: B006 (read-only default)
                    session.run(None, feed)

                t_torch = _median_seconds(run_torch, args.repeats)
                t_ort = _median_seconds(run_ort, args.repeats)
                rows.append(
                    {
                        "model": label if " " in label else meta.name,
                        "architecture": meta.architecture,
                        "batch": batch,
                        "torch_ms": round(t_torch * 1000, 2),
                        "onnxruntime_ms": round(t_ort * 1000, 2),
                        "torch_ms_per_face": round(t_torch * 1000 / batch, 2),
                        "onnxruntime_ms_per_face": round(t_ort * 1000 / batch, 2),
                        "speedup": round(t_torch / t_ort, 2),
                        "max_abs_diff": report.max_abs_diff,
                        "onnx_mb": round(report.size_bytes / 1e6, 2),
                    }
                )
    print(
        f"CPU: {platform.processor() or platform.machine()}, {args.threads} thread(s); torch {torch.__version__}, "
        f"onnxruntime {ort.__version__}; {size} px faces, median of {args.repeats} runs\n"
    )
    print("| model | batch | PyTorch ms (per face) | ONNX Runtime ms (per face) | speed-up | max abs diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        label = r["model"] if r["model"].startswith(r["architecture"]) else f"{r['model']} ({r['architecture']})"
        print(
            f"| {label} | {r['batch']} | {r['torch_ms']:.1f} ({r['torch_ms_per_face']:.1f}) "
            f"| {r['onnxruntime_ms']:.1f} ({r['onnxruntime_ms_per_face']:.1f}) | {r['speedup']:.2f}x "
            f"| {r['max_abs_diff']:.1e} |"
        )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"threads": args.threads, "repeats": args.repeats, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
