"""Face parsing maps rasterised from 68 landmarks: the pseudo-labels a parsing network learns from.

Ten classes (:data:`PARSING_CLASSES`). "left" and "right" are the person's own: ``left_eye`` is the
eye on the image's right side in a frontal photo (iBUG points 42-47). Flipping an image horizontally
must swap them: use :func:`flip_parsing_map`. Landmarks cover neither forehead nor hair, so the skin
region is the jaw line closed by a forehead curve raised above the brows by 0.7 x the brow-to-nose-base
distance (the upper third of a face is about as tall as the middle one).

Example:
    >>> from facedeblur.face.align import template68
    >>> labels = parsing_map_from_landmarks(template68(128), 128)
    >>> labels.shape, labels.dtype.name, int(labels.max()) == len(PARSING_CLASSES) - 1
    ((128, 128), 'uint8', True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PARSING_CLASSES: tuple[str, ...] = (
    "background",
    "skin",
    "left_brow",
    "right_brow",
    "left_eye",
    "right_eye",
    "nose",
    "upper_lip",
    "inner_mouth",
    "lower_lip",
)
CLASS_INDEX = {name: index for index, name in enumerate(PARSING_CLASSES)}
# label -> label after a horizontal flip
FLIP_PERMUTATION = np.array([0, 1, 3, 2, 5, 4, 6, 7, 8, 9], np.uint8)
REPORT_NAME = "parse_labels_report.json"

_JAW = list(range(0, 17))
_RIGHT_BROW = list(range(17, 22))  # the person's right: image left
_LEFT_BROW = list(range(22, 27))
_NOSE = list(range(27, 36))
_RIGHT_EYE = list(range(36, 42))
_LEFT_EYE = list(range(42, 48))
_UPPER_LIP = [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]
_LOWER_LIP = [54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]
_INNER_MOUTH = list(range(60, 68))
_SUBPIXEL_BITS = 4


def _size_pair(size: int | tuple[int, int], name: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        pair = (int(size), int(size))
    else:
        pair = tuple(int(v) for v in size)
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name} must be a positive int or (height, width), got {size!r}")
    return pair


def face_regions(landmarks68: np.ndarray) -> dict[str, np.ndarray]:
    """Polygons (in landmark coordinates) of every non-background class, in drawing order.

    Args:
        landmarks68: (68, 2) iBUG 300-W landmarks.

    Returns:
        Dict class name -> (N, 2) float64 polygon; later classes are drawn over earlier ones.
    """
    points = np.asarray(landmarks68, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"landmarks68 must have shape (68, 2), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("landmarks68 contains NaN or infinite values")
    right_eye, left_eye = points[_RIGHT_EYE].mean(0), points[_LEFT_EYE].mean(0)
    across = left_eye - right_eye
    eye_distance = max(float(np.linalg.norm(across)), 1e-6)
    across = across / eye_distance  # image left -> right along the eyes
    down = np.array([-across[1], across[0]])  # perpendicular, pointing to the chin
    if np.dot(points[8] - (right_eye + left_eye) / 2, down) < 0:
        down = -down

    brows_mid = points[17:27].mean(0)
    forehead = 0.7 * max(float(np.dot(points[33] - brows_mid, down)), 0.1 * eye_distance)
    brow_arc = points[_LEFT_BROW[::-1] + _RIGHT_BROW[::-1]]
    # raise the brows' arc, widening it towards the temples so the skin meets the jaw's end points
    spread = (brow_arc - brows_mid) @ across
    top = brow_arc - forehead * down + 0.15 * spread[:, None] * across
    skin = np.vstack([points[_JAW], top])

    nose_width = float(np.linalg.norm(points[35] - points[31]))
    nose = np.vstack(
        [
            points[27] - 0.18 * nose_width * across,
            points[27] + 0.18 * nose_width * across,
            points[29] - 0.4 * nose_width * across,
            points[29] + 0.4 * nose_width * across,
            points[31:36],
            points[31] - 0.1 * nose_width * across,
            points[35] + 0.1 * nose_width * across,
        ]
    )

    def brow(indices: list[int], eye: np.ndarray) -> np.ndarray:
        arc = points[indices]
        thickness = 0.3 * max(float(np.dot(eye - arc.mean(0), down)), 0.05 * eye_distance)
        return np.vstack([arc, (arc + thickness * down)[::-1]])

    return {
        "skin": skin,
        "nose": _convex_hull(nose),
        "right_brow": brow(_RIGHT_BROW, right_eye),
        "left_brow": brow(_LEFT_BROW, left_eye),
        "right_eye": points[_RIGHT_EYE],
        "left_eye": points[_LEFT_EYE],
        "upper_lip": points[_UPPER_LIP],
        "lower_lip": points[_LOWER_LIP],
        "inner_mouth": points[_INNER_MOUTH],
    }


def parsing_map_from_landmarks(
    landmarks68: np.ndarray,
    size: int | tuple[int, int],
    source_size: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Rasterise a 10-class parsing map from 68 landmarks at any size.

    Args:
        landmarks68: (68, 2) x, y landmarks.
        size: output side, or (height, width).
        source_size: side or (height, width) of the image the landmarks were measured on; the landmarks
            are rescaled from it to ``size`` (pixel centres at integers). ``None``: they already are in
            output pixels.

    Returns:
        (height, width) uint8 labels, indices into :data:`PARSING_CLASSES`.

    Example:
        >>> from facedeblur.face.align import template68
        >>> small = parsing_map_from_landmarks(template68(200), 64, source_size=200)
        >>> small.shape
        (64, 64)
    """
    import cv2

    height, width = _size_pair(size, "size")
    points = np.asarray(landmarks68, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"landmarks68 must have shape (68, 2), got {points.shape}")
    if source_size is not None:
        src_h, src_w = _size_pair(source_size, "source_size")
        points = (points + 0.5) * np.array([width / src_w, height / src_h]) - 0.5
    labels = np.zeros((height, width), np.uint8)
    for name, polygon in face_regions(points).items():
        fixed = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(labels, [fixed], int(CLASS_INDEX[name]), lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return labels


def flip_parsing_map(labels: np.ndarray) -> np.ndarray:
    """Mirror a parsing map left-right and swap the left/right classes, as for a flipped image.

    Example:
        >>> import numpy as np
        >>> flip_parsing_map(np.array([[2, 4, 1]], np.uint8)).tolist()
        [[1, 5, 3]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"expected an (H, W) label map, got shape {labels.shape}")
    return FLIP_PERMUTATION[labels[:, ::-1]]


def class_fractions(labels: np.ndarray) -> dict[str, float]:
    """Fraction of the map's pixels in each class.

    Example:
        >>> import numpy as np
        >>> class_fractions(np.zeros((4, 4), np.uint8))["background"]
        1.0
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels.ravel(), minlength=len(PARSING_CLASSES))[: len(PARSING_CLASSES)]
    return {name: float(count) / labels.size for name, count in zip(PARSING_CLASSES, counts, strict=True)}


def precompute_parse_labels(
    in_dir: str | Path,
    out_dir: str | Path,
    size: int = 128,
    detector: str = "hog",
    overwrite: bool = False,
    limit: int | None = None,
    progress: bool = True,
    skip_bad: bool = True,
    debug: bool = False,
) -> dict:
    """Detect 68 landmarks on every sharp face in a folder and write its parsing map (on the batch core).

    Each image ``IN/a/b.jpg`` gives ``OUT/a/b.png``: (size, size) 8-bit labels (class indices of
    :data:`PARSING_CLASSES`), rasterised from the landmarks of the largest face, rescaled from the
    image's size to ``size`` the way a training loader resizes the image. Existing outputs are kept
    (resume) unless ``overwrite``. Images where no face is found get no label file and a record
    saying so; unreadable files are failures. ``OUT`` may not lie inside ``IN``; the report is
    written to ``OUT/parse_labels_report.json`` as the run goes.

    Args:
        in_dir: folder of face images (searched recursively).
        out_dir: folder for the label PNGs and the report.
        size: side of the label maps.
        detector: "hog" or "cnn".
        overwrite: recompute labels that already exist.
        limit: process at most this many images (sorted by path).
        progress: show a progress bar.
        skip_bad: go on past unreadable files (False: stop at the first).
        debug: print tracebacks of unexpected errors.

    Returns:
        The batch report (:mod:`facedeblur.batch.report`): ``summary`` counts ``labelled``,
        ``kept_existing`` and ``no_face``; ``class_fraction_mean`` the mean class fractions.
    """
    from facedeblur.batch.inputs import IMAGE_EXTENSIONS, expand_inputs
    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.run import remove_stale_temps, run_batch, sayer
    from facedeblur.errors import UserError
    from facedeblur.face.detect import detect_faces, fit_landmarks, to_uint8_rgb
    from facedeblur.images import read_image, write_image

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise UserError(f"{in_dir}: not a folder")
    if size < 8:
        raise UserError(f"label size must be at least 8 px, got {size}")
    found = expand_inputs([in_dir], IMAGE_EXTENSIONS, "images")
    files = found.files[: max(0, int(limit))] if limit is not None else found.files
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out_dir, "-o")
    report_path = policy.reserve(out_dir / REPORT_NAME, "report")
    # labels are found by the face's stem (train.tasks.parsenet.LabelIndex): inputs sharing one are
    # ambiguous, so each is named as a failure and the others are labelled
    by_stem: dict[str, list[Path]] = {}
    for f in files:
        by_stem.setdefault(f.path.stem, []).append(f.path)
    problems = list(found.problems)  # (input, message): dangling links, FIFOs named like images
    jobs = []
    for f in files:
        target = (out_dir / f.rel).with_suffix(".png")
        if len(by_stem[f.path.stem]) > 1:
            others = len(by_stem[f.path.stem]) - 1
            why = f"{others} other input(s) named {f.path.stem}.*; labels are found by that name, so none gets one"
            problems.append((str(f.path), f"{f.path}: {why}; rename one"))
            continue
        jobs.append((f.path, policy.reserve(target, "output", f.path)))
    check_writable_folder(out_dir, "-o")
    remove_stale_temps([target for _, target in jobs] + [report_path])
    options = {"input": str(in_dir), "size": size, "detector": detector, "classes": list(PARSING_CLASSES)}
    fractions: list[np.ndarray] = []

    def summarize(records: list[dict]) -> dict:
        ok = [r for r in records if r["status"] == "ok"]
        return {
            "labelled": sum(1 for r in ok if "label" in r and not r.get("resumed")),
            "kept_existing": sum(r["status"] == "skipped" or bool(r.get("resumed")) for r in records),
            "no_face": sum(1 for r in ok if r.get("no_face")),
        }

    report = BatchReport(report_path, "data parse-labels", options, resume=not overwrite, summarize=summarize)
    say = sayer("data parse-labels")
    for item, message in problems:
        say(message)
        report.add({"input": item, "status": "failed", "error": message})

    def work(job: tuple[Path, Path]) -> dict:
        path, target = job
        rgb = to_uint8_rgb(read_image(path))
        faces = detect_faces(rgb, detector=detector)
        if not faces:
            return {"no_face": True, "warnings": [f"{path}: no face found; no label written"]}
        landmarks = fit_landmarks(rgb, faces[0].box, 68)
        labels = parsing_map_from_landmarks(landmarks, size, source_size=rgb.shape[:2])
        write_image(target, labels[:, :, None])
        fractions.append(np.array(list(class_fractions(labels).values())))
        return {"label": str(target)}

    def skip(job: tuple[Path, Path]) -> dict | None:
        return {"label": str(job[1])} if job[1].exists() and not overwrite else None

    result = run_batch(
        jobs,
        work,
        report,
        command="data parse-labels",
        name=lambda job: job[0],
        skip=skip,
        skip_bad=skip_bad,
        progress=progress,
        debug=debug,
        unit="face",
    )
    if fractions:
        mean = np.mean(np.stack(fractions), axis=0)
        report.extra = {
            "class_fraction_mean": {n: round(float(v), 4) for n, v in zip(PARSING_CLASSES, mean, strict=True)}
        }
        result.report = report.write(complete=result.stopped is None)
    return result.report


def _convex_hull(points: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
