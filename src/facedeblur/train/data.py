"""Datasets and the resumable, distributed sampling order of a training run.

Faces come from :class:`facedeblur.data.datasets.FaceFolder`, whose random draws depend only on
``(seed, epoch, index)``; :class:`ResumableSampler` makes the visiting order depend only on
``(seed, epoch)`` and can start in the middle of an epoch. Together they make a resumed run see
exactly the batches an uninterrupted one would, with any number of workers.

Example:
    >>> s = ResumableSampler(10, seed=0, rank=1, world_size=2)
    >>> s.set_epoch(3, start=2)
    >>> len(list(s))
    3
"""

from __future__ import annotations

import json

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from facedeblur.train.config import DataConfig


class ResumableSampler(Sampler[int]):
    """A seeded per-epoch permutation, split across ranks, that can skip what a rank already consumed.

    Args:
        length: dataset size.
        seed: shuffling seed; the order of epoch ``e`` comes from ``torch.Generator().manual_seed(seed + e)``.
        rank / world_size: this process's share is ``perm[rank::world_size]``, truncated so that every rank
            gets the same number of samples.
        shuffle: False visits ``0..length-1`` in order.
    """

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world_size: int = 1, shuffle: bool = True) -> None:
        if length < world_size:
            raise ValueError(f"{length} samples cannot be split across {world_size} processes")
        self.length, self.seed, self.rank, self.world_size, self.shuffle = length, seed, rank, world_size, shuffle
        self.epoch = 0
        self.start = 0

    @property
    def per_rank(self) -> int:
        return self.length // self.world_size

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and how many of this rank's samples of it to skip."""
        self.epoch, self.start = int(epoch), int(start)

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            order = torch.arange(self.length)
        mine = order[self.rank :: self.world_size][: self.per_rank]
        return iter(mine[self.start :].tolist())

    def __len__(self) -> int:
        return max(0, self.per_rank - self.start)


def data_recipe(cfg: DataConfig):
    """The degradation recipe object a data section names, with its ``recipe_options`` applied."""
    from facedeblur.degrade.recipes import load_recipe

    overrides = [f"{key}={json.dumps(value)}" for key, value in cfg.recipe_options.items()]
    return load_recipe(cfg.recipe, overrides)


def build_datasets(cfg: DataConfig, with_val: bool = True) -> tuple[Dataset, Dataset | None]:
    """The training faces (degraded on the fly) and the fixed validation set (epoch 0, no flips).

    Raises:
        UserError: a folder is missing or holds no images.
    """
    from facedeblur.data.datasets import FaceFolder

    recipe = data_recipe(cfg)
    train = FaceFolder(
        cfg.train,
        size=cfg.size,
        recipe=recipe if cfg.degrade_in == "dataset" else None,
        seed=cfg.seed,
        flip=cfg.flip,
        min_sharpness=cfg.min_sharpness,
        metric=cfg.sharpness_metric,
        scores=cfg.scores,
        skip_bad=True,
        limit=cfg.limit,
    )
    val = None
    if with_val and cfg.val_limit > 0:
        val = validation_set(cfg.val, cfg.size, recipe, seed=cfg.seed, limit=cfg.val_limit)
    return train, val


def validation_set(root, size: int, recipe, seed: int = 0, limit: int | None = None) -> Dataset:
    """A deterministic degraded set: the same (lq, gt) pairs every time for the same arguments."""
    from facedeblur.data.datasets import FaceFolder

    if isinstance(recipe, str):
        from facedeblur.degrade.recipes import load_recipe

        recipe = load_recipe(recipe)
    ds = FaceFolder(root, size=size, recipe=recipe, seed=seed, flip=False, skip_bad=True, limit=limit)
    ds.set_epoch(0)
    return ds


def make_loader(dataset: Dataset, sampler: Sampler, batch_size: int, workers: int, drop_last: bool) -> DataLoader:
    """A DataLoader with fresh (non-persistent) workers, so ``dataset.set_epoch`` reaches them."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=drop_last,
        persistent_workers=False,
    )
