"""Run a restoration method over a pairs folder and score every image.

A *method* is a bundled model name, a ``.safetensors`` path, or one of the :data:`BASELINES`: ``blurred``
(the input itself), ``wiener`` and ``richardson-lucy`` (non-blind, given the true kernel of each pair from
``kernels/``; pairs without a kernel get no score from them).

Per image: the metrics of :data:`METRICS` (see :mod:`facedeblur.eval.metrics` and :mod:`facedeblur.eval.niqe`).
Per set: their means over the images that have them, and ``fid_id``, the Fréchet distance between the
identity descriptors of the restored and the true faces.

Example:
    >>> METRICS[:4]
    ('psnr', 'ssim', 'psnr_y', 'ssim_y')
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.images import to_uint8

LOGGER = logging.getLogger("facedeblur.eval")

BASELINES: tuple[str, ...] = ("blurred", "wiener", "richardson-lucy")
METRICS: tuple[str, ...] = ("psnr", "ssim", "psnr_y", "ssim_y", "ms_ssim", "niqe", "id_cos", "id_l2", "lmk_nme")
FAST_METRICS: tuple[str, ...] = ("psnr", "ssim", "psnr_y", "ssim_y", "ms_ssim", "niqe")
LOWER_IS_BETTER = frozenset({"niqe", "id_cos", "id_l2", "lmk_nme", "fid_id"})


@dataclass(frozen=True)
class Pair:
    """One evaluation pair of a pairs folder."""

    name: str
    blurred: Path
    gt: Path
    kernel: Path | None
    params: dict


def read_pairs(root: str | Path) -> list[Pair]:
    """The pairs of a folder with ``blurred/`` and ``gt/`` (matching file stems), sorted by name.

    Files present on one side only are ignored with a warning.

    Raises:
        UserError: the folder or a side is missing, or no names match.
    """
    from facedeblur.errors import UserError
    from facedeblur.images import is_image_path

    root = Path(root)
    sides = {}
    for side in ("blurred", "gt"):
        folder = root / side
        if not folder.is_dir():
            raise UserError(f"{root}: expected a pairs folder with blurred/ and gt/ subfolders ({side}/ missing)")
        sides[side] = {p.stem: p for p in folder.iterdir() if p.is_file() and is_image_path(p)}
    common = sorted(set(sides["blurred"]) & set(sides["gt"]))
    for side, other in (("blurred", "gt"), ("gt", "blurred")):
        for stem in sorted(set(sides[side]) - set(sides[other])):
            LOGGER.warning("%s: no partner in %s/; ignored", sides[side][stem], other)
    if not common:
        raise UserError(f"{root}: no file names match between blurred/ and gt/")
    pairs = []
    for name in common:
        kernel = root / "kernels" / f"{name}.npy"
        params_file = root / "params" / f"{name}.json"
        params = json.loads(params_file.read_text(encoding="utf-8")) if params_file.is_file() else {}
        pairs.append(
            Pair(name, sides["blurred"][name], sides["gt"][name], kernel if kernel.is_file() else None, params)
        )
    return pairs


@dataclass
class Method:
    """A restoration method: ``restore(batch (B, H, W, 3) float32, kernels) -> (B, H, W, 3)`` in [0, 1].

    Attributes:
        name: what tables call it.
        kind: ``baseline`` or ``model``.
        needs_kernel: it only runs on pairs with a true kernel.
        restore: the function.
        model: the torch module (models only), for speed measurements.
        face_size: input side the model expects (models only).
        source: the weights file, its size and modification time when it was loaded (models only).
    """

    name: str
    kind: str
    needs_kernel: bool
    restore: Callable[[np.ndarray, list[np.ndarray | None]], np.ndarray]
    model: Any = None
    face_size: int | None = None
    source: str | None = None


def load_method(name: str, device: str = "cpu") -> Method:
    """A baseline by name, or a model from a bundled name or weights path (see :func:`resolve_model`).

    Raises:
        UserError: unknown name (lists the bundled models and baselines).
    """
    from facedeblur.eval import classical

    if name == "blurred":
        return Method(name, "baseline", False, lambda batch, kernels: np.clip(batch, 0.0, 1.0))
    if name == "wiener":
        return Method(
            name,
            "baseline",
            True,
            lambda batch, kernels: np.stack(
                [classical.wiener_deconvolve(x, k) for x, k in zip(batch, kernels, strict=True)]
            ),
        )
    if name == "richardson-lucy":
        return Method(
            name,
            "baseline",
            True,
            lambda batch, kernels: np.stack(
                [classical.richardson_lucy(x, k) for x, k in zip(batch, kernels, strict=True)]
            ),
        )
    from facedeblur.errors import ModelMismatchError, UserError
    from facedeblur.models.hub import COMPONENT_ARCHITECTURES, load_weights, read_metadata, resolve_model

    try:
        path = resolve_model(name)
    except UserError as err:
        raise UserError(f"{err}; baselines: {', '.join(BASELINES)}") from None
    stat = Path(path).stat()  # identifies the weights actually loaded (benchmark caches are keyed by it)
    version = f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        architecture = read_metadata(path).architecture
        if architecture in COMPONENT_ARCHITECTURES:
            raise UserError(f"{name!r} is a {architecture} network, not a restoration model; it cannot be evaluated")
        model, meta = load_weights(path, device=device)
    except ModelMismatchError as err:
        raise UserError(str(err)) from err
    label = meta.name if Path(name).suffix != ".safetensors" else Path(name).stem
    restore = _model_restore(model, meta.face_size, device)
    return Method(label, "model", False, restore, model, meta.face_size, version)


def _model_restore(model, face_size: int, device: str):
    import torch

    def restore(batch: np.ndarray, kernels) -> np.ndarray:
        import cv2

        height, width = batch.shape[1:3]
        if height != face_size or width != face_size:
            batch = np.stack([cv2.resize(x, (face_size, face_size), interpolation=cv2.INTER_CUBIC) for x in batch])
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().to(device)
            y = model(x).clamp(0.0, 1.0).permute(0, 2, 3, 1).cpu().numpy()
        if height != face_size or width != face_size:  # back to the pair's own size, square or not
            y = np.stack([cv2.resize(v, (width, height), interpolation=cv2.INTER_CUBIC) for v in y])
        return np.clip(y, 0.0, 1.0).astype(np.float32)

    return restore


@dataclass
class EvalResult:
    """Scores of one method on one pairs folder.

    Attributes:
        method: method name.
        rows: one dict per scored image: ``name``, ``group`` and each metric.
        means: mean of each metric over the images that have it, plus ``fid_id`` and ``count``.
        failures: ``(name, message)`` for pairs that could not be read or restored.
        skipped: names skipped because the method needs a kernel the pair lacks.
        images: restored images kept for comparison grids (name -> (H, W, 3) float32).
    """

    method: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)


class ReferenceCache:
    """Ground-truth quantities shared by every method on a pairs folder: identity descriptors and landmarks.

    :meth:`save` / :meth:`load` keep them in a JSON file so later runs on the same pairs skip the work.
    """

    def __init__(self) -> None:
        self.descriptors: dict[str, np.ndarray] = {}
        self.landmarks: dict[str, tuple[tuple[float, float, float, float], np.ndarray] | None] = {}

    def save(self, path: str | Path, key: str) -> None:
        from facedeblur.images import write_text_atomic

        data = {
            "key": key,
            "descriptors": {n: d.tolist() for n, d in self.descriptors.items()},
            "landmarks": {
                n: None if v is None else {"box": list(v[0]), "points": np.asarray(v[1]).tolist()}
                for n, v in self.landmarks.items()
            },
        }
        write_text_atomic(path, json.dumps(data))

    @classmethod
    def load(cls, path: str | Path, key: str) -> ReferenceCache:
        """The cache stored at ``path`` for ``key``, or an empty one (missing, unreadable or other key)."""
        cache = cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cache
        if data.get("key") != key:
            return cache
        cache.descriptors = {n: np.asarray(d, np.float32) for n, d in data["descriptors"].items()}
        cache.landmarks = {
            n: None if v is None else (tuple(v["box"]), np.asarray(v["points"], np.float32))
            for n, v in data["landmarks"].items()
        }
        return cache


def _identity_descriptors(images: np.ndarray) -> np.ndarray:
    import torch

    from facedeblur.face.identity import identity_from_aligned_face

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        return identity_from_aligned_face(x).numpy()


def _reference_landmarks(gt: np.ndarray):
    from facedeblur.face.detect import detect_faces

    faces = detect_faces(to_uint8(gt), landmarks68=True)
    if not faces:
        return None
    return faces[0].box, faces[0].landmarks68


def _score_batch(
    names: list[str],
    pred: np.ndarray,
    gt: np.ndarray,
    metrics: Sequence[str],
    cache: ReferenceCache,
) -> tuple[list[dict[str, float]], np.ndarray | None]:
    import torch

    from facedeblur.eval import metrics as M

    p = torch.from_numpy(np.ascontiguousarray(pred)).permute(0, 3, 1, 2)
    t = torch.from_numpy(np.ascontiguousarray(gt)).permute(0, 3, 1, 2)
    columns: dict[str, np.ndarray] = {}
    if "psnr" in metrics:
        columns["psnr"] = M.psnr(p, t).numpy()
    if "ssim" in metrics:
        columns["ssim"] = M.ssim(p, t).numpy()
    if "psnr_y" in metrics:
        columns["psnr_y"] = M.psnr(p, t, y_channel=True).numpy()
    if "ssim_y" in metrics:
        columns["ssim_y"] = M.ssim(p, t, y_channel=True).numpy()
    if "ms_ssim" in metrics:
        columns["ms_ssim"] = M.ms_ssim(p, t).numpy()
    if "niqe" in metrics:
        from facedeblur.eval.niqe import niqe

        columns["niqe"] = np.array([niqe(x) for x in pred])
    descriptors = None
    if "id_cos" in metrics or "id_l2" in metrics:
        missing = [i for i, n in enumerate(names) if n not in cache.descriptors]
        if missing:
            for i, d in zip(missing, _identity_descriptors(gt[missing]), strict=True):
                cache.descriptors[names[i]] = d
        descriptors = _identity_descriptors(pred)
        ref = torch.from_numpy(np.stack([cache.descriptors[n] for n in names]))
        dist = M.identity_distances(torch.from_numpy(descriptors), ref)
        columns["id_cos"] = dist["id_cos"].numpy()
        columns["id_l2"] = dist["id_l2"].numpy()
    if "lmk_nme" in metrics:
        from facedeblur.face.detect import fit_landmarks

        values = []
        for n, x, y in zip(names, pred, gt, strict=True):
            if n not in cache.landmarks:
                cache.landmarks[n] = _reference_landmarks(y)
            ref = cache.landmarks[n]
            if ref is None:
                values.append(math.nan)
                continue
            box, target = ref
            found = fit_landmarks(to_uint8(x), box, 68)
            values.append(float(M.landmark_nme(found[None], target[None])[0]))
        columns["lmk_nme"] = np.array(values)
    rows = [{k: float(v[i]) for k, v in columns.items()} for i in range(len(names))]
    return rows, descriptors


def evaluate_method(
    pairs: Sequence[Pair],
    method: Method,
    metrics: Sequence[str] = METRICS,
    batch_size: int = 16,
    keep_images: Sequence[str] = (),
    save_dir: str | Path | None = None,
    cache: ReferenceCache | None = None,
    progress: bool = False,
) -> EvalResult:
    """Restore every pair with ``method`` and score it.

    Args:
        pairs: from :func:`read_pairs`.
        method: from :func:`load_method`.
        metrics: subset of :data:`METRICS` to compute (identity and landmark metrics are the slow ones).
        batch_size: images per model call.
        keep_images: names whose restored images are kept in the result (for grids).
        save_dir: if given, restored images are written there as PNG (atomically).
        cache: ground-truth cache shared across methods on the same pairs.
        progress: show a progress bar.

    Returns:
        An :class:`EvalResult`; unreadable pairs are recorded in ``failures`` and the run continues.
    """
    from tqdm import tqdm

    from facedeblur.batch.run import describe_error
    from facedeblur.errors import InputError, is_output_fatal
    from facedeblur.eval.faces import load_face
    from facedeblur.images import write_image

    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    cache = cache if cache is not None else ReferenceCache()
    result = EvalResult(method.name)
    keep = set(keep_images)
    all_pred_desc: list[np.ndarray] = []
    all_gt_desc: list[np.ndarray] = []
    todo = []
    for pair in pairs:
        if method.needs_kernel and pair.kernel is None:
            result.skipped.append(pair.name)
        else:
            todo.append(pair)
    bar = tqdm(total=len(todo), desc=method.name, unit="img", disable=not progress)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        names, lq, gt, kernels = [], [], [], []
        for pair in chunk:
            try:
                b = load_face(pair.blurred, None)
                g = load_face(pair.gt, None)
                if b.shape != g.shape:
                    raise InputError(f"{pair.blurred}: size {b.shape[:2]} differs from its ground truth {g.shape[:2]}")
                k = np.load(pair.kernel) if method.needs_kernel else None
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - an unreadable pair is that pair's failure
                result.failures.append((pair.name, describe_error(err, pair.blurred)))
                continue
            names.append(pair.name)
            lq.append(b)
            gt.append(g)
            kernels.append(k)
        same_size = len({x.shape for x in lq}) <= 1
        parts = [list(range(len(names)))] if same_size else [[i] for i in range(len(names))]
        parts = [idx for idx in parts if idx]
        while parts:
            idx = parts.pop(0)
            sub_names = [names[i] for i in idx]
            try:
                lq_b = np.stack([lq[i] for i in idx])
                gt_b = np.stack([gt[i] for i in idx])
                pred = method.restore(lq_b, [kernels[i] for i in idx])
                rows, desc = _score_batch(sub_names, pred, gt_b, metrics, cache)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - one pair's failure is that pair's record
                if len(idx) > 1:  # find the pair(s) at fault: score them one by one
                    parts[:0] = [[i] for i in idx]
                    continue
                pair = next(p for p in chunk if p.name == sub_names[0])
                result.failures.append((pair.name, describe_error(err, pair.blurred)))
                continue
            if desc is not None:
                all_pred_desc.extend(desc)
                all_gt_desc.extend(cache.descriptors[n] for n in sub_names)
            for n, row, x in zip(sub_names, rows, pred, strict=True):
                pair = next(p for p in chunk if p.name == n)
                result.rows.append({"name": n, "group": pair.params.get("group", ""), **row})
                if n in keep:
                    result.images[n] = x
                if save_dir is not None:
                    try:
                        write_image(Path(save_dir) / f"{n}.png", to_uint8(x))
                    except OSError as err:
                        if is_output_fatal(err):
                            raise
                        result.failures.append((n, describe_error(err, Path(save_dir) / f"{n}.png")))
        bar.update(len(chunk))
    bar.close()
    result.means = summarise(result.rows, metrics)
    if len(all_pred_desc) >= 2:
        from facedeblur.eval.metrics import frechet_distance

        result.means["fid_id"] = frechet_distance(np.stack(all_pred_desc), np.stack(all_gt_desc))
    return result


def summarise(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over the rows where it is finite, and ``count`` (rows)."""
    out: dict[str, float] = {"count": float(len(rows))}
    for m in metrics:
        values = np.array([r[m] for r in rows if m in r], dtype=np.float64)
        values = values[np.isfinite(values)]
        out[m] = float(values.mean()) if len(values) else math.nan
    return out


def group_means(rows: Sequence[dict[str, Any]], metric: str) -> dict[str, float]:
    """Mean of ``metric`` per ``group`` (e.g. kernel size class), groups in natural order."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        value = r.get(metric)
        if value is not None and math.isfinite(value):
            groups.setdefault(str(r.get("group", "")), []).append(float(value))
    return {g: float(np.mean(v)) for g, v in sorted(groups.items(), key=lambda kv: _natural_key(kv[0]))}


def _natural_key(text: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))
