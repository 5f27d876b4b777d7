"""How the campaign scores a weights file on a protocol's pairs: one function for the curve and the bundling step.

from scoring import protocol_scores
mine, blurred = protocol_scores(Path("snap.safetensors"), Path("runs/campaign-curve/mspl"), ("psnr", "ssim"))
"""

from __future__ import annotations

from pathlib import Path


def protocol_scores(
    weights: Path, pairs_dir: Path, metrics: tuple[str, ...] = ("psnr",)
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean metrics of a weights file and of the blurred input on a pairs folder.

    Args:
        weights: a ``.safetensors`` restorer.
        pairs_dir: a protocol's pairs folder (``blurred/``, ``gt/``).
        metrics: metric names of ``facedeblur.eval.metrics``.

    Returns:
        ``(restored, blurred)``: metric name -> mean over the pairs.
    """
    from facedeblur.eval.runner import evaluate_method, load_method, read_pairs, summarise

    pairs = read_pairs(pairs_dir)
    mine = summarise(evaluate_method(pairs, load_method(str(weights)), metrics=metrics).rows, metrics)
    base = summarise(evaluate_method(pairs, load_method("blurred"), metrics=metrics).rows, metrics)
    return mine, base
