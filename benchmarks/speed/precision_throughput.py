"""Training img/s of every architecture in the zoo in fp32, channels_last, bf16 and bf16 + channels_last, at 1 and
2 threads, and batch-1 inference time in fp32 vs bf16: the figures behind ``engine.precision: auto``.

Each architecture is built as it ships (the bundled weights' config, or the default restorer's recipe for
the U-Nets) and trained for a few AdamW steps on random 128 px faces (L1 loss), in this one process, so the
ratios between modes are comparable even on a busy machine (absolute img/s are not). Whether the CPU has
native bf16 (AVX-512-BF16 / AMX) is printed first: without it bf16 is emulated and much slower.

    python benchmarks/speed/precision_throughput.py                        # every architecture, 1 and 2 threads
    python benchmarks/speed/precision_throughput.py --models unet --threads 1 --steps 4
"""

from __future__ import annotations

import argparse
import json
import time

# name -> (architecture, config source): a bundled model name, or a builder config.
RESTORER = {"width": 32, "enc_blocks": [1, 1, 2], "middle_blocks": 2, "dec_blocks": [1, 1, 1], "stem": "unshuffle"}
ZOO: dict[str, tuple[str, str | dict]] = {
    "chrysos": ("chrysos", "chrysos"),
    "dfpgnet": ("dfpgnet", "dfpgnet"),
    "psfrgan": ("psfrgan", "psfrgan"),
    "parsenet": ("parsenet", "parsenet"),
    "unet-res": ("unet", {**RESTORER, "block": "res"}),
    "unet-res-full": ("unet", {**RESTORER, "width": 16, "stem": "conv"}),
    "unet-naf": ("unet", {**RESTORER, "block": "naf"}),
    "wiener_unet": ("wiener_unet", {"kernel_size": 31, "estimator_width": 16, "refine": {**RESTORER, "block": "res"}}),
}
MODES = {"fp32": (False, False), "fp32+cl": (False, True), "bf16": (True, False), "bf16+cl": (True, True)}


def build(name: str):
    from facedeblur.models.hub import bundled_models, read_metadata
    from facedeblur.models.registry import build_model

    architecture, source = ZOO[name]
    if isinstance(source, str):
        source = read_metadata(bundled_models()[source]).config
    return build_model(architecture, **source)


def first_tensor(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def train_rate(name: str, bf16: bool, channels_last: bool, batch: int, steps: int) -> float:
    import torch

    torch.manual_seed(0)
    net = build(name).train()
    x, y = torch.rand(batch, 3, 128, 128), torch.rand(batch, 3, 128, 128)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), 1e-4)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = first_tensor(net(x))
        loss = (out.float() - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def infer_ms(name: str, bf16: bool, repeats: int) -> float:
    import torch

    net = build(name).eval()
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        first_tensor(net(x))
        start = time.perf_counter()
        for _ in range(repeats):
            first_tensor(net(x))
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(ZOO), choices=list(ZOO))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per mode (after one warm-up)")
    parser.add_argument("--repeats", type=int, default=5, help="timed batch-1 forward passes")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    import torch

    from facedeblur.train.engine import cpu_has_native_bf16, resolve_precision

    print(f"native bf16: {cpu_has_native_bf16()} -> engine.precision auto = {resolve_precision('auto', 'cpu')}")
    rows = []
    header = " | ".join(f"{m} img/s" for m in args.modes)
    print(f"| model | threads | {header} | best/fp32 | infer fp32 ms | infer bf16 ms |")
    print("|---|---|" + "---|" * (len(args.modes) + 3))
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.models:
            rates = {m: train_rate(name, *MODES[m], args.batch, args.steps) for m in args.modes}
            fp32_ms = infer_ms(name, False, args.repeats)
            bf16_ms = infer_ms(name, True, args.repeats)
            best = max(rates.values()) / rates["fp32"] if "fp32" in rates else float("nan")
            cells = " | ".join(f"{rates[m]:.2f}" for m in args.modes)
            print(f"| {name} | {threads} | {cells} | {best:.2f}x | {fp32_ms:.1f} | {bf16_ms:.1f} |", flush=True)
            rows.append(
                {"model": name, "threads": threads, **rates, "infer_fp32_ms": fp32_ms, "infer_bf16_ms": bf16_ms}
            )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"native_bf16": cpu_has_native_bf16(), "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
