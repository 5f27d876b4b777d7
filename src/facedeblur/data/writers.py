"""Writing degraded pairs to disk: ``blurred/``, ``gt/`` and one JSON per sample in ``params/``.

Layout (used by ``facedeblur degrade images|video`` and read by :class:`facedeblur.data.datasets.PairedFolder`):

    OUT/blurred/<name>.png   degraded image (8-bit PNG, lossless)
    OUT/gt/<name>.png        ground truth
    OUT/params/<name>.json   what made the pair (recipe parameters, or the frame window)
    OUT/report.json          the batch report (counts, failures, settings)

``<name>`` is the input's path relative to the input folder without its extension; when two inputs
share it (``photo.jpg`` and ``photo.png``) each gets its extension appended (``photo_jpg``, ``photo_png``).

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
from facedeblur.images import read_image, to_float_rgb, to_uint8, write_image, write_text_atomic


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


def _pair_paths(out: Path, name: str) -> list[Path]:
    return [out / "blurred" / f"{name}.png", out / "gt" / f"{name}.png", out / "params" / f"{name}.json"]


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
    debug: bool = False,
):
    """Degrade every image under ``in_dir`` with ``recipe`` and write pairs to ``out_dir``.

    Runs on the batch core (:mod:`facedeblur.batch`): the output folder may not be or lie inside
    ``in_dir``, two inputs may not make the same pair name (``a.jpg`` and ``a.png``), each bad file is
    one line and (with ``skip_bad``) the run goes on, and ``out_dir/report.json`` is written as it goes.

    Args:
        in_dir: folder of sharp images (recursive).
        out_dir: output folder (layout in the module docstring).
        recipe: a recipe object (:mod:`facedeblur.degrade.recipes`).
        seed: base seed; sample ``name`` uses ``sample_seed(seed, name)``.
        size: centre-crop to a square and resize to this side first (None: keep the size).
        skip_bad: record unreadable files and go on (otherwise the run stops at the first).
        overwrite: redo pairs whose three files exist (otherwise they are kept: resume).
        limit: first ``limit`` files only.
        progress: show a progress bar.
        debug: print tracebacks of unexpected errors.

    Returns:
        The run's :class:`facedeblur.batch.run.BatchResult` (its ``report`` is what ``report.json``
        holds; ``summary`` counts ``written`` and ``kept_existing`` pairs).

    Raises:
        UserError: no images, or an output path that would harm an input.
    """
    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import remove_stale_temps, run_batch, sayer
    from facedeblur.degrade.ops import square_resize
    from facedeblur.degrade.recipes import degrade_numpy, params_to_json, prepare_target, recipe_to_dict

    in_dir, out = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise UserError(f"{in_dir}: not a folder")
    found = expand_inputs([in_dir], IMAGE_EXTENSIONS, "images")
    files = found.files[:limit] if limit is not None else found.files
    if not files and not found.problems:
        raise UserError(f"{in_dir}: no images found")
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out, "-o")
    report_path = policy.reserve(out / "report.json", "report")
    stems: dict[str, int] = {}
    for entry in files:
        stems[entry.rel.with_suffix("").as_posix()] = stems.get(entry.rel.with_suffix("").as_posix(), 0) + 1
    jobs = []
    for entry in files:
        name = entry.rel.with_suffix("").as_posix()
        if stems[name] > 1:  # photo.jpg and photo.png: pairs photo_jpg and photo_png
            name = f"{name}_{entry.rel.suffix.lstrip('.').lower()}"
        for path in _pair_paths(out, name):
            policy.reserve(path, "output", entry.path)
        jobs.append((entry.path, name))
    check_writable_folder(out, "-o")
    remove_stale_temps([p for _, name in jobs for p in _pair_paths(out, name)] + [report_path])
    options = {"input": str(in_dir), "recipe": recipe_to_dict(recipe), "seed": seed, "size": size}
    report = BatchReport(report_path, "degrade images", options, resume=not overwrite, summarize=_pair_counts)
    for item, message in found.problems:  # dangling links, FIFOs named like images: one line each
        sayer("degrade images")(message)
        report.add({"input": item, "status": "failed", "error": message})

    def work(job: tuple[Path, str]) -> dict:
        path, name = job
        gt, _, _ = to_float_rgb(read_image(path))
        gt = np.ascontiguousarray(square_resize(gt, size), dtype=np.float32)
        rng = np.random.default_rng(sample_seed(seed, name))
        lq, params = degrade_numpy(gt, recipe, rng)
        record = {"source": path.relative_to(in_dir).as_posix(), "seed": seed, **params_to_json(params)}
        write_pair(out, name, lq, prepare_target(gt, params), record)
        return {"pair": name, "pairs": 1}

    def skip(job: tuple[Path, str]) -> dict | None:
        if overwrite or not all(p.is_file() for p in _pair_paths(out, job[1])):
            return None
        return {"pair": job[1]}

    return run_batch(
        jobs,
        work,
        report,
        command="degrade images",
        name=lambda job: job[0],
        skip=skip,
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="image",
    )


def _pair_counts(records: list[dict]) -> dict[str, int]:
    return {
        "written": sum(int(r.get("pairs", 0)) for r in records if r["status"] == "ok" and not r.get("resumed")),
        "kept_existing": sum(r["status"] == "skipped" or bool(r.get("resumed")) for r in records),
    }


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
    debug: bool = False,
):
    """Frame-average windows of each video and write the accepted ones as pairs (on the batch core).

    Args:
        videos: video files, folders of videos, globs or ``@lists``.
        out_dir: output folder; pairs are named ``<video stem>/<start>_<frames>``.
        criteria: :class:`facedeblur.degrade.frames.WindowCriteria`.
        size: resize pairs to size x size (centre square crop first, or the face box with ``face_crop``).
        face_crop: crop every window to a square around the face found in its middle frame
            (Chrysos protocol: box expanded by ``margin``); windows without a face are rejected.
        max_frames: read at most this many frames per video.
        skip_bad: record unreadable videos and go on.
        debug: print tracebacks of unexpected errors.

    Returns:
        The run's :class:`facedeblur.batch.run.BatchResult`; each video's record in ``report.json``
        has its window counts by reason and every window's record.

    Raises:
        UserError: no videos, or an output path that would harm an input.
    """
    from dataclasses import asdict

    from facedeblur.batch.inputs import VIDEO_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import run_batch, sayer
    from facedeblur.degrade.frames import frame_windows
    from facedeblur.degrade.ops import square_resize
    from facedeblur.video import read_frames

    out = Path(out_dir)
    found = expand_inputs([str(v) for v in videos], VIDEO_EXTENSIONS, "videos")
    if not found.files and not found.problems:
        raise UserError("no videos found")
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out, "-o")
    report_path = policy.reserve(out / "report.json", "report")
    stems: dict[str, Path] = {}
    for entry in found.files:
        if entry.path.stem in stems:
            raise UserError(
                f"{entry.path} and {stems[entry.path.stem]} would both write pairs under {out}/*/{entry.path.stem}"
            )
        stems[entry.path.stem] = entry.path
        for sub in ("blurred", "gt", "params"):
            policy.check(out / sub / entry.path.stem, "output")
    check_writable_folder(out, "-o")
    crop = face_box_finder(margin) if face_crop else None
    options = {"criteria": asdict(criteria), "size": size, "face_crop": face_crop}
    report = BatchReport(report_path, "degrade video", options, summarize=_pair_counts)
    for item, message in found.problems:
        sayer("degrade video")(message)
        report.add({"input": item, "status": "failed", "error": message})

    def work(video: Path) -> dict:
        frames = []
        for frame in read_frames(video):
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
        if not frames:
            raise InputError(f"{video}: video has no frames")
        counts: dict[str, int] = {}
        records = []
        written = 0
        for window in frame_windows(frames, criteria, crop):
            info = window.info()
            counts[window.reason or "accepted"] = counts.get(window.reason or "accepted", 0) + 1
            records.append(info)
            if window.accepted:
                name = f"{video.stem}/{window.start:06d}_{window.frames:02d}"
                record = {"video": video.name, "linear": criteria.linear, **info}
                write_pair(out, name, square_resize(window.blurred, size), square_resize(window.sharp, size), record)
                written += 1
        return {"frames": len(frames), "windows": counts, "pairs": written, "records": records}

    return run_batch(
        [f.path for f in found.files],
        work,
        report,
        command="degrade video",
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="video",
    )
