"""Model cost and speed: parameters, FLOPs, latency and throughput on CPU and (when present) GPU.

FLOPs are counted by PyTorch itself (:class:`torch.utils.flop_counter.FlopCounterMode`, offline): one
multiply-add is two FLOPs, and only matrix multiplications and convolutions are counted (element-wise
operations, normalisation and activations are not), as in most published tables. Timings are medians
over repeated runs after warm-up, in inference mode, float32; they are printed by ``facedeblur benchmark``
and ``benchmarks/quality/run_protocols.py``, never asserted by tests.

Example:
    >>> import torch
    >>> net = torch.nn.Conv2d(3, 3, 3, padding=1)
    >>> count_parameters(net)
    84
    >>> count_flops(net, 8)  # 2 * 3 * 3 * 9 * 8 * 8
    10368
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def count_parameters(model) -> int:
    """Number of parameters of a torch module (all of them, trainable or not)."""
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model, size: int = 128, channels: int = 3) -> int:
    """FLOPs of one forward pass on a single (1, channels, size, size) input, counted by PyTorch.

    Args:
        model: module taking (B, C, S, S).
        size: input side.
        channels: input channels.

    Returns:
        Total FLOPs (2 per multiply-add) of convolutions and matrix products.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(iter(model.parameters()), torch.empty(0)).device
    x = torch.rand(1, channels, size, size, device=device)
    counter = FlopCounterMode(display=False)
    # gradients stay enabled: the counter's module tracker hooks autograd, which fails under no_grad for
    # modules that derive weights in forward (spectral norm); batch 1 keeps the graph small
    with torch.enable_grad(), counter:
        model(x)
    return int(counter.get_total_flops())


def _timed(fn: Callable[[], Any], warmup: int, repeats: int, sync: Callable[[], None]) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_model(model, size: int, batch: int, device: str = "cpu", warmup: int = 2, repeats: int = 5) -> float:
    """Median seconds of one forward pass of a (batch, 3, size, size) input on ``device``."""
    import torch

    model = model.to(device).eval()
    x = torch.rand(batch, 3, size, size, device=device)

    def sync() -> None:
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return _timed(run, warmup, repeats, sync)


def time_function(fn: Callable[[], Any], warmup: int = 1, repeats: int = 5) -> float:
    """Median seconds of ``fn()`` (for the numpy baselines)."""
    return _timed(fn, warmup, repeats, lambda: None)


def model_speed(
    model, size: int = 128, cpu_batch: int = 8, gpu_batch: int = 32, repeats: int = 5, gpu: bool | None = None
) -> dict[str, float]:
    """Parameters, FLOPs and timings of one model.

    Args:
        model: restoration model taking (B, 3, size, size).
        size: face side.
        cpu_batch: batch size of the CPU throughput measurement.
        gpu_batch: batch size of the GPU throughput measurement.
        repeats: timed repetitions (median reported).
        gpu: measure on CUDA; default when CUDA is available.

    Returns:
        ``params_m`` (millions), ``gflops`` (per face), ``cpu_latency_ms`` (batch 1), ``cpu_throughput``
        (faces/s at ``cpu_batch``) and, on a GPU, ``gpu_latency_ms`` and ``gpu_throughput``.
    """
    import torch

    model = model.to("cpu").eval()
    out: dict[str, float] = {
        "params_m": count_parameters(model) / 1e6,
        "gflops": count_flops(model, size) / 1e9,
        "cpu_latency_ms": 1000 * time_model(model, size, 1, "cpu", repeats=repeats),
        "cpu_throughput": cpu_batch / time_model(model, size, cpu_batch, "cpu", warmup=1, repeats=max(2, repeats // 2)),
    }
    if gpu if gpu is not None else torch.cuda.is_available():
        out["gpu_latency_ms"] = 1000 * time_model(model, size, 1, "cuda", warmup=5, repeats=max(10, repeats))
        out["gpu_throughput"] = gpu_batch / time_model(
            model, size, gpu_batch, "cuda", warmup=3, repeats=max(10, repeats)
        )
        model.to("cpu")
    return out


def baseline_speed(
    restore: Callable[[np.ndarray, list], np.ndarray], size: int = 128, kernel_size: int = 21
) -> dict[str, float]:
    """CPU latency and throughput of a numpy baseline on one face with a ``kernel_size`` kernel."""
    rng = np.random.default_rng(0)
    face = rng.random((1, size, size, 3), dtype=np.float32)
    kernel = np.full((kernel_size, kernel_size), 1.0 / kernel_size**2, np.float32)
    seconds = time_function(lambda: restore(face, [kernel]))
    return {"cpu_latency_ms": 1000 * seconds, "cpu_throughput": 1.0 / seconds}
