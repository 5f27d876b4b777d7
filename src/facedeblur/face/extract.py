"""Batch face extraction behind ``facedeblur faces``: crops, landmarks JSON, debug overlay, batch report.

Example:
    >>> import tempfile, numpy as np
    >>> from facedeblur.images import write_image
    >>> folder = tempfile.mkdtemp()
    >>> write_image(f"{folder}/blank.png", np.zeros((64, 64, 3), np.uint8))
    >>> record = extract_faces_file(f"{folder}/blank.png", f"{folder}/out", ExtractOptions())
    >>> record["faces"]
    []
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from facedeblur.errors import UserError

REPORT_NAME = "faces_report.json"
OVERLAY_MAX_SIDE = 1600


@dataclass(frozen=True)
class ExtractOptions:
    """How ``facedeblur faces`` finds and crops faces (see :func:`facedeblur.face.detect.find_faces`)."""

    size: int = 128
    crop: str = "aligned"  # "aligned" (template warp) or "loose" (Chrysos & Zafeiriou)
    detector: str = "centerface"
    min_size: float = 24
    score_threshold: float | None = None  # None: the detector's default
    max_side: int | None = None  # None or 0: no cap (the search scales itself)
    upsample: int | None = None  # None: automatic
    landmarks68: bool = False
    overlay: bool = True

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 4096:
            raise UserError(f"--size must be between 8 and 4096 px, got {self.size}")
        if self.crop not in ("aligned", "loose"):
            raise UserError(f"crop must be 'aligned' or 'loose', got {self.crop!r}")
        from facedeblur.face.detectors import BACKENDS

        if self.detector not in BACKENDS:
            raise UserError(f"detector must be one of {', '.join(BACKENDS)}, got {self.detector!r}")
        if not self.min_size > 0:
            raise UserError(f"--min-face-size must be > 0, got {self.min_size}")
        if self.max_side is not None and self.max_side < 0:
            raise UserError(f"--max-side must be >= 0, got {self.max_side}")
        if self.upsample is not None and not 0 <= self.upsample <= 3:
            raise UserError(f"--upsample must be between 0 and 3, got {self.upsample}")


def extract_faces_file(
    path: str | Path,
    out_dir: str | Path,
    options: ExtractOptions,
    stem: str | None = None,
    guard: Callable[[Path, str], Path] | None = None,
) -> dict:
    """Detect the faces of one image and write ``STEM.json``, ``STEM_face<k>.png`` and ``STEM_overlay.png``.

    Args:
        path: image file.
        out_dir: output folder (created).
        options: detection and crop settings.
        stem: output name stem (default: the file's stem).
        guard: called as ``guard(path, what)`` before each file is written; raises to refuse it (the
            batch's :meth:`facedeblur.batch.paths.PathPolicy.check`).

    Returns:
        The JSON record written: image path, size, faces (box, score, landmarks5, optional landmarks68,
        matrix image -> crop, crop file name) and messages (no face, small faces skipped).

    Raises:
        InputError: the image cannot be read.
    """
    from facedeblur.face.align import align_face, loose_crop, warp_image
    from facedeblur.face.detect import find_faces, to_uint8_rgb
    from facedeblur.images import from_float_rgb, read_image_with_info, to_float_rgb, write_image, write_text_atomic

    path, out_dir = Path(path), Path(out_dir)
    stem = stem or path.stem
    guard = guard or (lambda target, what: target)
    pixels, meta = read_image_with_info(path)
    rgb8 = to_uint8_rgb(pixels)
    search = find_faces(
        rgb8,
        detector=options.detector,
        min_size=options.min_size,
        score_threshold=options.score_threshold,
        max_side=options.max_side,
        upsample=options.upsample,
        landmarks68=options.landmarks68 or options.crop == "loose",
    )
    messages = [
        f"skipped a face of {face.size:.0f} px at ({face.box[0]:.0f}, {face.box[1]:.0f}): "
        f"smaller than {options.min_size:g} px"
        for face in search.skipped
    ]
    if not search.faces:
        messages.append("no face found")
    rgb, alpha, fmt = to_float_rgb(pixels)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, face in enumerate(search.faces):
        if options.crop == "loose":
            crop, matrix = loose_crop(rgb, face.landmarks68, options.size)
        else:
            crop, matrix = align_face(rgb, face.landmarks5, options.size)
        crop_alpha = None
        if alpha is not None:
            crop_alpha = warp_image(alpha, matrix, (options.size, options.size))
        name = f"{stem}_face{index}.png"
        write_image(guard(out_dir / name, "face crop"), from_float_rgb(crop, crop_alpha, fmt), info=meta.for_crop())
        entry = face.to_dict()
        if not options.landmarks68:
            entry.pop("landmarks68", None)
        entry["matrix"] = np.round(matrix, 6).tolist()
        entry["crop"] = name
        entries.append(entry)
    record = {
        "image": str(path),
        "width": int(pixels.shape[1]),
        "height": int(pixels.shape[0]),
        "crop": options.crop,
        "crop_size": options.size,
        "faces": entries,
        "messages": messages,
        "search": search.report.to_dict(),
    }
    write_text_atomic(guard(out_dir / f"{stem}.json", "output"), json.dumps(record, indent=1) + "\n")
    if options.overlay:
        overlay = draw_overlay(rgb8, search.faces, search.skipped)
        write_image(guard(out_dir / f"{stem}_overlay.png", "overlay"), overlay, info=meta.without_jpeg_tables())
    return record


def draw_overlay(image: np.ndarray, faces: list, skipped: list | None = None) -> np.ndarray:
    """Debug picture: boxes (green; skipped faces red), 5 landmarks (red), 68 landmarks (cyan), index/score.

    Args:
        image: (H, W, 3) uint8 RGB.
        faces: :class:`facedeblur.face.detect.Face` list.
        skipped: faces skipped as too small (drawn with a red box).

    Returns:
        (h, w, 3) uint8 RGB, downscaled so its larger side is at most 1600 px.
    """
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, OVERLAY_MAX_SIDE / max(height, width))
    if scale == 1.0:
        canvas = image
    else:  # an explicit size of at least 1 px: a 5000 x 1 strip must not round to nothing
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.ascontiguousarray(canvas).copy()
    thick = max(1, round(max(canvas.shape[:2]) / 500))

    def point(xy) -> tuple[int, int]:
        return round(float(xy[0]) * scale), round(float(xy[1]) * scale)

    for face in skipped or []:
        cv2.rectangle(canvas, point(face.box[:2]), point(face.box[2:]), (255, 0, 0), thick)
    for index, face in enumerate(faces):
        cv2.rectangle(canvas, point(face.box[:2]), point(face.box[2:]), (0, 255, 0), thick)
        if face.landmarks68 is not None:
            for xy in face.landmarks68:
                cv2.circle(canvas, point(xy), thick, (0, 255, 255), -1)
        for xy in face.landmarks5:
            cv2.circle(canvas, point(xy), thick + 1, (255, 0, 0), -1)
        x0, y0 = point(face.box[:2])
        cv2.putText(
            canvas,
            f"{index}: {face.score:.2f}",
            (x0, max(12, y0 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            (0, 255, 0),
            thick,
        )
    return canvas


def extract_faces_batch(
    inputs: list[str],
    out_dir: str | Path,
    options: ExtractOptions,
    progress: bool = True,
    stream: TextIO | None = None,
    skip_bad: bool = True,
    debug: bool = False,
) -> int:
    """Run :func:`extract_faces_file` over files, folders, globs and ``@lists``; returns the exit code.

    Built on the batch core (:mod:`facedeblur.batch`): every output path is checked up front (none
    may be an input or land in an input folder being read), bad files get a one-line message naming
    them and the batch continues, and ``faces_report.json`` in ``out_dir`` (written as the run goes)
    lists every file with its face count or error. Returns 1 when any file failed.
    """
    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import remove_stale_temps, run_batch, sayer

    stream = stream or sys.stderr
    say = sayer("faces", stream)
    out_dir = Path(out_dir)
    found = expand_inputs(inputs, IMAGE_EXTENSIONS, "images")
    if not found.files and not found.problems:
        raise UserError("no input images given")
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out_dir, "-o")
    report_path = policy.reserve(out_dir / REPORT_NAME, "report")
    jobs: list[tuple[Path, str]] = []
    counts: dict[str, int] = {}
    for entry in found.files:
        stem = entry.path.stem
        counts[stem] = counts.get(stem, 0) + 1
        if counts[stem] > 1:
            stem = f"{stem}_{counts[stem]}"
        for name in (f"{stem}.json", f"{stem}_face0.png", f"{stem}_overlay.png"):
            policy.reserve(out_dir / name, "output", entry.path)
        jobs.append((entry.path, stem))
    check_writable_folder(out_dir, "-o")
    remove_stale_temps([out_dir / f"{stem}.json" for _, stem in jobs] + [report_path])
    report = BatchReport(report_path, "faces", asdict(options))
    for item, message in found.problems:
        say(message)
        report.add({"input": item, "status": "failed", "error": message})

    def work(job: tuple[Path, str]) -> dict:
        path, stem = job
        record = extract_faces_file(path, out_dir, options, stem, guard=policy.check)
        return {
            "json": f"{stem}.json",
            "faces": len(record["faces"]),
            "crops": [face["crop"] for face in record["faces"]],
            "warnings": [f"{path}: {message}" for message in record["messages"]],
        }

    logging.getLogger("facedeblur.face").setLevel(logging.ERROR)  # we print our own messages
    result = run_batch(
        jobs,
        work,
        report,
        command="faces",
        name=lambda job: job[0],
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="image",
        stream=stream,
    )
    files = result.report["files"]
    total = sum(int(r.get("faces", 0)) for r in files if r["status"] == "ok")
    done = sum(r["status"] == "ok" for r in files)
    say(f"{total} face(s) in {done} image(s) -> {out_dir}")
    failures = result.report["failures"]
    if failures:  # each was named on its own line above
        say(f"{len(failures)} of {len(files)} input(s) failed; see {report_path}")
    return result.exit_code
