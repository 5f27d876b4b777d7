"""Validation of a restoration forward on a degraded set: mean PSNR/SSIM (RGB, data range 1) and previews.

The same function serves the engine (every ``engine.val_every`` steps) and ``benchmarks/quality/validate.py``
(the figures in the README), so both report the same numbers for the same weights and set.

Example:
    >>> import torch
    >>> data = [{"lq": torch.rand(2, 3, 16, 16), "gt": torch.rand(2, 3, 16, 16)}]
    >>> out = evaluate(lambda lq: lq, data)
    >>> sorted(out.metrics)
    ['psnr', 'psnr_input', 'ssim', 'ssim_input']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch


@dataclass
class Evaluation:
    """Mean metrics over the set (``psnr``/``ssim`` of the restored faces, ``*_input`` of the degraded ones),
    the number of faces, and a preview grid (3, rows*S, 3*S) of lq | restored | gt for the first faces."""

    metrics: dict[str, float]
    count: int
    preview: torch.Tensor | None = field(default=None, repr=False)


def image_grid(rows: list[torch.Tensor]) -> torch.Tensor:
    """Stack images (3, S, S) into a grid: each element of ``rows`` is a (N, 3, S, S) batch laid out left to right.

    Shape:
        list of R tensors (N, 3, S, S) -> (3, R*S, N*S)
    """
    return torch.cat([torch.cat(list(row.clamp(0, 1)), dim=2) for row in rows], dim=1)


@torch.no_grad()
def evaluate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[dict],
    device: str | torch.device = "cpu",
    preview: int = 0,
) -> Evaluation:
    """Run ``forward`` on every batch and average PSNR/SSIM against ``gt`` (outputs clamped to [0, 1]).

    Args:
        forward: maps an lq batch (B, 3, S, S) to the restored batch.
        batches: dicts with ``lq`` and ``gt`` (e.g. a DataLoader over a FaceFolder).
        device: where ``forward`` runs.
        preview: faces to put into the preview grid (0: none).

    Returns:
        An :class:`Evaluation`.
    """
    from facedeblur.eval.metrics import psnr, ssim

    sums = {"psnr": 0.0, "ssim": 0.0, "psnr_input": 0.0, "ssim_input": 0.0}
    count = 0
    rows: list[torch.Tensor] = []
    for batch in batches:
        lq = batch["lq"].to(device).float()
        gt = batch["gt"].to(device).float()
        restored = forward(lq).float().clamp(0, 1)
        sums["psnr"] += float(psnr(restored, gt).sum())
        sums["ssim"] += float(ssim(restored, gt).sum())
        sums["psnr_input"] += float(psnr(lq.clamp(0, 1), gt).sum())
        sums["ssim_input"] += float(ssim(lq.clamp(0, 1), gt).sum())
        for i in range(lq.shape[0]):
            if len(rows) < preview:
                rows.append(torch.stack([lq[i], restored[i], gt[i]]).cpu())
        count += lq.shape[0]
    if count == 0:
        raise ValueError("evaluate: no faces in the validation set")
    grid = image_grid(rows) if rows else None
    return Evaluation({k: v / count for k, v in sums.items()}, count, grid)
