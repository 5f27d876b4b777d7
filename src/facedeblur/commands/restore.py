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

from facedeblur.batch.inputs import IMAGE_EXTENSIONS
from facedeblur.commands.detection_args import add_detection_arguments, detection_options
from facedeblur.commands.grammar import (
    add_command,
    add_device_argument,
    add_model_argument,
    add_quiet_argument,
    add_skip_bad_argument,
)

REPORT_NAME = "restore-report.json"


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "restore",
        help="restore every face in photos, folders and videos",
        description=(
            "Detect, align, restore (batched) and paste back every face in photos and videos. "
            "Outputs keep the input's name, size, type and colour mode; pixels outside the faces are unchanged. "
            "With --aligned, each input is one aligned face, resized to the model's face size and returned "
            "at its own size. No output may overwrite an input or land inside an input folder."
        ),
        examples=[
            ("restore photo.jpg -o restored/", "every face of one photo"),
            ("restore shoot/ -o restored/ --skip-existing", "a folder, recursively; resume a run"),
            ('restore "scans/**/*.tif" @more.txt -o out/ --ext png', "globs and file lists"),
            ("restore clip.mp4 -o out/ --model dfpgnet", "a video with another model"),
            ("restore --aligned faces/ -o out/ --compare", "aligned crops, with before|after images"),
            ("restore shoot/ -o out/ --ray local", "on a local Ray instance"),
        ],
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image/video files, folders, globs or @list.txt")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    add_model_argument(
        parser,
        extra=" (--backend onnxruntime: an .onnx file from `facedeblur export NAME --format onnx`, or a bundled "
        "name exported to the cache)",
    )
    add_device_argument(parser)
    parser.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "onnxruntime"),
        help="runtime for the network (default: torch; onnxruntime runs exported .onnx models without torch)",
    )
    parser.add_argument("--aligned", action="store_true", help="inputs are aligned face crops (no detection)")
    parser.add_argument("--only-center-face", action="store_true", help="restore only the face nearest the centre")
    parser.add_argument(
        "--fidelity",
        type=float,
        default=1.0,
        metavar="W",
        help="blend in the face regions: 0 = input unchanged, 1 = full restoration (default 1)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="faces per forward pass (default 8)")
    parser.add_argument(
        "--save-faces",
        action="store_true",
        help="also write the aligned input and restored faces of photos to OUT/faces",
    )
    parser.add_argument(
        "--compare", action="store_true", help="also write input|output of photos side by side to OUT/compare"
    )
    parser.add_argument("--ext", metavar="EXT", help="write images with this extension (e.g. png); videos keep theirs")
    add_video_arguments(parser)
    parser.add_argument("--skip-existing", action="store_true", help="skip inputs whose output exists (resume)")
    parser.add_argument("--report", metavar="JSON", help=f"run report path (default OUT/{REPORT_NAME})")
    add_quiet_argument(parser)
    add_skip_bad_argument(parser, "files")
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="restore with Ray Data model actors (GPUs where the cluster has them): auto, local or a cluster address",
    )
    add_detection_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from facedeblur.errors import UserError

    if not 0.0 <= args.fidelity <= 1.0:
        raise UserError(f"--fidelity must be between 0 and 1, got {args.fidelity}")
    detection_options(args)  # checks the values
    video_options(args)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    ext = None
    if args.ext:
        ext = "." + args.ext.lower().lstrip(".")
        if ext not in IMAGE_EXTENSIONS:
            raise UserError(f"--ext {args.ext!r}: use one of {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}")
    return run_restore(args, Path(args.output), ext)


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """--codec, --crf, --preset, --temporal, --smooth, --model-interval, --key-interval, --hold,
    --steady-levels, --threads: videos' options."""
    from facedeblur.video.encode import CODECS, PRESETS
    from facedeblur.video.temporal import SMOOTHED

    parser.add_argument(
        "--codec",
        default="auto",
        choices=CODECS,
        help="video codec: auto (H.264; MPEG-4 in .avi, VP9 in .webm), h264, h265, or lossless "
        "(FFV1 in .mkv/.avi, H.264 RGB in .mp4/.mov, VP9 in .webm) (default: auto)",
    )
    parser.add_argument(
        "--crf",
        type=int,
        metavar="N",
        help="video quality, lower = better and bigger (default 10 for H.264 and H.265: keeps >= 90%% of "
        "the face's fine detail)",
    )
    parser.add_argument(
        "--temporal",
        type=float,
        default=None,
        metavar="W",
        help="temporal smoothing of the restoration in videos along the faces' motion, 0 (off) to 0.95 (default 0.9)",
    )
    parser.add_argument(
        "--smooth",
        choices=SMOOTHED,
        default=None,
        help="what --temporal averages over time: change (the model's change only), face (the restored "
        "face, the input's own noise included: steadier than the input, a little softer) or auto (the "
        "change, and the face as much as its track is noisy: not at all below 0.8 levels of noise, fully "
        "from 2; default)",
    )
    parser.add_argument(
        "--model-interval",
        type=int,
        default=None,
        metavar="N",
        help="run the model on each face of a video at least every N frames; in between, a face that did "
        "not change keeps its last correction, moved along its motion (default 6; 1: every frame, slower)",
    )
    parser.add_argument(
        "--key-interval",
        type=int,
        default=None,
        metavar="N",
        help="run the face detector every N frames of a video, tracking faces in between (new faces are "
        "found within N frames; default: one second of frames)",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        metavar="PX",
        help="a face in a video keeps its previous alignment while the fitted one moves its crop by less "
        "than PX crop pixels: no alignment jitter (default 0.5; 0: off)",
    )
    parser.add_argument(
        "--steady-levels",
        type=float,
        default=None,
        metavar="L",
        help="pasted pixels in a video keep the previous frame's 8-bit value where "
        "the new one is within 0.5 + L levels of it: no toggling between two levels (default 0.25; 0: off)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads of the model, the decoder and the encoder of a video each (default: the model on "
        "the CPUs, at most 8; the codecs as FFmpeg chooses)",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="H.264/H.265 encoder speed: slower = smaller files at the same quality (default medium)",
    )


def video_options(args: argparse.Namespace) -> dict:
    """The options of videos the command line sets (codec, CRF, preset, smoothing, intervals), checked."""
    from facedeblur.errors import UserError

    options: dict = {"codec": getattr(args, "codec", "auto")}
    for name in ("model_interval", "key_interval"):
        value = getattr(args, name, None)
        if value is not None:
            if value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1 (1: every frame), got {value}")
            options[name] = value
    for name in ("smooth", "preset"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    crf = getattr(args, "crf", None)
    if crf is not None:
        if not 0 <= crf <= 63:
            raise UserError(f"--crf must be between 0 and 51 (63 for VP9), got {crf}")
        options["crf"] = crf
    for name, low in (("hold", 0.0), ("steady_levels", 0.0), ("threads", 1)):
        value = getattr(args, name, None)
        if value is not None:
            if value < low or (name == "steady_levels" and value >= 0.5):
                limit = "between 0 and 0.5" if name == "steady_levels" else f"at least {low}"
                raise UserError(f"--{name.replace('_', '-')} must be {limit}, got {value}")
            options[name] = value
    temporal = getattr(args, "temporal", None)
    if temporal is not None:
        if not 0.0 <= temporal < 1.0:
            raise UserError(f"--temporal must be at least 0 (off) and below 1, got {temporal}")
        options["temporal"] = temporal
    return options


def restorer_options(args: argparse.Namespace) -> dict:
    """The Restorer keyword arguments the command line sets (shared by the in-process and Ray paths)."""
    return {
        "device": args.device,
        "backend": args.backend,
        "fidelity": args.fidelity,
        "only_center_face": args.only_center_face,
        "batch_size": args.batch_size,
        **detection_options(args),
    }


def run_restore(args: argparse.Namespace, out_dir: Path, ext: str | None) -> int:
    """Plan every output (refused up front if one would harm an input), restore, write the report."""
    from facedeblur.batch.inputs import expand_inputs
    from facedeblur.batch.paths import PathPolicy, check_writable_folder
    from facedeblur.batch.report import BatchReport
    from facedeblur.batch.restore_files import plan_restore
    from facedeblur.batch.run import remove_stale_temps
    from facedeblur.errors import UserError

    found = expand_inputs(args.inputs)
    if not found.files and not found.problems:
        raise UserError("no input files")
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out_dir, "-o")
    report_path = policy.reserve(Path(args.report) if args.report else out_dir / REPORT_NAME, "--report")
    jobs = plan_restore(
        found.files,
        out_dir,
        policy,
        ext=ext,
        aligned=args.aligned,
        compare=args.compare,
        save_faces=args.save_faces,
    )
    check_writable_folder(out_dir, "-o")
    remove_stale_temps([Path(j.output) for j in jobs] + [report_path])
    options = {
        "aligned": args.aligned,
        "fidelity": args.fidelity,
        "only_center_face": args.only_center_face,
        **detection_options(args),
        "ext": ext,
        "compare": args.compare,
        "save_faces": args.save_faces,
        "video": video_options(args),
    }
    report = BatchReport(report_path, "restore", options, resume=args.skip_existing, summarize=summarize)
    for item, message in found.problems:
        print_error(message)
        report.add({"input": item, "status": "failed", "error": message, "faces": 0, "seconds": 0.0})
    if getattr(args, "ray", None) and jobs:
        result = _restore_with_ray(args, jobs, report)
        via = " with Ray"
    else:
        result = _restore_here(args, jobs, report)
        via = ""
    summary = result.report["summary"]
    print(
        f"restored {summary['restored']} file(s) ({summary['faces']} face(s)){via}, skipped {summary['skipped']}, "
        f"failed {summary['failed']}; report: {report_path}",
        file=sys.stderr,
    )
    return result.exit_code


def summarize(records: list[dict]) -> dict:
    """The restore-specific summary fields of a report."""
    done = [r for r in records if r["status"] == "ok"]
    return {"restored": len(done), "faces": sum(int(r.get("faces", 0)) for r in done)}


def print_error(message: str) -> None:
    print(f"facedeblur restore: {message}", file=sys.stderr)


def _skip_existing(args: argparse.Namespace):
    if not args.skip_existing:
        return None
    return lambda job: {"output": job.output} if Path(job.output).exists() else None


def _restore_here(args: argparse.Namespace, jobs: list, report):
    from facedeblur.batch.restore_files import restore_file
    from facedeblur.batch.run import BatchResult, run_batch
    from facedeblur.progress import progress
    from facedeblur.restore import Restorer

    restorer = Restorer(args.model, **restorer_options(args)) if jobs else None
    if restorer is not None:
        report.extra = {"model": restorer.model.name, "device": restorer.device}
    if not jobs:
        return BatchResult(report=report.close(), failed=len(report.failures()))

    video = video_options(args)

    def video_bar(src: Path, frames: int):
        return progress(total=frames, unit="frame", desc=src.name[-30:], enabled=not args.quiet, leave=False)

    return run_batch(
        jobs,
        lambda job: restore_file(restorer, job, video_bar=video_bar, video=video),
        report,
        command="restore",
        name=lambda job: job.input,
        skip=_skip_existing(args),
        skip_bad=getattr(args, "skip_bad", True),
        progress=not args.quiet,
        debug=getattr(args, "debug", False),
    )


def _restore_with_ray(args: argparse.Namespace, jobs: list, report):
    """``--ray``: the same jobs, restored by :func:`facedeblur.batch.restore_files.restore_file` in Ray actors."""
    from facedeblur.batch.run import BatchResult, finish_batch, sayer
    from facedeblur.distributed.ray_jobs import restore_jobs_with_ray

    say = sayer("restore")
    result = BatchResult()
    report.extra = {"model": str(args.model), "ray": args.ray}
    try:
        for record in restore_jobs_with_ray(
            jobs,
            args.model,
            address=args.ray,
            restorer_kwargs=restorer_options(args),
            skip_existing=args.skip_existing,
            debug=getattr(args, "debug", False),
            video_options=video_options(args),
        ):
            record.pop("fatal", None)
            for warning in record.get("warnings", []):
                say(f"warning: {warning}")
            if record["status"] == "failed":
                say(record["error"])
            report.add(record)
    except KeyboardInterrupt:
        result.stopped = "interrupted"
        raise
    finally:
        report.reorder([job.input for job in jobs])
        finish_batch(report, result, say)
    return result
