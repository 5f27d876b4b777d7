"""Writing degraded pairs to disk: ``blurred/``, ``gt/`` and one JSON per sample in ``params/``.

Layout (used by ``facedeblur degrade images|video`` and read by :class:`facedeblur.data.datasets.PairedFolder`):

    OUT/blurred/<name>.png   degraded image (8-bit PNG, lossless)
    OUT/gt/<name>.png        ground truth
    OUT/params/<name>.json   what made the pair (recipe parameters, or the frame window)
    OUT/report.json          the batch report (counts, failures, settings)

Files are written atomically; the same inputs, recipe and seed give byte-identical files because each
sample's generator is seeded by the seed and the sample's relative name (not by processing order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.errors import InputError, UserError
from facedeblur.images import read_image, to_float_rgb, write_image, write_text_atomic


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 (round half up)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def sample_seed(seed: int, name: str) -> list[int]:
    """Seed sequence of one named sample: independent of the order and number of other samples."""
    # surrogateescape: a file name that is not UTF-8 hashes as its raw bytes (UTF-8 names are unchanged)
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
    return [int(seed), int.from_bytes(digest[:8], "little")]


def write_pair(out: Path, name: str, lq: np.ndarray, gt: np.ndarray, record: dict[str, Any]) -> None:
    """Write one pair and its JSON record under ``out`` (``name`` is a relative path without extension)."""
    write_image(out / "blurred" / f"{name}.png", to_uint8(lq))
    write_image(out / "gt" / f"{name}.png", to_uint8(gt))
    write_text_atomic(out / "params" / f"{name}.json", json.dumps(record, sort_keys=True) + "\n")


def _check_out(in_dirs: Sequence[Path], out: Path) -> None:
    """Inputs are never overwritten: the output folder may not be an input folder."""
    for d in in_dirs:
        if out.resolve() == d.resolve():
            raise UserError(f"output folder {out} must differ from the input {d}")


def _progress(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file")


def synthesize_pairs(
    in_dir: str | Path,
    out_dir: str | Path,
    recipe: Any,
    seed: int = 0,
    size: int | None = None,
    skip_bad: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Degrade every image under ``in_dir`` with ``recipe`` and write pairs to ``out_dir``.

    Args:
        in_dir: folder of sharp images (recursive).
        out_dir: output folder (layout in the module docstring); must differ from ``in_dir``.
        recipe: a recipe object (:mod:`facedeblur.degrade.recipes`).
        seed: base seed; sample ``name`` uses ``sample_seed(seed, name)``.
        size: centre-crop to a square and resize to this side first (None: keep the size).
        skip_bad: record unreadable files and go on (otherwise the first one raises InputError).
        overwrite: redo pairs whose three files exist (otherwise they are kept: resume).
        limit: first ``limit`` files only.
        progress: show a progress bar.

    Returns:
        The report also written to ``out_dir/report.json``: counts, ``failed`` messages, settings.
    """
    from facedeblur.data.datasets import list_images
    from facedeblur.degrade.ops import square_resize
    from facedeblur.degrade.recipes import degrade_numpy, params_to_json, prepare_target, recipe_to_dict

    in_dir, out = Path(in_dir), Path(out_dir)
    out_resolved = out.resolve()
    files = [f for f in list_images(in_dir) if out_resolved not in f.resolve().parents]  # OUT may sit inside IN
    files = files[:limit] if limit is not None else files
    if not files:
        raise UserError(f"{in_dir}: no images found")
    _check_out([in_dir], out)
    written = kept = 0
    failed: list[str] = []
    for path in _progress(files, "degrade", progress):
        name = path.relative_to(in_dir).with_suffix("").as_posix()
        if not overwrite and all(
            (out / sub / f"{name}{ext}").is_file()
            for sub, ext in (("blurred", ".png"), ("gt", ".png"), ("params", ".json"))
        ):
            kept += 1
            continue
        try:
            gt, _, _ = to_float_rgb(read_image(path))
        except InputError as err:
            if not skip_bad:
                raise
            failed.append(str(err))
            continue
        gt = np.ascontiguousarray(square_resize(gt, size), dtype=np.float32)
        rng = np.random.default_rng(sample_seed(seed, name))
        lq, params = degrade_numpy(gt, recipe, rng)
        record = {"source": path.relative_to(in_dir).as_posix(), "seed": seed, **params_to_json(params)}
        write_pair(out, name, lq, prepare_target(gt, params), record)
        written += 1
    report = {
        "command": "degrade images",
        "input": str(in_dir),
        "recipe": recipe_to_dict(recipe),
        "seed": seed,
        "size": size,
        "images": len(files),
        "written": written,
        "kept_existing": kept,
        "failed": failed,
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def face_box_finder(margin: float = 0.5, detector: str = "hog") -> Callable[[np.ndarray], tuple | None]:
    """A ``crop`` function for :func:`facedeblur.degrade.frames.frame_windows`: square box around the
    largest detected face, its side ``(1 + margin)`` times the detector box, shifted inside the frame."""
    from facedeblur.face.detect import detect_faces

    def find(frame: np.ndarray) -> tuple[int, int, int, int] | None:
        u8 = frame if frame.dtype == np.uint8 else to_uint8(frame)
        faces = detect_faces(u8, detector=detector)
        if not faces:
            return None
        x0, y0, x1, y1 = faces[0].box
        h, w = u8.shape[:2]
        side = int(round(min(max(x1 - x0, y1 - y0) * (1 + margin), h, w)))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left = int(round(min(max(cx - side / 2, 0), w - side)))
        top = int(round(min(max(cy - side / 2, 0), h - side)))
        return left, top, left + side, top + side

    return find


def video_pairs(
    videos: Sequence[str | Path],
    out_dir: str | Path,
    criteria: Any,
    size: int | None = None,
    face_crop: bool = False,
    margin: float = 0.5,
    max_frames: int | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Frame-average windows of each video and write the accepted ones as pairs.

    Args:
        videos: video files.
        out_dir: output folder; pairs are named ``<video stem>/<start>_<frames>``.
        criteria: :class:`facedeblur.degrade.frames.WindowCriteria`.
        size: resize pairs to size x size (centre square crop first, or the face box with ``face_crop``).
        face_crop: crop every window to a square around the face found in its middle frame
            (Chrysos protocol: box expanded by ``margin``); windows without a face are rejected.
        max_frames: read at most this many frames per video.
        skip_bad: record unreadable videos and go on.

    Returns:
        The report also written to ``out_dir/report.json``: per-video window counts by reason and
        every window's record.
    """
    from dataclasses import asdict

    from facedeblur.degrade.frames import frame_windows
    from facedeblur.degrade.ops import square_resize
    from facedeblur.video import read_frames

    out = Path(out_dir)
    crop = face_box_finder(margin) if face_crop else None
    per_video: dict[str, Any] = {}
    failed: list[str] = []
    written = 0
    for video in _progress([Path(v) for v in videos], "videos", progress):
        try:
            frames = []
            for frame in read_frames(video):
                frames.append(frame)
                if max_frames is not None and len(frames) >= max_frames:
                    break
            if not frames:
                raise InputError(f"{video}: video has no frames")
        except InputError as err:
            if not skip_bad:
                raise
            failed.append(str(err))
            continue
        counts: dict[str, int] = {}
        records = []
        for window in frame_windows(frames, criteria, crop):
            info = window.info()
            counts[window.reason or "accepted"] = counts.get(window.reason or "accepted", 0) + 1
            records.append(info)
            if window.accepted:
                name = f"{video.stem}/{window.start:06d}_{window.frames:02d}"
                record = {"video": video.name, "linear": criteria.linear, **info}
                write_pair(out, name, square_resize(window.blurred, size), square_resize(window.sharp, size), record)
                written += 1
        per_video[video.name] = {"frames": len(frames), "windows": counts, "records": records}
    report = {
        "command": "degrade video",
        "criteria": asdict(criteria),
        "size": size,
        "face_crop": face_crop,
        "videos": per_video,
        "written": written,
        "failed": failed,
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report
