"""Training faces held on the training device: a GPU reads no file and decodes no JPEG per step.

The engine re-creates its DataLoader every epoch, and a packed subset of a few thousand faces is a few
batches of 256 per epoch: worker processes would be re-spawned every second. Instead the faces are decoded
once, exactly as :class:`facedeblur.data.datasets.FaceFolder` decodes them (same reader, same square resize),
and kept as one float tensor on the device; items are views, flipped as the epoch's seeded draw says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


class ResidentFaces(Dataset):
    """Sharp faces of a folder, decoded once into a (N, 3, S, S) tensor on ``device``.

    Args:
        root: folder of faces (searched recursively, sorted, as FaceFolder does).
        size: side S the faces are resized to.
        device: where the tensor lives (``cuda`` for a GPU phase).
        seed: seed of the per-epoch flips.
        flip: random horizontal flips (p = 0.5 per face and epoch).
        workers: decoding processes.

    Returns (per item):
        ``{"gt": (3, S, S) float32 on device, "path": str, "index": int}``, what FaceFolder yields for
        ``data.degrade_in: task``.
    """

    def __init__(
        self,
        root: str | Path,
        size: int,
        device: str | torch.device,
        seed: int = 0,
        flip: bool = True,
        workers: int = 4,
    ) -> None:
        from facedeblur.data.datasets import FaceFolder

        folder = FaceFolder(root, size=size, recipe=None, flip=False, skip_bad=True)
        loader = DataLoader(folder, batch_size=64, num_workers=workers, shuffle=False)
        self.faces = torch.cat([batch["gt"] for batch in loader]).to(device)
        self.paths = [str(p) for p in folder.files]
        self.seed, self.flip = int(seed), flip
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's flips (the same for the same seed and epoch)."""
        draw = torch.rand(len(self.paths), generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        self.flips = (draw < 0.5).tolist() if self.flip else [False] * len(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        face = self.faces[index]
        return {"gt": face.flip(-1) if self.flips[index] else face, "path": self.paths[index], "index": index}
