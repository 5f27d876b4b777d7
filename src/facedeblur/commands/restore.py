"""``facedeblur restore``: restore every face in photos, folders and videos (or aligned faces).

Inputs are files, folders (searched recursively for images and videos), glob patterns and file lists
(``@list.txt``, one path per line, relative paths taken from the current folder). Every output keeps
its input's name (``--ext`` changes only the extension of images) under ``-o OUT``; files found in a
folder keep their sub-folder. A file that fails is reported and the run goes on; the JSON report
(``--report``, default ``OUT/restore-report.json``) lists faces, timings and failures per file, and
the exit code is 1 when any file failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")  # = facedeblur.images.IMAGE_EXTENSIONS
_VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv")  # = facedeblur.video.VIDEO_EXTENSIONS
REPORT_NAME = "restore-report.json"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="restore every face in photos, folders and videos",
        description=(
            "Detect, align, restore (batched) and paste back every face in photos and videos. "
            "Outputs keep the input's name, size, type and colour mode; pixels outside the faces are unchanged. "
            "With --aligned, each input is one aligned face, resized to the model's face size and returned "
            "at its own size."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image/video files, folders, globs or @list.txt")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument(
        "--model",
        default="default",
        help="bundled model name, 'default' or a .safetensors path (--backend onnxruntime: an .onnx file "
        "from `facedeblur export NAME --format onnx`, or a bundled name exported to the cache)",
    )
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda|mps (default: auto)")
    parser.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "onnxruntime"),
        help="runtime for the network (default: torch; onnxruntime runs exported .onnx models without torch)",
    )
    parser.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    parser.add_argument("--only-center-face", action="store_true", help="restore only the face nearest the centre")
    parser.add_argument(
        "--min-face-size", type=float, default=16, metavar="PX", help="skip smaller faces (box side, default 16)"
    )
    parser.add_argument(
        "--fidelity",
        type=float,
        default=1.0,
        metavar="W",
        help="blend in the face regions: 0 = input unchanged, 1 = full restoration (default 1)",
    )
    parser.add_argument("--detector", default="hog", choices=("hog", "cnn"), help="face detector (default hog)")
    parser.add_argument("--batch-size", type=int, default=8, help="faces per forward pass (default 8)")
    parser.add_argument(
        "--save-faces",
        action="store_true",
        help="also write the aligned input and restored faces of photos to OUT/faces",
    )
    parser.add_argument(
        "--compare", action="store_true", help="also write input|output of photos side by side to OUT/compare"
    )
    parser.add_argument("--ext", help="write images with this extension (e.g. png); videos keep theirs")
    parser.add_argument("--skip-existing", action="store_true", help="skip inputs whose output exists (resume)")
    parser.add_argument("--report", metavar="JSON", help=f"run report path (default OUT/{REPORT_NAME})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="restore with Ray Data model actors (GPUs where the cluster has them): auto, local or a cluster address",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from facedeblur.errors import UserError

    if not 0.0 <= args.fidelity <= 1.0:
        raise UserError(f"--fidelity must be between 0 and 1, got {args.fidelity}")
    if args.min_face_size < 0:
        raise UserError(f"--min-face-size must be >= 0, got {args.min_face_size}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    ext = None
    if args.ext:
        ext = "." + args.ext.lower().lstrip(".")
        if ext not in _IMAGE_EXTS:
            raise UserError(f"--ext {args.ext!r}: use one of {', '.join(e[1:] for e in _IMAGE_EXTS)}")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"-o {out_dir}: exists and is not a folder")

    return run_batch(args, out_dir, ext)


def expand_inputs(items: list[str], out_dir: Path) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Expand files, folders, globs and @lists into (input, output path relative to OUT) pairs.

    Returns:
        ``(pairs, problems)``; ``problems`` are (item, message) for names that match nothing.
    """
    import glob

    pairs: list[tuple[Path, Path]] = []
    problems: list[tuple[str, str]] = []
    out_resolved = out_dir.resolve()

    def add_dir(root: Path) -> None:
        found = [
            p
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix.lower() in _IMAGE_EXTS + _VIDEO_EXTS and not p.name.startswith(".")
        ]
        found = [p for p in found if not _is_within(p.resolve(), out_resolved)]  # earlier outputs are not inputs
        if not found:
            problems.append((str(root), f"{root}: no images or videos in this folder"))
        pairs.extend((p, p.relative_to(root)) for p in found)

    def add(item: str) -> None:
        if item.startswith("@"):
            list_path = Path(item[1:])
            try:
                lines = list_path.read_text(encoding="utf-8").splitlines()
            except OSError as err:
                problems.append((item, f"{list_path}: cannot read the file list ({err.strerror or err})"))
                return
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#"):
                    add(line)
            return
        path = Path(item)
        if path.is_dir():
            add_dir(path)
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                problems.append((item, f"{item}: no file matches this pattern"))
            for match in matches:
                if Path(match).is_file():
                    pairs.append((Path(match), Path(Path(match).name)))
        else:
            problems.append((item, f"{item}: no such file or folder"))

    for item in items:
        add(item)
    seen: set[Path] = set()
    unique = []
    for src, rel in pairs:
        key = src.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((src, rel))
    return unique, problems


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def output_path(rel: Path, out_dir: Path, ext: str | None, aligned: bool) -> Path:
    """Where an input's result goes: same relative name; images may change extension."""
    suffix = rel.suffix.lower()
    if suffix in _VIDEO_EXTS and not aligned:
        return out_dir / rel
    if ext:
        return out_dir / rel.with_suffix(ext)
    if suffix not in _IMAGE_EXTS:  # readable by PIL but not writable (e.g. .gif): write PNG
        return out_dir / rel.with_suffix(".png")
    return out_dir / rel


def print_error(message: str) -> None:
    print(f"facedeblur restore: {message}", file=sys.stderr)


def _restorer_options(args: argparse.Namespace) -> dict:
    """The Restorer keyword arguments the command line sets (shared by the in-process and Ray paths)."""
    return {
        "device": args.device,
        "backend": args.backend,
        "fidelity": args.fidelity,
        "only_center_face": args.only_center_face,
        "min_face_size": args.min_face_size,
        "detector": args.detector,
        "batch_size": args.batch_size,
    }


def run_batch(args: argparse.Namespace, out_dir: Path, ext: str | None) -> int:
    """Restore every input; report each failure and go on; write the JSON report; 0 when all succeeded."""
    import time

    from tqdm import tqdm

    from facedeblur.errors import ModelMismatchError, UserError
    from facedeblur.restore import Restorer

    started = time.perf_counter()
    pairs, problems = expand_inputs(args.inputs, out_dir)
    if not pairs and not problems:
        raise UserError("no input files")
    jobs = []
    inputs_resolved = {src.resolve() for src, _ in pairs}
    targets: dict[Path, Path] = {}
    for src, rel in pairs:
        dst = output_path(rel, out_dir, ext, args.aligned)
        key = dst.resolve()
        if key in inputs_resolved:
            raise UserError(
                f"-o {out_dir}: {dst} would overwrite the input {src}; choose another output folder or --ext"
            )
        if key in targets:
            raise UserError(f"{src} and {targets[key]} would both be written to {dst}; restore them separately")
        targets[key] = src
        jobs.append((src, dst))
    report_path = Path(args.report) if args.report else out_dir / REPORT_NAME

    records: list[dict] = [
        {"input": item, "status": "failed", "error": message, "faces": 0, "seconds": 0.0} for item, message in problems
    ]
    for _, message in problems:
        print_error(message)
    if getattr(args, "ray", None) and jobs:
        return _run_with_ray(args, jobs, out_dir, records, report_path, ext, started)
    restorer = None
    if jobs:
        try:
            restorer = Restorer(args.model, **_restorer_options(args))
        except ModelMismatchError as err:
            raise UserError(str(err)) from err
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(jobs, unit="file", disable=True if args.quiet else None, desc="restore", dynamic_ncols=True)
    try:
        _restore_all(bar, restorer, out_dir, records, args)
    finally:  # an interrupted run still leaves its report (and --skip-existing resumes it)
        bar.close()
        report = _write_report(report_path, records, restorer, args, ext, time.perf_counter() - started)
    failed = report["failures"]
    summary = report["summary"]
    print(
        f"restored {summary['restored']} file(s) ({summary['faces']} face(s)), skipped {summary['skipped']}, "
        f"failed {len(failed)}; report: {report_path}",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _restore_all(bar, restorer, out_dir: Path, records: list[dict], args: argparse.Namespace) -> None:
    import time

    from tqdm import tqdm

    for src, dst in bar:
        bar.set_postfix_str(src.name[-30:], refresh=False)
        record = {"input": str(src), "output": str(dst), "faces": 0}
        if args.skip_existing and dst.exists():
            record.update(status="skipped", seconds=0.0)
            records.append(record)
            continue
        t0 = time.perf_counter()
        try:
            if src.suffix.lower() in _VIDEO_EXTS:
                record.update(_restore_video(restorer, src, dst, args))
            elif args.aligned:
                record.update(_restore_aligned(restorer, src, dst))
            else:
                record.update(_restore_image(restorer, src, dst, out_dir, args))
            record["status"] = "ok"
        except Exception as err:  # one bad file never stops the batch; the report says why
            record.update(status="failed", error=_describe(err, src))
            tqdm.write(f"facedeblur restore: {record['error']}", file=sys.stderr)
        record["seconds"] = round(time.perf_counter() - t0, 4)
        for warning in record.get("warnings", []):
            tqdm.write(f"facedeblur restore: warning: {warning}", file=sys.stderr)
        records.append(record)


def _write_report(path: Path, records: list[dict], restorer, args, ext, seconds: float) -> dict:
    import json

    from facedeblur import __version__
    from facedeblur.images import write_text_atomic

    failed = [r for r in records if r["status"] == "failed"]
    done = [r for r in records if r["status"] == "ok"]
    report = {
        "facedeblur": __version__,
        "command": "restore",
        "model": None if restorer is None else restorer.model.name,
        "device": None if restorer is None else restorer.device,
        "options": {
            "aligned": args.aligned,
            "fidelity": args.fidelity,
            "only_center_face": args.only_center_face,
            "min_face_size": args.min_face_size,
            "detector": args.detector,
            "ext": ext,
        },
        "summary": {
            "files": len(records),
            "restored": len(done),
            "skipped": sum(r["status"] == "skipped" for r in records),
            "failed": len(failed),
            "faces": sum(int(r.get("faces", 0)) for r in done),
            "seconds": round(seconds, 3),
        },
        "files": records,
        "failures": [{"input": r["input"], "error": r["error"]} for r in failed],
    }
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    return report


def _describe(err: Exception, src: Path) -> str:
    from facedeblur.errors import InputError

    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, InputError) and str(src) in text:
        return text
    if isinstance(err, InputError):
        return f"{src}: {text}"
    return f"{src}: {type(err).__name__}: {text}"


def _restore_image(restorer, src: Path, dst: Path, out_dir: Path, args: argparse.Namespace) -> dict:
    from facedeblur.images import read_image, write_image

    pixels = read_image(src)
    result = restorer.restore(pixels)
    write_image(dst, result.image)
    info: dict = {
        "kind": "image",
        "faces": len(result.faces),
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
        "face_info": [face.to_dict() for face in result.faces],
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
    }
    warnings = []
    if result.skipped:
        warnings.append(f"{src}: {result.skipped} face(s) smaller than {args.min_face_size:g} px left as they were")
    if not result.faces:
        warnings.append(f"{src}: no face found; written unchanged")
    if warnings:
        info["warnings"] = warnings
    info["skipped_small_faces"] = result.skipped
    rel = dst.relative_to(out_dir)
    if args.save_faces and result.faces:
        _save_faces(result.faces, out_dir / "faces" / rel.parent, rel.stem)
    if args.compare:
        _save_compare(pixels, result.image, (out_dir / "compare" / rel).with_suffix(".png"))
    return info


def _restore_aligned(restorer, src: Path, dst: Path) -> dict:
    from facedeblur.images import read_image, write_image

    pixels = read_image(src)
    write_image(dst, restorer.restore_aligned(pixels))
    return {"kind": "aligned", "faces": 1, "size": [int(pixels.shape[1]), int(pixels.shape[0])]}


def _restore_video(restorer, src: Path, dst: Path, args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from facedeblur.errors import InputError
    from facedeblur.video import probe_video

    if args.aligned:
        raise InputError(f"{src}: --aligned takes aligned face images, not videos")
    info = probe_video(src)
    with tqdm(
        total=info.frames, unit="frame", desc=src.name[-20:], leave=False, disable=True if args.quiet else None
    ) as bar:
        result = restorer.restore_video(src, dst, progress=bar.update)
    record = {
        "kind": "video",
        "frames": result.frames,
        "size": [result.width, result.height],
        "fps": round(result.fps, 3),
        "audio": result.has_audio,
        "faces": int(sum(result.faces_per_frame)),
        "frames_with_faces": int(sum(1 for n in result.faces_per_frame if n)),
        "frames_per_second": round(result.frames / max(result.seconds, 1e-9), 3),
    }
    if record["frames_with_faces"] == 0:
        record["warnings"] = [f"{src}: no face found in any frame; written unchanged"]
    return record


def _save_faces(faces, folder: Path, stem: str) -> None:
    import numpy as np

    from facedeblur.images import write_image

    for i, face in enumerate(faces):
        write_image(
            folder / f"{stem}_face{i:02d}_input.png", (np.clip(face.input_face, 0, 1) * 255 + 0.5).astype(np.uint8)
        )
        if face.restored_face is not None:
            restored = (np.clip(face.restored_face, 0, 1) * 255 + 0.5).astype(np.uint8)
            write_image(folder / f"{stem}_face{i:02d}.png", restored)


def _save_compare(before, after, path: Path) -> None:
    import numpy as np

    from facedeblur.images import to_float_rgb, write_image

    left, _, _ = to_float_rgb(before)
    right, _, _ = to_float_rgb(after)
    gap = np.ones((left.shape[0], 8, 3), np.float32)
    side = np.concatenate([left, gap, right], axis=1)
    write_image(path, (np.clip(side, 0, 1) * 255 + 0.5).astype(np.uint8))


def _run_with_ray(args, jobs, out_dir: Path, records: list[dict], report_path: Path, ext, started: float) -> int:
    """``--ray``: the same batch through :func:`facedeblur.distributed.ray_jobs.restore_folder_with_ray`."""
    import time

    from facedeblur.distributed.ray_jobs import restore_folder_with_ray

    out_dir.mkdir(parents=True, exist_ok=True)
    records += restore_folder_with_ray(
        jobs,
        out_dir,
        args.model,
        address=args.ray,
        **_restorer_options(args),
        aligned=args.aligned,
        skip_existing=args.skip_existing,
    )
    for record in records:
        if record["status"] == "failed" and "output" in record:
            print_error(record["error"])
    report = _write_report(report_path, records, None, args, ext, time.perf_counter() - started)
    summary = report["summary"]
    print(
        f"restored {summary['restored']} file(s) ({summary['faces']} face(s)) with Ray, skipped {summary['skipped']}, "
        f"failed {summary['failed']}; report: {report_path}",
        file=sys.stderr,
    )
    return 1 if summary["failed"] else 0
