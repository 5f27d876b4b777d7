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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from facedeblur.errors import InputError, UserError

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


def extract_faces_file(path: str | Path, out_dir: str | Path, options: ExtractOptions, stem: str | None = None) -> dict:
    """Detect the faces of one image and write ``STEM.json``, ``STEM_face<k>.png`` and ``STEM_overlay.png``.

    Args:
        path: image file.
        out_dir: output folder (created).
        options: detection and crop settings.
        stem: output name stem (default: the file's stem).

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
        write_image(out_dir / name, from_float_rgb(crop, crop_alpha, fmt), info=meta.for_crop())
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
    write_text_atomic(out_dir / f"{stem}.json", json.dumps(record, indent=1) + "\n")
    if options.overlay:
        overlay = draw_overlay(rgb8, search.faces, search.skipped)
        write_image(out_dir / f"{stem}_overlay.png", overlay, info=meta.without_jpeg_tables())
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


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, folders expanded to their image files (recursively, sorted); duplicates dropped."""
    from facedeblur.images import is_image_path

    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_image_path(p)))
        else:
            found.append(path)
    unique, seen = [], set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def extract_faces_batch(
    inputs: list[str],
    out_dir: str | Path,
    options: ExtractOptions,
    progress: bool = True,
    stream: TextIO | None = None,
) -> int:
    """Run :func:`extract_faces_file` over files and folders; returns the exit code (1 if any failed).

    Bad files get a one-line message naming them and the batch continues; ``faces_report.json`` in
    ``out_dir`` lists every file with its face count or error.
    """
    from tqdm import tqdm

    from facedeblur.images import write_text_atomic

    stream = stream or sys.stderr
    out_dir = Path(out_dir)
    files = expand_inputs(inputs)
    if not files:
        raise UserError("no input images given (folders contained no image files)")
    input_set = {p.resolve() for p in files if p.exists()}
    stems: dict[str, int] = {}
    results, failures = [], []
    logging.getLogger("facedeblur.face").setLevel(logging.ERROR)  # we print our own messages
    for path in tqdm(files, desc="faces", unit="image", disable=not progress or len(files) < 2, file=stream):
        stem = path.stem
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f"{stem}_{stems[stem]}"
        if (out_dir / f"{stem}_overlay.png").resolve() in input_set or (
            out_dir / f"{stem}.json"
        ).resolve() in input_set:
            failures.append({"file": str(path), "error": "an output would overwrite an input; choose another -o"})
            print(f"facedeblur faces: {path}: an output would overwrite an input", file=stream)
            continue
        try:
            record = extract_faces_file(path, out_dir, options, stem)
        except InputError as err:
            failures.append({"file": str(path), "error": str(err)})
            print(f"facedeblur faces: {err}", file=stream)
            continue
        for message in record["messages"]:
            print(f"facedeblur faces: {path}: {message}", file=stream)
        results.append({"file": str(path), "json": f"{stem}.json", "faces": len(record["faces"])})
    report = {"options": asdict(options), "images": len(files), "done": results, "failed": failures}
    write_text_atomic(out_dir / REPORT_NAME, json.dumps(report, indent=1) + "\n")
    total = sum(r["faces"] for r in results)
    print(f"facedeblur faces: {total} face(s) in {len(results)} image(s) -> {out_dir}", file=stream)
    if failures:
        print(f"facedeblur faces: {len(failures)} of {len(files)} image(s) failed:", file=stream)
        for failure in failures:
            print(f"  {failure['error']}", file=stream)
        return 1
    return 0
