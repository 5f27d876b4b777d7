"""Mixing degradation recipes inside a batch (PSFR-GAN and ParseNet train on ``deblur`` + ``restore``).

The engine degrades every batch with the recipe's ``data.recipe``; a task that wants a mix re-degrades
a random part of each batch from its sharp faces with a second recipe.

Example:
    >>> import torch
    >>> from facedeblur.degrade.recipes import RestoreRecipe
    >>> gen = torch.Generator().manual_seed(0)
    >>> gt = torch.rand(4, 3, 32, 32)
    >>> lq, gt2 = mix_recipe(gt.clone(), gt, RestoreRecipe(), 1.0, gen)
    >>> bool((lq - gt).abs().mean() > 0), gt2.shape
    (True, torch.Size([4, 3, 32, 32]))
"""

from __future__ import annotations

import torch


def mix_recipe(
    lq: torch.Tensor, gt: torch.Tensor, recipe, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace a random ``fraction`` of the batch's degraded faces by ``recipe``'s degradation of ``gt``.

    Args:
        lq: ``(B, 3, S, S)`` degraded faces (by the data recipe).
        gt: ``(B, 3, S, S)`` sharp faces.
        recipe: a :mod:`facedeblur.degrade.recipes` recipe instance.
        fraction: probability, per face, of being re-degraded.
        generator: CPU ``torch.Generator`` (the task's checkpointed ``rng``).

    Returns:
        ``(lq, gt)``: new tensors; targets turn grayscale where the recipe made the input grayscale.
    """
    from facedeblur.degrade.recipes import degrade_torch, prepare_target

    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if fraction == 0.0:
        return lq, gt
    pick = torch.rand(lq.shape[0], generator=generator) < fraction
    idx = pick.nonzero().flatten().tolist()
    if not idx:
        return lq, gt
    lq, gt = lq.clone(), gt.clone()
    new_lq, params = degrade_torch(gt[idx], recipe, generator)
    lq[idx] = new_lq.to(lq.dtype)
    gt[idx] = prepare_target(gt[idx], params)
    return lq, gt
