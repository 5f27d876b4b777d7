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
from typing import Any, TextIO

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
        stopped: why the run ended early (a fatal write, ``--no-skip-bad``), or None.
        exit_code: 0 when every pair was scored (or skipped for lack of a kernel), else 1.
        report: the per-pair batch report (:class:`facedeblur.batch.report.BatchReport` layout).
    """

    method: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    stopped: str | None = None
    exit_code: int = 0
    report: dict[str, Any] = field(default_factory=dict)


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
    *,
    report_path: str | Path | None = None,
    resume: bool = False,
    options: dict[str, Any] | None = None,
    skip_bad: bool = True,
    debug: bool = False,
    command: str = "evaluate",
    stream: TextIO | None = None,
) -> EvalResult:
    """Restore every pair with ``method`` and score it, on the batch core (one record per pair).

    Each pair becomes a record of a :class:`facedeblur.batch.report.BatchReport` (written to
    ``report_path`` as the run goes, so an interrupted run leaves what it scored); a pair that cannot be
    read, restored, scored or saved is that pair's one-line failure (printed) and the run goes on.
    Pairs are still restored ``batch_size`` at a time. The result's rows, means and FID-ID are
    computed from the records, carried-over ones included.

    Args:
        pairs: from :func:`read_pairs`.
        method: from :func:`load_method`.
        metrics: subset of :data:`METRICS` to compute (identity and landmark metrics are the slow ones).
        batch_size: images per model call.
        keep_images: names whose restored images are kept in the result (for grids); always restored.
        save_dir: if given, restored images are written there as ``NAME.png`` with the blurred input's
            bit depth, mode (gray, alpha) and metadata (ICC, EXIF, DPI).
        cache: ground-truth cache shared across methods on the same pairs.
        progress: show progress (stderr).
        report_path: the per-pair report (None: kept in memory).
        resume: carry over the ``ok`` records of the report at ``report_path`` scored with the same
            method, metrics and pair files (and whose saved image exists): those pairs are not scored again.
        options: the run's settings, recorded in the report.
        skip_bad: go on past failed pairs (False: stop at the first).
        debug: print tracebacks of unexpected errors.
        command: the command's name in messages.
        stream: where messages go (default stderr).

    Returns:
        An :class:`EvalResult`; ``stopped`` says why a run ended early, ``exit_code`` is 1 when any
        pair failed.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from facedeblur.images import write_image
        >>> root = Path(tempfile.mkdtemp())
        >>> for side in ("blurred", "gt"):
        ...     (root / side).mkdir()
        ...     write_image(root / side / "a.png", np.full((16, 16, 3), 100, np.uint8))
        >>> result = evaluate_method(read_pairs(root), load_method("blurred"), ["psnr"])
        >>> result.means["psnr"], result.exit_code
        (100.0, 0)
    """
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import run_batch

    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    metrics = list(metrics)
    cache = cache if cache is not None else ReferenceCache()
    keep = set(keep_images)
    keys = {pair.name: _pair_key(pair, method, metrics) for pair in pairs}
    valid = set(keys.values())
    report = BatchReport(
        report_path,
        command,
        {"method": method.name, "weights": method.source, "metrics": metrics, **(options or {})},
        resume=resume,
        carry=lambda record: record.get("key") in valid,
    )
    planned = {pair.name: None if save_dir is None else str(Path(save_dir) / f"{pair.name}.png") for pair in pairs}
    skips: dict[str, dict | None] = {}
    for pair in pairs:
        if method.needs_kernel and pair.kernel is None:
            skips[pair.name] = {"name": pair.name, "key": keys[pair.name], "reason": "no true kernel"}
            continue
        earlier = report.earlier(str(pair.blurred)) if resume else None
        output = planned[pair.name]
        if (
            earlier is not None
            and earlier.get("status") == "ok"
            and pair.name not in keep
            and earlier.get("output") == output
            and (output is None or Path(output).is_file())
        ):
            skips[pair.name] = {"output": output}  # the report keeps the earlier record
        else:
            skips[pair.name] = None
    scorer = _PairScorer([p for p in pairs if skips[p.name] is None], method, metrics, batch_size, cache)
    images: dict[str, np.ndarray] = {}

    def work(pair: Pair) -> dict[str, Any]:
        scored = scorer(pair)
        record: dict[str, Any] = {
            "name": pair.name,
            "group": pair.params.get("group", ""),
            "key": keys[pair.name],
            "scores": {m: (v if math.isfinite(v) else None) for m, v in scored.row.items()},
        }
        if scored.descriptors is not None:
            restored, true = scored.descriptors
            record["descriptors"] = {"restored": _encode_vector(restored), "gt": _encode_vector(true)}
        if pair.name in keep:
            images[pair.name] = scored.pred
        output = planned[pair.name]
        if output is not None:
            _save_restored(Path(output), scored)
            record["output"] = output
        return record

    batch = run_batch(
        list(pairs),
        work,
        report,
        command=command,
        name=lambda pair: pair.blurred,
        skip=lambda pair: skips[pair.name],
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="pair",
        stream=stream,
    )
    result = _result_from_records(method.name, pairs, batch.report["files"], metrics)
    result.images = images
    result.stopped = batch.stopped
    result.exit_code = batch.exit_code
    result.report = batch.report
    return result


@dataclass
class _Scored:
    """One pair restored and scored: the restored image, its metric row, identity descriptors (restored,
    true) and the blurred file as read (to save the restored image in its format)."""

    pred: np.ndarray
    row: dict[str, float]
    descriptors: tuple[np.ndarray, np.ndarray] | None
    source: Path
    pixels: np.ndarray
    info: Any
    alpha: np.ndarray | None
    fmt: Any


class _PairScorer:
    """Scores pairs ``batch_size`` at a time for a run loop that asks for them one by one.

    Asked for a pair not scored yet, it reads, restores and scores that pair and the next pairs of
    ``todo`` (one model call per size); each pair's outcome (a :class:`_Scored` or the error it raised)
    waits until the loop asks for it, so each pair's failure stays that pair's.
    """

    def __init__(
        self, todo: list[Pair], method: Method, metrics: Sequence[str], batch_size: int, cache: ReferenceCache
    ) -> None:
        self.todo = todo
        self.index = {pair.name: i for i, pair in enumerate(todo)}
        self.method, self.metrics, self.batch_size, self.cache = method, metrics, max(1, batch_size), cache
        self.done: dict[str, _Scored | BaseException] = {}

    def __call__(self, pair: Pair) -> _Scored:
        if pair.name not in self.done:
            start = self.index[pair.name]
            chunk = [p for p in self.todo[start : start + self.batch_size] if p.name not in self.done]
            self.done.update(self._score(chunk))
        outcome = self.done.pop(pair.name)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _score(self, chunk: list[Pair]) -> dict[str, _Scored | BaseException]:
        from facedeblur.errors import InputError
        from facedeblur.eval.faces import load_face
        from facedeblur.images import read_image_with_info, to_float_rgb

        outcomes: dict[str, _Scored | BaseException] = {}
        loaded = []
        for pair in chunk:
            try:
                pixels, info = read_image_with_info(pair.blurred)
                lq, alpha, fmt = to_float_rgb(pixels)  # what load_face(path, None) gives, and how to write it back
                gt = load_face(pair.gt, None)
                if lq.shape != gt.shape:
                    raise InputError(
                        f"{pair.blurred}: size {lq.shape[:2]} differs from its ground truth {gt.shape[:2]}"
                    )
                kernel = np.load(pair.kernel) if self.method.needs_kernel else None
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - an unreadable pair is that pair's failure
                outcomes[pair.name] = err
                continue
            loaded.append((pair, lq.astype(np.float32), gt, kernel, (pixels, info, alpha, fmt)))
        same_size = len({item[1].shape for item in loaded}) <= 1
        parts = [list(range(len(loaded)))] if same_size else [[i] for i in range(len(loaded))]
        parts = [idx for idx in parts if idx]
        while parts:
            idx = parts.pop(0)
            items = [loaded[i] for i in idx]
            names = [item[0].name for item in items]
            try:
                pred = self.method.restore(np.stack([item[1] for item in items]), [item[3] for item in items])
                rows, desc = _score_batch(names, pred, np.stack([item[2] for item in items]), self.metrics, self.cache)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - one pair's failure is that pair's record
                if len(idx) > 1:  # find the pair(s) at fault: score them one by one
                    parts[:0] = [[i] for i in idx]
                    continue
                outcomes[names[0]] = err
                continue
            for j, (pair, _, _, _, (pixels, info, alpha, fmt)) in enumerate(items):
                descriptors = None if desc is None else (desc[j], self.cache.descriptors[pair.name])
                outcomes[pair.name] = _Scored(pred[j], rows[j], descriptors, pair.blurred, pixels, info, alpha, fmt)
        return outcomes


def _save_restored(path: Path, scored: _Scored) -> None:
    """Write a restored image in its blurred input's depth and mode, with its metadata (ICC, EXIF, DPI)."""
    from facedeblur.images import from_float_rgb, write_result

    pixels = from_float_rgb(scored.pred, scored.alpha, scored.fmt)
    write_result(path, pixels, scored.source, scored.pixels, scored.info)  # unchanged: the input's bytes


def _pair_key(pair: Pair, method: Method, metrics: Sequence[str]) -> str:
    """What a pair's scores depend on: the method (its weights file), the metrics and the pair's files."""
    import hashlib

    files = []
    for path in (pair.blurred, pair.gt, pair.kernel):
        try:
            stat = path.stat() if path is not None else None
        except OSError:
            stat = None
        files.append([str(path), stat.st_size, stat.st_mtime_ns] if stat is not None else [str(path)])
    text = json.dumps([method.name, method.source, list(metrics), files, pair.params.get("group", "")], default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _encode_vector(vector: np.ndarray) -> str:
    """A float32 vector as base64 text (exact, compact in JSON)."""
    import base64

    return base64.b64encode(np.asarray(vector, np.float32).tobytes()).decode("ascii")


def _decode_vector(text: str) -> np.ndarray:
    import base64

    return np.frombuffer(base64.b64decode(text), np.float32)


def _result_from_records(
    name: str, pairs: Sequence[Pair], records: Sequence[dict], metrics: Sequence[str]
) -> EvalResult:
    """The :class:`EvalResult` of a run's records (in pair order): rows, means with FID-ID, failures, skipped."""
    by_input = {str(r["input"]): r for r in records}
    result = EvalResult(name)
    restored, true = [], []
    for pair in pairs:
        record = by_input.get(str(pair.blurred))
        if record is None:
            continue
        if record["status"] == "failed":
            result.failures.append((pair.name, str(record.get("error", ""))))
        elif record["status"] == "skipped":
            result.skipped.append(pair.name)
        elif "scores" in record:
            scores = {m: math.nan if v is None else float(v) for m, v in record["scores"].items()}
            result.rows.append({"name": pair.name, "group": record.get("group", ""), **scores})
            if "descriptors" in record:
                restored.append(_decode_vector(record["descriptors"]["restored"]))
                true.append(_decode_vector(record["descriptors"]["gt"]))
    result.means = summarise(result.rows, metrics)
    if len(restored) >= 2:
        from facedeblur.eval.metrics import frechet_distance

        result.means["fid_id"] = frechet_distance(np.stack(restored), np.stack(true))
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
