"""Training task of ParseNet: parse degraded faces against labels made on the sharp originals.

Each batch's sharp faces were labelled beforehand (``facedeblur data parse-labels IN -o LABELS``:
68 landmarks -> 10-class map, :mod:`facedeblur.face.parsing`); the network sees the degraded faces
(the recipe's ``data.recipe`` mixed with the ``restore`` recipe, see ``restore_fraction``) and learns
the labels with cross-entropy, plus L1 between its image head and the sharp face (the paper's CE + L1).
Faces without a label file are ignored by the cross-entropy (they still train the image head).

The network may run at a smaller size than the faces (``net.size`` < ``data.size``, e.g. 64 px for
the CPU recipe: parsing needs less resolution than restoration): it resizes its input and returns
logits at the faces' size, where the loss is computed.

Labels are looked up by the face file's name without extension (``LABELS/**/<stem>.png``), so the
label folder may mirror the image folder's layout or be flat. Faces the loader mirrored (random flips)
are recognised by comparing them with their file, and their labels are mirrored with left/right swapped.

Example:
    >>> from facedeblur.train.config import DataConfig
    >>> opts = ParseNetTask.parse_options({"net": {"base_channels": 8, "min_channels": 8, "num_body_blocks": 1}})
    >>> sorted(ParseNetTask(opts, DataConfig()).build_models())
    ['generator']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from facedeblur.config import ConfigError
from facedeblur.models.parsenet import ParseNetConfig
from facedeblur.train.optim import OptimizerConfig, SchedulerConfig, build_optimizer, build_scheduler
from facedeblur.train.task import TrainTask

IGNORE_LABEL = 255


@dataclass
class ParseNetTaskConfig:
    """Options of the ``parsenet`` task.

    Attributes:
        net: architecture (:class:`~facedeblur.models.parsenet.ParseNetConfig`).
        labels: folder of label PNGs from ``facedeblur data parse-labels`` (made on the sharp faces).
        ce_weight: weight of the parsing cross-entropy.
        l1_weight: weight of the image head's L1 loss.
        restore_fraction: per face, probability of re-degrading it with the ``restore`` recipe instead
            of ``data.recipe`` (0.5 = an even mix, as PSFR-GAN's training data).
        restore_options: overrides of :class:`~facedeblur.degrade.recipes.RestoreRecipe`'s fields.
        optimizer: Adam, lr 2e-4.
        scheduler: learning-rate schedule.
    """

    net: ParseNetConfig = field(default_factory=ParseNetConfig)
    labels: str = "runs/parse-labels/train"
    ce_weight: float = 1.0
    l1_weight: float = 1.0
    restore_fraction: float = 0.5
    restore_options: dict[str, Any] = field(default_factory=dict)
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=2e-4, betas=(0.9, 0.999)))
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.restore_fraction <= 1.0:
            raise ConfigError(f"options.restore_fraction must be in [0, 1], got {self.restore_fraction}")
        if self.ce_weight < 0 or self.l1_weight < 0 or self.ce_weight + self.l1_weight == 0:
            raise ConfigError("options.ce_weight and options.l1_weight must be >= 0, not both 0")


def build_restore_recipe(options: dict[str, Any]):
    """The ``restore`` recipe with ``options`` applied (errors name the bad key)."""
    from facedeblur.config import from_dict
    from facedeblur.degrade.recipes import RestoreRecipe

    return from_dict(RestoreRecipe, dict(options), "options.restore_options")


class LabelIndex:
    """Label maps by face-file stem, read from a folder of PNGs and resized (nearest) to ``size``.

    Args:
        root: folder searched recursively for ``*.png``.
        size: side of the returned maps.
    """

    def __init__(self, root: str | Path, size: int) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigError(
                f"options.labels: {self.root} is not a folder (make it with `facedeblur data parse-labels`)"
            )
        self.size = size
        self.paths = {p.stem: p for p in self.root.rglob("*.png")}
        if not self.paths:
            raise ConfigError(f"options.labels: no label PNGs in {self.root}")

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, face_path: str) -> np.ndarray:
        """``(size, size)`` uint8 labels of a face file, all :data:`IGNORE_LABEL` when it has none."""
        from PIL import Image

        path = self.paths.get(Path(face_path).stem) or self.paths.get(Path(face_path).name.split(".")[0])
        if path is None:
            return np.full((self.size, self.size), IGNORE_LABEL, np.uint8)
        with Image.open(path) as im:
            im = im.convert("L")
            if im.size != (self.size, self.size):
                im = im.resize((self.size, self.size), Image.NEAREST)
            return np.asarray(im, np.uint8)

    def batch(self, face_paths: list[str], device: torch.device, faces: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, size, size)`` int64 labels of a batch of face files.

        Args:
            face_paths: the batch's face files.
            device: where the labels go.
            faces: the batch's sharp faces ``(B, 3, size, size)`` as loaded; when given, faces that the
                loader mirrored (random flip augmentation) get mirrored labels with left/right swapped.
        """
        from facedeblur.face.parsing import flip_parsing_map

        maps = [self.get(p) for p in face_paths]
        if faces is not None:
            for i, flipped in enumerate(loaded_flipped(faces, face_paths)):
                if flipped and maps[i][0, 0] != IGNORE_LABEL:
                    maps[i] = flip_parsing_map(maps[i])
        return torch.from_numpy(np.stack(maps)).long().to(device)


def loaded_flipped(faces: torch.Tensor, face_paths: list[str]) -> list[bool]:
    """Which faces of a batch a loader mirrored: compare each with its file, as is and mirrored (in luma).

    Args:
        faces: ``(B, 3, S, S)`` faces as loaded (centre-cropped, resized, maybe flipped).
        face_paths: their files.

    Returns:
        One flag per face (False for unreadable files).
    """
    from facedeblur.data.datasets import square_resize
    from facedeblur.errors import InputError
    from facedeblur.images import read_image, to_float_rgb

    weights = faces.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    luma = (faces.detach().float() * weights).sum(1).cpu().numpy()
    flags = []
    for y, path in zip(luma, face_paths, strict=True):
        try:
            rgb = square_resize(to_float_rgb(read_image(path))[0], y.shape[-1])
        except InputError:
            flags.append(False)
            continue
        ref = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        flags.append(float(np.abs(y - ref[:, ::-1]).mean()) < float(np.abs(y - ref).mean()))
    return flags


class ParseNetTask(TrainTask):
    """ParseNet: one network, cross-entropy on parsing labels plus L1 on its image head; no discriminator."""

    Config = ParseNetTaskConfig
    architecture = "parsenet"
    ema_modules = ()

    def __init__(self, options: ParseNetTaskConfig, data) -> None:
        super().__init__(options, data)
        self._labels: LabelIndex | None = None
        self._restore = build_restore_recipe(options.restore_options) if options.restore_fraction > 0 else None

    def generator_config(self) -> dict:
        return asdict(self.options.net)

    def build_models(self) -> dict[str, torch.nn.Module]:
        from facedeblur.models.registry import build_model

        if self.options.net.size > self.data.size:
            raise ConfigError(f"options.net.size ({self.options.net.size}) must be <= data.size ({self.data.size})")
        return {"generator": build_model(self.architecture, **self.generator_config())}

    def build_optimizers(self, models):
        return {"generator": build_optimizer(models["generator"].parameters(), self.options.optimizer)}

    def build_schedulers(self, optimizers, total_steps):
        return {"generator": build_scheduler(optimizers["generator"], self.options.scheduler, total_steps)}

    @property
    def labels(self) -> LabelIndex:
        if self._labels is None:
            self._labels = LabelIndex(self.options.labels, self.data.size)
        return self._labels

    def generator_step(self, batch, step):
        from facedeblur.train.tasks.mixing import mix_recipe

        lq, gt = batch["lq"], batch["gt"]
        if self._restore is not None:
            lq, gt = mix_recipe(lq, gt, self._restore, self.options.restore_fraction, self.rng)
        target = self.labels.batch(list(batch["path"]), lq.device, batch["gt"])
        net = self.models["generator"]
        logits, image = net(lq, with_parsing=True)
        logs: dict[str, float] = {}
        loss = lq.new_zeros(())
        if (target != IGNORE_LABEL).any():
            ce = F.cross_entropy(logits.float(), target, ignore_index=IGNORE_LABEL)
            loss = loss + self.options.ce_weight * ce
            logs["ce"] = float(ce.detach())
            valid = target != IGNORE_LABEL
            logs["pixel_acc"] = float((logits.argmax(1)[valid] == target[valid]).float().mean())
        l1 = F.l1_loss(image.float(), gt)
        loss = loss + self.options.l1_weight * l1
        logs["l1"] = float(l1.detach())
        return loss, logs
