"""PyTorch datasets: sharp faces degraded on the fly, folders of pairs, frame-averaged video pairs.

Every random choice of sample ``i`` in epoch ``e`` comes from ``np.random.default_rng([seed, e, i])``,
so a sample is the same whichever DataLoader worker loads it, however many workers there are, and
in whatever order. Call :meth:`FaceFolder.set_epoch` before each epoch (with non-persistent workers,
which are re-created from the dataset each epoch) to get fresh degradations.

Samples are dicts of (3, S, S) float32 tensors in [0, 1] (``lq``, ``gt``) plus ``path`` (str) and
``index`` (int), so the default collate function batches them.

Example:
    >>> import numpy as np, tempfile, os
    >>> from facedeblur.images import write_image
    >>> root = tempfile.mkdtemp()
    >>> write_image(os.path.join(root, "a.png"), (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8))
    >>> ds = FaceFolder(root, size=32, seed=0)
    >>> ds[0]["lq"].shape
    torch.Size([3, 32, 32])
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from facedeblur.degrade.ops import square_resize
from facedeblur.errors import InputError, UserError
from facedeblur.images import is_image_path, read_image, to_float_rgb

LOGGER = logging.getLogger("facedeblur.data")


def list_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension), sorted, hidden files and folders skipped."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    pattern = root.rglob("*") if recursive else root.glob("*")
    files = [
        p
        for p in pattern
        if p.is_file() and is_image_path(p) and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(files)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float numpy -> (3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


def _read_rgb(path: Path) -> np.ndarray:
    rgb, _, _ = to_float_rgb(read_image(path))
    return rgb


def load_scores(path: str | Path, size: int | None = None) -> dict[str, dict[str, float]]:
    """Sharpness scores from a ``facedeblur data curate --report`` JSON: ``{path: {metric: score}}``.

    Reads the batch core's layout (each scored file's record holds its ``scores``; an interrupted run's
    report gives the files it scored) and the layout of earlier versions (one ``scores`` table).

    Args:
        path: the report.
        size: the face size the dataset scores at (the report's ``size`` must match: scores depend on it).

    Returns:
        The scores by image path, as the report names the images.

    Raises:
        UserError: not a curate report, or one scored at another size.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data.get("files"), list):
            scores = {str(r["input"]): r["scores"] for r in data["files"] if r.get("status") == "ok" and "scores" in r}
        else:  # a report of an earlier version: one table
            scores = data["scores"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserError(f"{path}: not a curate report with 'scores' ({err})") from err
    if data.get("size") != size:
        raise UserError(f"{path}: scores were computed at size {data.get('size')}, the dataset uses {size}")
    return scores


class _SeededDataset(Dataset):
    def __init__(self, seed: int, skip_bad: bool) -> None:
        self.seed = int(seed)
        self.epoch = 0
        self.skip_bad = skip_bad
        self.skipped: list[str] = []

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws ``__getitem__`` makes."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        for attempt in range(len(self)):
            i = (index + attempt) % len(self)
            try:
                return self._load(i, index)
            except InputError as err:
                if not self.skip_bad:
                    raise
                self.skipped.append(str(err))
                LOGGER.warning("skipping bad file: %s", err)
        raise InputError("no readable file in the dataset")

    def _load(self, i: int, index: int) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class FaceFolder(_SeededDataset):
    """A folder tree of sharp faces -> (degraded, sharp) pairs made on the fly.

    Args:
        root: folder searched recursively for images.
        size: side S of the square samples (faces are centre-cropped to square and resized).
        recipe: a recipe object or name/YAML path for :func:`facedeblur.degrade.recipes.load_recipe`;
            ``None`` yields only ``gt`` (for degrading batches on the training device with
            :func:`facedeblur.degrade.recipes.degrade_torch`).
        seed: base seed; sample ``i`` of epoch ``e`` draws from ``default_rng([seed, e, i])``.
        flip: random horizontal flips (p = 0.5).
        min_sharpness: drop ground truths scoring below this with ``metric``, scored at ``size`` px
            (``facedeblur data curate --size S``). For UTKFace at 128 px we use laplacian >= 20 (README).
        metric: "laplacian" or "crete" (see :mod:`facedeblur.data.sharpness`).
        scores: a ``data curate --report`` JSON with precomputed scores; without it the filter scores
            every file when the dataset is built (with a progress bar).
        skip_bad: replace unreadable files with the next readable one (recorded in ``skipped``)
            instead of raising :class:`facedeblur.errors.InputError`.
        limit: use only the first ``limit`` files (sorted by path).

    Returns (per item):
        ``{"lq": (3, S, S), "gt": (3, S, S), "path": str, "index": int}`` (``lq`` absent when
        ``recipe`` is None). ``gt`` is grayscale when the recipe drew a grayscale sample.
    """

    def __init__(
        self,
        root: str | Path,
        size: int = 128,
        recipe: Any = "deblur",
        seed: int = 0,
        flip: bool = True,
        min_sharpness: float | None = None,
        metric: str = "laplacian",
        scores: str | Path | None = None,
        skip_bad: bool = False,
        limit: int | None = None,
    ) -> None:
        super().__init__(seed, skip_bad)
        if size is not None and size < 8:
            raise ValueError(f"size must be >= 8, got {size}")
        self.root = Path(root)
        self.size = size
        self.flip = flip
        if isinstance(recipe, str):
            from facedeblur.degrade.recipes import load_recipe

            recipe = load_recipe(recipe)
        self.recipe = recipe
        files = list_images(self.root)
        if limit is not None:
            files = files[:limit]
        if not files:
            raise UserError(f"{self.root}: no images found")
        if min_sharpness is not None:
            files = self._filter(files, float(min_sharpness), metric, scores)
            if not files:
                raise UserError(f"{self.root}: no image reaches {metric} sharpness {min_sharpness}")
        self.files = files

    def _filter(self, files: list[Path], threshold: float, metric: str, scores_path) -> list[Path]:
        from facedeblur.data.sharpness import score_files

        if scores_path is not None:
            table = load_scores(scores_path, self.size)
            table = {str(Path(k).resolve()): v for k, v in table.items()}
            missing = [f for f in files if str(f.resolve()) not in table]
            if missing:
                new, _ = score_files(missing, (metric,), skip_bad=True, size=self.size)
                table.update({str(Path(k).resolve()): v for k, v in new.items()})
        else:
            raw, _ = score_files(files, (metric,), skip_bad=True, progress=len(files) > 1000, size=self.size)
            table = {str(Path(k).resolve()): v for k, v in raw.items()}
        kept = [f for f in files if table.get(str(f.resolve()), {}).get(metric, -np.inf) >= threshold]
        LOGGER.info("sharpness filter %s >= %s keeps %d of %d faces", metric, threshold, len(kept), len(files))
        return kept

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, i: int, index: int) -> dict[str, Any]:
        from facedeblur.degrade.recipes import degrade_numpy, prepare_target

        rng = self.rng(index)
        gt = square_resize(_read_rgb(self.files[i]), self.size)
        if self.flip and rng.random() < 0.5:
            gt = gt[:, ::-1]
        gt = np.ascontiguousarray(gt, dtype=np.float32)
        sample: dict[str, Any] = {"path": str(self.files[i]), "index": index}
        if self.recipe is not None:
            lq, params = degrade_numpy(gt, self.recipe, rng)
            sample["lq"] = to_tensor(lq)
            gt = prepare_target(gt, params)
        sample["gt"] = to_tensor(gt)
        return sample


def match_pairs(root: str | Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """The pairs of a pair folder, and its blurred files without a ground truth.

    Args:
        root: folder with ``blurred/`` and ``gt/`` (same relative name, any image extension).

    Returns:
        ``(pairs, missing)``: ``(blurred, gt)`` paths, sorted, and the blurred files with no ``gt/`` match.

    Raises:
        UserError: ``blurred/`` or ``gt/`` is missing.
    """
    root = Path(root)
    blurred_dir, gt_dir = root / "blurred", root / "gt"
    for d in (blurred_dir, gt_dir):
        if not d.is_dir():
            raise UserError(f"{root}: expected sub-folders blurred/ and gt/ ({d.name}/ is missing)")
    gts = {p.relative_to(gt_dir).with_suffix(""): p for p in list_images(gt_dir)}
    pairs, missing = [], []
    for b in list_images(blurred_dir):
        key = b.relative_to(blurred_dir).with_suffix("")
        if key in gts:
            pairs.append((b, gts[key]))
        else:
            missing.append(b)
    return pairs, missing


def _match_pairs(root: Path) -> list[tuple[Path, Path]]:
    pairs, missing = match_pairs(root)
    if missing:
        raise UserError(f"{root}: {len(missing)} blurred image(s) have no ground truth in gt/, e.g. {missing[0]}")
    if not pairs:
        raise UserError(f"{root}: no image pairs found in blurred/ and gt/")
    return pairs


class PairedFolder(_SeededDataset):
    """Pairs ``ROOT/blurred/<name>`` + ``ROOT/gt/<name>`` (same relative name, any image extension).

    Args:
        root: folder with ``blurred/`` and ``gt/`` (as written by ``facedeblur degrade images|video``).
        size: resize both to S x S (centre square crop first); None keeps the stored size.
        crop: instead of resizing, take a random aligned crop of this side (seeded per index/epoch).
        flip: random horizontal flips of both.
        seed: base seed of the flips/crops.
        skip_bad: replace unreadable pairs by the next readable one.

    Returns (per item):
        ``{"lq": (3, S, S), "gt": (3, S, S), "path": str (the blurred file), "index": int}``.
    """

    def __init__(
        self,
        root: str | Path,
        size: int | None = None,
        crop: int | None = None,
        flip: bool = False,
        seed: int = 0,
        skip_bad: bool = False,
    ) -> None:
        super().__init__(seed, skip_bad)
        if size is not None and crop is not None:
            raise ValueError("choose either size (resize) or crop, not both")
        self.root = Path(root)
        self.size, self.crop, self.flip = size, crop, flip
        self.pairs = _match_pairs(self.root)

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, i: int, index: int) -> dict[str, Any]:
        rng = self.rng(index)
        b_path, g_path = self.pairs[i]
        lq, gt = _read_rgb(b_path), _read_rgb(g_path)
        if lq.shape != gt.shape:
            raise InputError(f"{b_path}: size {lq.shape[:2]} differs from its ground truth {gt.shape[:2]}")
        if self.crop is not None:
            h, w = lq.shape[:2]
            if min(h, w) < self.crop:
                raise InputError(f"{b_path}: {h}x{w} is smaller than the crop {self.crop}")
            y0, x0 = int(rng.integers(h - self.crop + 1)), int(rng.integers(w - self.crop + 1))
            lq = lq[y0 : y0 + self.crop, x0 : x0 + self.crop]
            gt = gt[y0 : y0 + self.crop, x0 : x0 + self.crop]
        else:
            lq, gt = square_resize(lq, self.size), square_resize(gt, self.size)
        if self.flip and rng.random() < 0.5:
            lq, gt = lq[:, ::-1], gt[:, ::-1]
        return {"lq": to_tensor(lq), "gt": to_tensor(gt), "path": str(b_path), "index": index}


class VideoPairs(PairedFolder):
    """Frame-averaged pairs written by ``facedeblur degrade video`` (blurred/, gt/, params/).

    Like :class:`PairedFolder`, plus each sample's window record from ``params/<name>.json``
    (``video``, ``start``, ``frames``, ``motion``, ``psnr``) and filters on it.

    Args:
        root: output folder of ``facedeblur degrade video``.
        min_frames / max_frames: keep windows of this many averaged frames only.
        psnr_range: keep windows whose PSNR(average, middle) lies in this range.
        **kwargs: passed to :class:`PairedFolder` (size, crop, flip, seed, skip_bad).

    Returns (per item):
        PairedFolder's dict plus ``frames`` (int), ``psnr`` (float) and ``video`` (str).
    """

    def __init__(
        self,
        root: str | Path,
        min_frames: int = 1,
        max_frames: int = 10**6,
        psnr_range: tuple[float, float] = (-np.inf, np.inf),
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        params_dir = self.root / "params"
        if not params_dir.is_dir():
            raise UserError(f"{self.root}: no params/ folder; is this an output of 'facedeblur degrade video'?")
        kept, meta = [], []
        for b, g in self.pairs:
            info_path = params_dir / b.relative_to(self.root / "blurred").with_suffix(".json")
            try:
                info = json.loads(info_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise UserError(f"{info_path}: missing or unreadable window record ({err})") from err
            if min_frames <= info["frames"] <= max_frames and psnr_range[0] <= info["psnr"] <= psnr_range[1]:
                kept.append((b, g))
                meta.append(info)
        if not kept:
            raise UserError(f"{self.root}: no window passes the frame/PSNR filters")
        self.pairs, self.meta = kept, meta

    def _load(self, i: int, index: int) -> dict[str, Any]:
        sample = super()._load(i, index)
        info = self.meta[i]
        sample.update(frames=int(info["frames"]), psnr=float(info["psnr"]), video=str(info["video"]))
        return sample


PairFolder = PairedFolder  # the name other modules were told to expect
