"""Face-detection recall by face size and blur, false positives per photo, and time, per detector.

Synthetic group photos: real UTKFace validation faces (never seen in training) pasted whole with a
feathered border at 20-160 px (face size = side of dlib's HOG box, which covers about 0.87 of a
UTKFace chip), sharp or strongly blurred, on real backgrounds: frames of the dev videos with the
person's face inpainted away over a generous ellipse, tiled. "Strongly blurred" is the ``deblur``
recipe at its strongest: a 27 px camera-shake trajectory or a Gaussian of sigma 3.5, at random,
applied to the face at the models' 128 px face size, plus noise of 4/255 (so the blur is the same
share of the face at every size). A face counts as found when a detection's box (every backend
reports dlib-HOG-convention boxes) has IoU >= 0.35 with it, one detection per face; other detections
are false positives. The dev videos' frames (one real face each) give recall on real footage.
Everything is seeded. Time is the CPU time of ``find_faces`` (the default search + landmarks) per
photo, which is one core's wall time when run with ``OMP_NUM_THREADS=1`` (and stays so on a busy
machine, where wall time does not).

Two photo sets (``--photo-set``): ``tuning``, the set the search's constants (zoom, crop size,
proposal and score thresholds) were tuned on: the 500 validation faces on backgrounds of 6 frames
per dev video; and ``held-out``, a check set the constants never saw: 500 faces drawn (seeded) from
UTKFace's training folder (no detector here was trained on UTKFace; the restorer's training does not
matter for detection), 6 other frames per dev video (none of the tuning set's), backgrounds tiled in
smaller cells (3 rows in 1080p, 4 above), and its own seeds.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/quality/face_recall.py ../shared/data --detectors centerface hog cnn \\
        -o benchmarks/results/face_recall.json
    OMP_NUM_THREADS=1 python benchmarks/quality/face_recall.py ../shared/data --photo-set held-out \\
        -o benchmarks/results/face_recall_heldout.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = (20, 24, 32, 40, 56, 80, 112, 160)
PHOTO_SETS = ("tuning", "held-out")
HELD_OUT_SEED = 1000  # the held-out set's seeds are --seed plus this
HELD_OUT_FACES = 500  # faces drawn from utkface/train for the held-out set
CHIP_PER_FACE = 200 / 174.5  # UTKFace chip side / mean HOG box side (template.json box_mean)
MATCH_IOU = 0.35


def strong_blur(chip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ``deblur`` recipe at its strongest, on the face at 128 px; returns the 128 px face, uint8."""
    import cv2

    from facedeblur.degrade.recipes import DeblurRecipe, degrade_numpy

    recipe = DeblurRecipe(
        shake_sizes=(27, 27),
        gaussian_sigma=(3.5, 3.5),
        noise_levels=(4.0, 4.0),
        jpeg_probability=0.0,
    )
    small = cv2.resize(chip, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    lq, _ = degrade_numpy(small, recipe, rng)
    return (np.clip(lq, 0, 1) * 255 + 0.5).astype(np.uint8)


def face_box_in_chip(side: float) -> np.ndarray:
    """The mean HOG box of a UTKFace chip resized to ``side`` px."""
    from facedeblur.face.align import template_data

    data = template_data()
    return np.asarray(data["box_mean"], np.float64) * side / data["image_size"][0]


def pick_frames(counts: list[int], per_video: int, seed: int, held_out: bool) -> list[list[int]]:
    """Which frames of each dev video make the backgrounds (sorted indices per video).

    The tuning set takes ``per_video`` frames per video from ``default_rng(seed)``; the held-out set
    takes as many from the frames the tuning set (same ``seed``) left, with its own generator.

    Args:
        counts: frames in each video (sorted by name).
        per_video: frames wanted per video.
        seed: the tuning set's seed.
        held_out: pick for the held-out set.

    Returns:
        One sorted list of frame indices per video.

    Example:
        >>> tuning, held = pick_frames([20, 5], 4, 0, False), pick_frames([20, 5], 4, 0, True)
        >>> [len(t) for t in tuning], [len(h) for h in held], set(tuning[0]) & set(held[0])
        ([4, 4], [4, 1], set())
    """
    rng = np.random.default_rng(seed)
    tuning = [sorted(int(i) for i in rng.choice(n, size=min(per_video, n), replace=False)) for n in counts]
    if not held_out:
        return tuning
    rng = np.random.default_rng(seed + HELD_OUT_SEED)
    out = []
    for n, taken in zip(counts, tuning, strict=True):
        rest = np.setdiff1d(np.arange(n), taken)
        out.append(sorted(int(i) for i in rng.choice(rest, size=min(per_video, rest.size), replace=False)))
    return out


def masked_backgrounds(videos: Path, per_video: int, seed: int, held_out: bool = False) -> list[np.ndarray]:
    """Frames of the dev videos (see :func:`pick_frames`) with the face inpainted away over a generous ellipse.

    Args:
        videos: folder of ``*.mp4`` clips.
        per_video: frames per clip.
        seed: the tuning set's seed.
        held_out: take the held-out set's frames.

    Returns:
        RGB uint8 frames.
    """
    import cv2

    from facedeblur.face.detect import find_faces
    from facedeblur.video import read_frames

    clips = [list(read_frames(path)) for path in sorted(videos.glob("*.mp4"))]
    picks = pick_frames([len(frames) for frames in clips], per_video, seed, held_out)
    out = []
    for frames, indices in zip(clips, picks, strict=True):
        for index in indices:
            frame = np.ascontiguousarray(frames[index])
            mask = np.zeros(frame.shape[:2], np.uint8)
            faces = find_faces(frame, "hog", min_size=20, score_threshold=-0.5).faces
            faces += find_faces(frame, "centerface", min_size=20, score_threshold=0.2).faces
            for face in faces:
                x0, y0, x1, y1 = face.box
                cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
                cv2.ellipse(
                    mask, (int(cx), int(cy - 0.1 * side)), (int(side * 0.9), int(side * 1.15)), 0, 0, 360, 255, -1
                )
            small = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            small_mask = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
            filled = cv2.inpaint(small, small_mask, 5, cv2.INPAINT_TELEA)
            filled = cv2.resize(filled, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
            out.append(np.where(mask[:, :, None] > 0, filled, frame))
    return out


def held_out_faces(train: Path, count: int, seed: int) -> list[Path]:
    """``count`` face files drawn without replacement from ``train`` by ``default_rng(seed + HELD_OUT_SEED)``.

    Args:
        train: folder of UTKFace ``*.jpg`` chips.
        count: faces wanted (fewer when the folder has fewer).
        seed: the tuning set's seed.

    Returns:
        The files, in drawing order.
    """
    files = sorted(train.glob("*.jpg"))
    rng = np.random.default_rng(seed + HELD_OUT_SEED)
    return [files[int(i)] for i in rng.choice(len(files), size=min(count, len(files)), replace=False)]


def background(
    height: int, width: int, pool: list[np.ndarray], rng: np.random.Generator, extra_rows: int = 0
) -> np.ndarray:
    """A mosaic of masked frames, each scaled to a cell of the photo's height / rows (2 up to 1200 px, else 3).

    Args:
        height, width: the photo's size.
        pool: masked frames to tile.
        rng: picks and mirrors the frames.
        extra_rows: rows added to the mosaic (the held-out set: 1, smaller cells).

    Returns:
        RGB uint8 background.
    """
    import cv2

    rows = (2 if height <= 1200 else 3) + extra_rows
    cell = int(np.ceil(height / rows))
    canvas = np.zeros((rows * cell, width + cell, 3), np.uint8)
    for r in range(rows):
        x = 0
        while x < width:
            frame = pool[int(rng.integers(len(pool)))]
            if rng.random() < 0.5:
                frame = frame[:, ::-1]
            w = max(1, round(frame.shape[1] * cell / frame.shape[0]))
            w = min(w, canvas.shape[1] - x)
            resized = cv2.resize(frame, (max(1, round(frame.shape[1] * cell / frame.shape[0])), cell))
            canvas[r * cell : (r + 1) * cell, x : x + w] = resized[:, :w]
            x += w
    return np.ascontiguousarray(canvas[:height, :width])


def paste(image: np.ndarray, face: np.ndarray, x: int, y: int, chip_side: int) -> None:
    """Paste a face chip resized to ``chip_side`` at (x, y), its border feathered over 8% of its side.

    The whole chip is pasted (its corners hold hair, ears and background: the only head context a
    UTKFace chip has); cutting it to an ellipse leaves floating face discs that detectors trained on
    real photos (CenterFace) score low while HOG, which looks only inside the face, does not mind.
    """
    import cv2

    interp = cv2.INTER_AREA if chip_side < face.shape[0] else cv2.INTER_CUBIC
    chip = cv2.resize(face, (chip_side, chip_side), interpolation=interp).astype(np.float32)
    t = (np.arange(chip_side) + 0.5) / chip_side
    ramp = np.clip(np.minimum(t, 1 - t) / 0.08, 0, 1)
    alpha = np.outer(ramp, ramp)[:, :, None]
    region = image[y : y + chip_side, x : x + chip_side].astype(np.float32)
    image[y : y + chip_side, x : x + chip_side] = (alpha * chip + (1 - alpha) * region + 0.5).astype(np.uint8)


def make_photo(
    height: int,
    width: int,
    items: list[tuple[np.ndarray, int]],
    pool: list[np.ndarray],
    rng: np.random.Generator,
    extra_rows: int = 0,
) -> tuple[np.ndarray, list[np.ndarray], list[bool]]:
    """Place as many (face, size) items as fit without overlap; returns photo, boxes and placed flags."""
    image = background(height, width, pool, rng, extra_rows)
    taken: list[tuple[int, int, int]] = []
    boxes, placed = [], []
    for face, size in items:
        chip_side = int(round(size * CHIP_PER_FACE))
        for _ in range(60):
            x = int(rng.integers(0, width - chip_side))
            y = int(rng.integers(0, height - chip_side))
            if all(
                x + chip_side + 8 <= tx or tx + ts + 8 <= x or y + chip_side + 8 <= ty or ty + ts + 8 <= y
                for tx, ty, ts in taken
            ):
                break
        else:
            placed.append(False)
            continue
        placed.append(True)
        taken.append((x, y, chip_side))
        paste(image, face, x, y, chip_side)
        boxes.append(face_box_in_chip(chip_side) + (x, y, x, y))
    return image, boxes, placed


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match(truth: list[np.ndarray], found: list) -> tuple[list[bool], int]:
    """Greedy one-to-one matching by IoU; returns (found flag per true face, false positives)."""
    pairs = sorted(
        ((iou(t, np.asarray(f.box)), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True
    )
    hit, used = [False] * len(truth), set()
    for value, i, j in pairs:
        if value < MATCH_IOU:
            break
        if not hit[i] and j not in used:
            hit[i] = True
            used.add(j)
    return hit, len(found) - len(used)


def build_set(
    faces: list[np.ndarray], height: int, width: int, photos: int, pool, seed: int, extra_rows: int = 0
) -> list[tuple[np.ndarray, list[np.ndarray], list[tuple[int, bool]]]]:
    """Photos of the given size: every face appears once per size, sharp or blurred, until ``photos``.

    Args:
        faces: UTKFace chips (RGB uint8).
        height, width: the photos' size.
        photos: how many.
        pool: masked background frames.
        seed: seeds the draws, blur and placement.
        extra_rows: see :func:`background`.

    Returns:
        (photo, true boxes, (size, blurred) per box) per photo.
    """
    rng = np.random.default_rng(seed)
    items = []
    for blurred in (False, True):
        for size in SIZES:
            for index in rng.permutation(len(faces)):
                items.append((int(index), size, blurred))
    order = rng.permutation(len(items))
    items = [items[i] for i in order]
    per_photo = max(4, int(height * width / (1920 * 1080) * 36))
    out = []
    cursor = 0
    while len(out) < photos and cursor < len(items):
        batch = items[cursor : cursor + per_photo]
        cursor += per_photo
        chips = []
        for index, size, blurred in batch:
            chip = faces[index]
            chips.append((strong_blur(chip, rng) if blurred else chip, size))
        image, boxes, placed = make_photo(height, width, chips, pool, rng, extra_rows)
        meta = [(size, blurred) for (_, size, blurred), ok in zip(batch, placed, strict=True) if ok]
        out.append((image, boxes, meta))
    return out


def evaluate(detector: str, photos, threshold: float | None, min_face: float) -> dict:
    from facedeblur.face.detect import find_faces

    table: dict[str, list[int]] = {}
    fps, seconds, reports = 0, [], []
    for image, boxes, meta in photos:
        start = time.process_time()  # CPU seconds: one core's time even on a busy machine
        search = find_faces(image, detector, min_size=min_face, score_threshold=threshold)
        seconds.append(time.process_time() - start)
        reports.append(search.report.to_dict())
        found = search.faces + search.skipped
        hit, fp = match(boxes, found)
        fps += fp
        for ok, (size, blurred) in zip(hit, meta, strict=True):
            key = f"{'blurred' if blurred else 'sharp'}/{size}"
            cell = table.setdefault(key, [0, 0])
            cell[0] += int(ok)
            cell[1] += 1
    return {
        "recall": {
            k: {"found": v[0], "faces": v[1], "recall": round(v[0] / v[1], 4)} for k, v in sorted(table.items())
        },
        "false_positives_per_photo": round(fps / max(1, len(photos)), 3),
        "false_positives_per_megapixel": round(fps / max(1, len(photos)) / (photos[0][0].size / 3e6), 4),
        "photos": len(photos),
        "cpu_seconds_per_photo": round(float(np.mean(seconds)), 3),
        "cpu_seconds_max": round(float(np.max(seconds)), 3),
        "crops_per_photo": round(float(np.mean([r["crops"] for r in reports])), 1),
        "search_example": reports[0],
    }


def video_recall(videos: Path, detector: str, threshold: float | None, min_face: float, every: int) -> dict:
    """Frames of the dev videos (one person each): share of frames with exactly that face found."""
    from facedeblur.face.detect import find_faces
    from facedeblur.video import read_frames

    frames = found = extra = 0
    for path in sorted(videos.glob("*.mp4")):
        for index, frame in enumerate(read_frames(path)):
            if index % every:
                continue
            faces = find_faces(
                np.ascontiguousarray(frame), detector, min_size=min_face, score_threshold=threshold
            ).faces
            frames += 1
            found += int(len(faces) >= 1)
            extra += max(0, len(faces) - 1)
    return {
        "frames": frames,
        "recall": round(found / max(1, frames), 4),
        "false_positives_per_frame": round(extra / max(1, frames), 4),
    }


def use_int8_centerface(val: Path, folder: Path) -> Path:
    """Swap CenterFace's weights for benchmarks/speed/detector_speed.py's int8 static quantisation of them.

    The int8 copy is made as that benchmark makes it (the float16 storage folded to float32, then
    ``quantize_static`` calibrated on the first 16 validation faces at 256 px) and written to ``folder``;
    every later CenterFace search in this process runs it. Needs ``onnx`` and ``onnxruntime``.

    Args:
        val: the UTKFace validation folder (calibration faces).
        folder: where the int8 file goes.

    Returns:
        The int8 file.
    """
    import importlib.util

    import cv2

    from facedeblur.face.detectors import centerface
    from facedeblur.images import read_image

    spec = importlib.util.spec_from_file_location(
        "detector_speed", Path(__file__).parents[1] / "speed" / "detector_speed.py"
    )
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    faces = [cv2.resize(read_image(p), (256, 256)) for p in sorted(val.glob("*.jpg"))[:16]]
    float32, int8 = folder / "centerface-fp32.onnx", folder / "centerface-int8.onnx"
    speed._float32_copy(centerface.WEIGHTS, float32)
    speed._int8_copy(float32, int8, faces)
    centerface.WEIGHTS = int8
    centerface._runner = None  # the next search loads the int8 file
    return int8


def summarise(result: dict) -> dict:
    """Recall pooled over the target's face sizes (>= 32 px) for sharp and blurred faces."""
    out = {}
    for kind in ("sharp", "blurred"):
        cells = [v for k, v in result["recall"].items() if k.startswith(kind) and int(k.split("/")[1]) >= 32]
        out[f"{kind}_32plus"] = round(sum(c["found"] for c in cells) / max(1, sum(c["faces"] for c in cells)), 4)
    return out


def print_table(name: str, result: dict) -> None:
    print(
        f"\n{name}: {result['photos']} photos, {result['cpu_seconds_per_photo']} CPU s/photo, "
        f"{result['false_positives_per_photo']} false positives/photo, pooled {summarise(result)}"
    )
    print("size   " + "  ".join(f"{s:>6}" for s in SIZES))
    for kind in ("sharp", "blurred"):
        cells = [result["recall"].get(f"{kind}/{s}") for s in SIZES]
        print(f"{kind:7}" + "  ".join(f"{c['recall'] * 100:5.1f}%" if c else "     -" for c in cells))


def markdown_rows(results: dict) -> list[str]:
    """The detection table rows of docs/benchmarks.md for one results file (a row per detector and photo size).

    Args:
        results: what :func:`main` writes with ``-o``.

    Returns:
        Markdown rows: detector and photos, sharp 24 px, sharp 32 px, the lowest sharp bin from 32 px,
        sharp >= 32 px pooled, blurred 32 px, blurred >= 32 px pooled, false positives and time per photo.

    Example:
        >>> cell = {"found": 49, "faces": 50, "recall": 0.98}
        >>> entry = {"recall": {f"{k}/{s}": cell for k in ("sharp", "blurred") for s in SIZES}, "photos": 2,
        ...          "false_positives_per_photo": 0.0, "cpu_seconds_per_photo": 0.25}
        >>> markdown_rows({"settings": {"photo_set": "held-out"}, "detectors": {"hog": {"1080p": entry}}})[0]
        '| hog, held-out, 2 x 1080p | 98.0% | 98.0% | 98.0% | 98.0% | 98.0% | 98.0% | 0.00 | 0.25 s |'
    """
    settings = results.get("settings", {})
    tags = [settings.get("photo_set", "tuning")]
    if settings.get("centerface_int8") == "True":
        tags.append("int8")
    rows = []
    for detector, entry in results["detectors"].items():
        for size, result in entry.items():
            if size == "videos":
                continue
            recall = result["recall"]

            def cell(key: str, recall: dict = recall) -> str:
                return f"{recall[key]['recall'] * 100:.1f}%" if key in recall else "-"

            def pooled(kind: str, recall: dict = recall) -> str:
                cells = [recall[f"{kind}/{s}"] for s in SIZES if s >= 32 and f"{kind}/{s}" in recall]
                return f"{sum(c['found'] for c in cells) / max(1, sum(c['faces'] for c in cells)) * 100:.1f}%"

            lowest = min(recall[f"sharp/{s}"]["recall"] for s in SIZES if s >= 32 and f"sharp/{s}" in recall)
            seconds = result["cpu_seconds_per_photo"]
            name = ", ".join([detector, *tags, f"{result['photos']} x {size}"])
            cells = [cell("sharp/24"), cell("sharp/32"), f"{lowest * 100:.1f}%", pooled("sharp")]
            cells += [cell("blurred/32"), pooled("blurred"), f"{result['false_positives_per_photo']:.2f}"]
            cells.append(f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", help="shared data folder (utkface/val and videos/)")
    parser.add_argument(
        "--table",
        type=Path,
        nargs="+",
        help="print the rows of docs/benchmarks.md's detection table from these results files and stop",
    )
    parser.add_argument("--detectors", nargs="+", default=["centerface", "hog"])
    parser.add_argument("--photos", type=int, default=40, help="1080p photos per detector (36 faces each)")
    parser.add_argument("--photos-4k", type=int, default=8)
    parser.add_argument("--photos-8k", type=int, default=4)
    parser.add_argument("--big-detectors", nargs="*", default=["centerface"], help="detectors run on 4k/8k photos")
    parser.add_argument("--min-face-size", type=float, default=24)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument(
        "--video-every", type=int, default=10, help="use every N-th frame of the dev videos (0: skip them)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--photo-set",
        choices=PHOTO_SETS,
        default="tuning",
        help="tuning: validation faces the search was tuned on; held-out: training-folder faces, other frames",
    )
    parser.add_argument(
        "--centerface-int8", action="store_true", help="run CenterFace int8-quantised (detector_speed.py's recipe)"
    )
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if args.table:
        for path in args.table:
            print("\n".join(markdown_rows(json.loads(path.read_text()))))
        return 0
    if args.data is None:
        parser.error("the data folder is required (unless --table)")

    from facedeblur.images import read_image

    held_out = args.photo_set == "held-out"
    if held_out:
        files = held_out_faces(args.data / "utkface" / "train", HELD_OUT_FACES, args.seed)
        seed, extra_rows = args.seed + HELD_OUT_SEED, 1
    else:
        files, seed, extra_rows = sorted((args.data / "utkface" / "val").glob("*.jpg")), args.seed, 0
    faces = [read_image(p) for p in files]
    pool = masked_backgrounds(args.data / "videos", 6, args.seed, held_out)
    sets = {"1080p": build_set(faces, 1080, 1920, args.photos, pool, seed, extra_rows)}
    if args.photos_4k:
        sets["4k"] = build_set(faces, 2160, 3840, args.photos_4k, pool, seed + 1, extra_rows)
    if args.photos_8k:
        sets["8k"] = build_set(faces, 4320, 7680, args.photos_8k, pool, seed + 2, extra_rows)
    results: dict = {
        "settings": {k: os.path.relpath(v) if isinstance(v, Path) else str(v) for k, v in vars(args).items()},
        "machine": {"python": platform.python_version(), "omp_threads": os.environ.get("OMP_NUM_THREADS")},
        "detectors": {},
    }
    int8_folder = tempfile.TemporaryDirectory() if args.centerface_int8 else None
    if int8_folder is not None:
        use_int8_centerface(args.data / "utkface" / "val", Path(int8_folder.name))
    for detector in args.detectors:
        from facedeblur.face.detect import find_faces

        find_faces(faces[0], detector)  # load the network before timing
        entry = {}
        for name, photos in sets.items():
            if name != "1080p" and detector not in args.big_detectors:
                continue
            entry[name] = evaluate(detector, photos, args.threshold, args.min_face_size)
            entry[name]["pooled"] = summarise(entry[name])
            print_table(f"{detector} {name}", entry[name])
            sys.stdout.flush()
        if args.video_every:
            entry["videos"] = video_recall(
                args.data / "videos", detector, args.threshold, args.min_face_size, args.video_every
            )
            print(f"{detector} dev videos: {entry['videos']}")
        results["detectors"][detector] = entry
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
