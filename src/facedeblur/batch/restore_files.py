"""What ``restore`` does to one file, shared by the command, its Ray actors and the web demo.

:func:`plan_restore` turns the expanded inputs into :class:`RestoreJob` s, every path each job will
write checked and reserved by the :class:`~facedeblur.batch.paths.PathPolicy` (so ``--compare`` and
``--save-faces`` of ``a.jpg`` and ``a.png`` get distinct files, and nothing lands on an input);
:func:`restore_file` restores one job with a :class:`facedeblur.restore.Restorer` (passed in: this
module imports no model code) and returns its record.

Layout under ``OUT``: the output keeps the input's relative name (``--ext`` changes the extension of
images; a readable image of a type that cannot be written, e.g. ``.gif``, becomes ``.png``);
``OUT/compare/<output name>`` holds input | output side by side (same type as the output);
``OUT/faces/<sub-folders>/<stem>_faceNN.png`` and ``..._faceNN_input.png`` the restored and aligned
input faces (``<stem>_<ext>`` when two outputs of a folder share a stem).

Example:
    >>> from pathlib import Path
    >>> output_path(Path("sub/a.gif"), Path("out"), ext=None, aligned=False)
    PosixPath('out/sub/a.png')
    >>> job = RestoreJob("in/a.jpg", "out/a.jpg", "image", compare="out/compare/a.jpg")
    >>> RestoreJob.from_dict(job.to_dict()) == job
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facedeblur.batch.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputFile
from facedeblur.batch.paths import PathPolicy
from facedeblur.errors import InputError

COMPARE_DIR = "compare"
FACES_DIR = "faces"
COMPARE_GAP = 8  # px of white between input and output


@dataclass(frozen=True)
class RestoreJob:
    """One file of a restore batch and every path it writes (plain strings: it travels to Ray actors).

    Attributes:
        input: the input file.
        output: the restored file.
        kind: ``image``, ``aligned`` (the input is one aligned face) or ``video``.
        compare: input | output side by side (None: not written).
        faces: prefix ``FOLDER/STEM`` of the face crops ``STEM_faceNN.png`` (None: not written).
    """

    input: str
    output: str
    kind: str
    compare: str | None = None
    faces: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestoreJob:
        return cls(**{k: (None if data.get(k) in (None, "") else str(data[k])) for k in cls.__dataclass_fields__})


def output_path(rel: Path, out_dir: Path, ext: str | None, aligned: bool) -> Path:
    """Where an input's result goes: the same relative name; images may change extension."""
    suffix = rel.suffix.lower()
    if suffix in VIDEO_EXTENSIONS and not aligned:
        return out_dir / rel
    if ext:
        return out_dir / rel.with_suffix(ext)
    if suffix not in IMAGE_EXTENSIONS:  # readable by PIL but not writable (e.g. .gif): write PNG
        return out_dir / rel.with_suffix(".png")
    return out_dir / rel


def plan_restore(
    files: list[InputFile],
    out_dir: Path,
    policy: PathPolicy,
    *,
    ext: str | None = None,
    aligned: bool = False,
    compare: bool = False,
    save_faces: bool = False,
) -> list[RestoreJob]:
    """One :class:`RestoreJob` per input, every path it writes reserved in ``policy``.

    Raises:
        UserError: a path would overwrite an input, land in an input folder, or be written twice.
    """
    planned = []
    for entry in files:
        dst = output_path(entry.rel, out_dir, ext, aligned)
        policy.reserve(dst, "output", entry.path)
        is_video = entry.path.suffix.lower() in VIDEO_EXTENSIONS
        kind = "aligned" if aligned else ("video" if is_video else "image")
        planned.append((entry, dst, kind))
    stems: dict[tuple[Path, str], int] = {}
    for _, dst, _ in planned:
        key = (dst.parent, dst.stem)
        stems[key] = stems.get(key, 0) + 1
    jobs = []
    for entry, dst, kind in planned:
        rel = dst.relative_to(out_dir)
        compare_path = faces_prefix = None
        if compare and kind != "video":
            compare_path = policy.reserve(out_dir / COMPARE_DIR / rel, "--compare image", entry.path)
        if save_faces and kind == "image":
            stem = rel.stem if stems[(dst.parent, dst.stem)] == 1 else f"{rel.stem}_{rel.suffix.lstrip('.').lower()}"
            faces_prefix = out_dir / FACES_DIR / rel.parent / stem
            for name in (f"{stem}_face00.png", f"{stem}_face00_input.png"):  # the first face's names stand for all
                policy.reserve(faces_prefix.parent / name, "--save-faces crop", entry.path)
        jobs.append(
            RestoreJob(
                str(entry.path),
                str(dst),
                kind,
                None if compare_path is None else str(compare_path),
                None if faces_prefix is None else str(faces_prefix),
            )
        )
    return jobs


def restore_file(
    restorer,
    job: RestoreJob,
    *,
    fidelity: float | None = None,
    video_bar: Callable[[Path, int], Any] | None = None,
    sink: dict | None = None,
    video: dict | None = None,
) -> dict[str, Any]:
    """Restore one job's file with ``restorer`` and write everything the job names.

    Args:
        restorer: a :class:`facedeblur.restore.Restorer`.
        job: what to read and write.
        fidelity: blend for this file (None: the restorer's).
        video_bar: ``video_bar(path, frames)`` returns a context manager with ``update(n)`` (a progress
            bar) for videos.
        sink: when given, receives ``before`` and ``after`` pixels of images (the demo's previews).
        video: options of videos: ``codec``, ``crf``, ``preset`` (:class:`facedeblur.video.EncodeOptions`)
            and keyword arguments of :meth:`facedeblur.restore.Restorer.restore_video` (``temporal``...).

    Returns:
        The record's fields: ``output``, ``kind``, ``faces``, ``size``; for images ``face_info``,
        ``timings``, ``skipped_small_faces``, ``search`` (how the faces were searched), written
        ``compare`` / ``face_files``, and ``warnings``.

    Raises:
        InputError: the file cannot be read or restored (names it); anything else the run loop
            turns into the file's failure record.
    """
    src, dst = Path(job.input), Path(job.output)
    if job.kind == "video":
        return _restore_video(restorer, src, dst, fidelity, video_bar, video)
    if src.suffix.lower() in VIDEO_EXTENSIONS:
        raise InputError(f"{src}: --aligned takes aligned face images, not videos")
    from facedeblur.images import read_image_with_info, write_image, write_result

    pixels, meta = read_image_with_info(src)  # ICC, EXIF, DPI and JPEG tables travel to every output
    size = [int(pixels.shape[1]), int(pixels.shape[0])]
    if job.kind == "aligned":
        restored = restorer.restore_aligned(pixels, fidelity=fidelity)
        write_result(dst, restored, src, pixels, meta)
        record: dict[str, Any] = {"output": str(dst), "kind": "aligned", "faces": 1, "size": size}
        faces: list = []
    else:
        result = restorer.restore(pixels, fidelity=fidelity)
        restored, faces = result.image, result.faces
        write_result(dst, restored, src, pixels, meta)  # unchanged pixels: the input's bytes, bit for bit
        search = dict(result.search or {})
        timings = {k: round(v, 4) for k, v in result.timings.items()}
        if "seconds" in search:  # measured time goes with the timings, the search's plan stays reproducible
            timings["search"] = search.pop("seconds")
        record = {
            "output": str(dst),
            "kind": "image",
            "faces": len(faces),
            "size": size,
            "face_info": [face.to_dict() for face in faces],
            "timings": timings,
            "skipped_small_faces": result.skipped,
            "search": search or None,
        }
        warnings = []
        if result.skipped:
            limit = f"{restorer.min_face_size:g}"
            warnings.append(f"{src}: {result.skipped} face(s) smaller than {limit} px left as they were")
        if search.get("limited_by"):
            warnings.append(
                f"{src}: searched for faces from {search['smallest_face']:.0f} px, not {restorer.min_face_size:g} px "
                f"(limited by the {search['limited_by']})"
            )
        if search.get("stopped_early"):
            warnings.append(f"{src}: the face search ran out of time; small faces may be missed")
        if not faces:
            warnings.append(f"{src}: no face found; written unchanged")
        if warnings:
            record["warnings"] = warnings
    if job.compare:
        write_image(Path(job.compare), side_by_side(pixels, restored), info=meta)
        record["compare"] = job.compare
    if job.faces and faces:
        record["face_files"] = save_face_crops(faces, Path(job.faces), meta.for_crop())
    if sink is not None:
        sink["before"], sink["after"] = pixels, restored
    return record


def side_by_side(before, after):
    """``before | gap | after`` as 8-bit RGB (both any pixel format of the same height).

    Shape:
        (H, W1, C1), (H, W2, C2) -> (H, W1 + 8 + W2, 3) uint8.
    """
    import numpy as np

    from facedeblur.images import to_float_rgb, to_uint8

    left, _, _ = to_float_rgb(before)
    right, _, _ = to_float_rgb(after)
    gap = np.ones((left.shape[0], COMPARE_GAP, 3), np.float32)
    return to_uint8(np.concatenate([left, gap, right], axis=1))


def save_face_crops(faces: list, prefix: Path, meta=None) -> list[str]:
    """Write ``PREFIX_faceNN_input.png`` (aligned input) and ``PREFIX_faceNN.png`` (restored) per face.

    ``meta`` (an :class:`facedeblur.images.ImageInfo`) is the photo's ICC profile and EXIF to carry.
    """
    from facedeblur.images import to_uint8, write_image

    written = []
    for i, face in enumerate(faces):
        path = prefix.parent / f"{prefix.name}_face{i:02d}_input.png"
        write_image(path, to_uint8(face.input_face), info=meta)
        written.append(str(path))
        if face.restored_face is not None:
            path = prefix.parent / f"{prefix.name}_face{i:02d}.png"
            write_image(path, to_uint8(face.restored_face), info=meta)
            written.append(str(path))
    return written


def _restore_video(
    restorer, src: Path, dst: Path, fidelity: float | None, video_bar, video: dict | None
) -> dict[str, Any]:
    import contextlib

    from facedeblur.video import EncodeOptions, probe_video

    options = dict(video or {})
    encode = EncodeOptions(**{k: options.pop(k) for k in ("codec", "crf", "preset") if k in options})
    info = probe_video(src)
    bar = video_bar(src, info.frames) if video_bar is not None else contextlib.nullcontext()
    with bar as progress:
        update = progress.update if progress is not None else None
        result = restorer.restore_video(src, dst, fidelity=fidelity, progress=update, encode=encode, **options)
    record: dict[str, Any] = {
        "output": str(dst),
        "kind": "video",
        "frames": result.frames,
        "size": [result.width, result.height],
        "fps": round(result.fps, 3),
        "audio": result.has_audio,
        "streams_copied": result.streams,
        "rotation": result.rotation,
        "codec": result.encode,
        "faces": int(sum(result.faces_per_frame)),
        "model_faces": result.model_faces,
        "frames_with_faces": int(sum(1 for n in result.faces_per_frame if n)),
        "frames_per_second": round(result.frames / max(result.seconds, 1e-9), 3),
        "stages": result.stages,
        "face_seconds": result.face_seconds,
        "tracking": result.tracking,
    }
    warnings = list(result.warnings)
    if record["frames_with_faces"] == 0:
        warnings.append(f"{src}: no face found in any frame; written unchanged")
    if warnings:
        record["warnings"] = warnings
    return record
