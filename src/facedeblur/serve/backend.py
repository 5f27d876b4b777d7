"""What the web demo does, without Gradio: restore uploaded photos and videos with a :class:`Restorer`.

:class:`DemoBackend` owns the loaded models (one :class:`~facedeblur.restore.Restorer` per model,
loaded on first use and shared by all visitors), a work folder for the results, and turns every
problem with one upload (unreadable file, no face, a video without frames) into a one-line message
naming the file instead of an exception, so a batch always finishes. :mod:`facedeblur.serve.app`
only wires these functions to Gradio components.

Example:
    A photo without a face gets its message (one with faces: ``'photo.jpg: 1 face restored ...'``):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from facedeblur.images import write_image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name)
    >>> write_image(folder / "wall.png", np.full((64, 64, 3), 128, np.uint8))
    >>> backend = DemoBackend(model=None, device="cpu", work_dir=folder / "work")
    >>> batch = backend.restore_photos([folder / "wall.png"], backend.default_choice, fidelity=1.0)
    >>> print(batch.status)
    wall.png: no face found; nothing to restore
    >>> tmp.cleanup()
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facedeblur.batch.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from facedeblur.batch.restore_files import RestoreJob, restore_file
from facedeblur.batch.run import run_one
from facedeblur.errors import UserError

JOB_MAX_AGE_S = 3600  # results are copied to Gradio's cache when sent; our copies go after an hour
PREVIEW_MAX_SIDE = 1600  # px; previews in the page are scaled down, downloads keep the full size


@dataclass
class PhotoOutcome:
    """What happened to one uploaded photo.

    Attributes:
        name: the uploaded file's name (no folder).
        message: one line for the user, naming the file.
        before: 8-bit RGB preview of the input (None when the file could not be read).
        after: 8-bit RGB preview of the result (None when nothing was restored).
        output: the restored file to download (None when nothing was restored).
        faces: faces restored.
    """

    name: str
    message: str
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    output: Path | None = None
    faces: int = 0

    @property
    def ok(self) -> bool:
        return self.output is not None


@dataclass
class PhotoBatch:
    """The outcomes of one click on *Restore*, in upload order."""

    outcomes: list[PhotoOutcome] = field(default_factory=list)

    @property
    def restored(self) -> list[PhotoOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def problems(self) -> list[str]:
        return [o.message for o in self.outcomes if not o.ok]

    @property
    def outputs(self) -> list[str]:
        return [str(o.output) for o in self.restored]

    @property
    def status(self) -> str:
        return "\n".join(o.message for o in self.outcomes)


@dataclass
class VideoOutcome:
    """What happened to one uploaded video: the restored file (or None) and a one-line message."""

    name: str
    message: str
    output: Path | None = None


class DemoBackend:
    """Models, work folder and processing functions of the web demo.

    Args:
        model: an extra model offered first in the model list (bundled name, ``"default"`` or a
            ``.safetensors`` path); None offers only the bundled models.
        device: ``auto|cpu|cuda|mps`` for every model.
        work_dir: where results are written (default: a temporary folder removed with the backend).
        detection: face-detection keyword arguments for every Restorer (``detector``, ``min_face_size``,
            ``detection_threshold``, ``max_side``, ``upsample``; see :class:`facedeblur.restore.Restorer`).
        experimental: also offer the bundled models marked experimental (see :func:`model_choices`).

    Raises:
        UserError: ``model`` is neither a bundled name nor an existing weights file, or there is no
            model at all.
    """

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        work_dir: str | Path | None = None,
        detection: dict | None = None,
        experimental: bool = False,
    ) -> None:
        from facedeblur.restore import resolve_device

        self.device = resolve_device(device)
        self.detection = dict(detection or {})
        self.choices = model_choices(model, experimental)
        if not self.choices:
            raise UserError("no bundled model is installed; pass --model PATH.safetensors")
        self._restorers: dict[str, object] = {}
        self._lock = threading.Lock()
        if work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="facedeblur-serve-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.work_dir), True)
        else:
            self.work_dir = Path(work_dir)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.work_dir / "gradio"), True)
        self.gradio_dir = self.work_dir / "gradio"  # uploads and Gradio's cache (see serve.app)
        self.gradio_dir.mkdir(exist_ok=True)

    def close(self) -> None:
        """Remove the uploads and results (the work folder, or its ``gradio`` part when it was given)."""
        self._cleanup()

    @property
    def default_choice(self) -> str:
        return next(iter(self.choices))

    def restorer(self, choice: str):
        """The shared :class:`~facedeblur.restore.Restorer` for a model choice (loaded on first use).

        Raises:
            UserError: unknown choice, or a weights file that cannot be loaded.
        """
        from facedeblur.restore import Restorer

        if choice not in self.choices:
            raise UserError(f"unknown model {choice!r}; choose one of {', '.join(self.choices)}")
        with self._lock:
            if choice not in self._restorers:
                try:
                    self._restorers[choice] = Restorer(self.choices[choice], device=self.device, **self.detection)
                except UserError as err:
                    raise UserError(f"model {choice!r} cannot be loaded: {err}") from err
            return self._restorers[choice]

    def preview_files(self, outcome: PhotoOutcome) -> tuple[str, str]:
        """Write an outcome's before/after previews as PNGs next to its result; returns their paths."""
        from facedeblur.images import write_image

        folder = outcome.output.parent
        before = folder / f".{outcome.output.stem}.before.png"
        after = folder / f".{outcome.output.stem}.after.png"
        write_image(before, outcome.before)
        write_image(after, outcome.after)
        return str(before), str(after)

    def _job_dir(self) -> Path:
        """A fresh folder for one request; folders of requests older than :data:`JOB_MAX_AGE_S` go."""
        now = time.time()
        for old in self.work_dir.glob("job-*"):
            try:
                if now - old.stat().st_mtime > JOB_MAX_AGE_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        folder = self.work_dir / f"job-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        return folder

    def restore_photos(self, paths: Sequence[str | Path] | None, choice: str, fidelity: float) -> PhotoBatch:
        """Restore every face in each uploaded photo; problems become messages, never exceptions.

        Args:
            paths: the uploaded files (any names; outputs are ``<stem>_restored<ext>``).
            choice: a key of :attr:`choices`.
            fidelity: 0 (input unchanged) to 1 (full restoration) in the face regions.

        Returns:
            A :class:`PhotoBatch` with one outcome per upload.

        Raises:
            UserError: no upload, fidelity out of range, or the model cannot be loaded.
        """
        if not paths:
            raise UserError("upload one or more photos first")
        fidelity = _check_fidelity(fidelity)
        restorer = self.restorer(choice)
        folder = self._job_dir()
        batch = PhotoBatch()
        used: set[str] = set()
        for path in paths:
            batch.outcomes.append(_restore_one_photo(restorer, Path(path), fidelity, folder, used))
        return batch

    def restore_video(
        self,
        path: str | Path | None,
        choice: str,
        fidelity: float,
        progress: Callable[[int, int], None] | None = None,
    ) -> VideoOutcome:
        """Restore every frame of an uploaded video (faces tracked, audio kept).

        Args:
            path: the uploaded video (one of :data:`VIDEO_EXTENSIONS`); the result has the same container.
            choice: a key of :attr:`choices`.
            fidelity: 0 (input unchanged) to 1 (full restoration).
            progress: called with (frames done, frames expected) after each frame.

        Raises:
            UserError: no upload, fidelity out of range, or the model cannot be loaded.
        """
        if not path:
            raise UserError("upload a video first")
        fidelity = _check_fidelity(fidelity)
        path = Path(path)
        name = path.name
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            kinds = ", ".join(e[1:] for e in VIDEO_EXTENSIONS)
            return VideoOutcome(name, f"{name}: not a supported video file (use {kinds})")
        restorer = self.restorer(choice)
        output = self._job_dir() / f"{path.stem}_restored{path.suffix.lower()}"
        job = RestoreJob(str(path), str(output), "video")

        def video_bar(src: Path, frames: int) -> _FrameProgress:
            return _FrameProgress(max(frames, 1), progress)

        record = run_one(path, lambda: restore_file(restorer, job, fidelity=fidelity, video_bar=video_bar))
        if record["status"] == "failed":
            return VideoOutcome(name, _name_file(record["error"], path))
        width, height = record["size"]
        with_faces = record["frames_with_faces"]
        if with_faces == 0:
            return VideoOutcome(name, f"{name}: no face found in any of its {record['frames']} frames", output)
        audio = ", audio kept" if record["audio"] else ""
        message = (
            f"{name}: {record['frames']} frames ({width}x{height}, {record['fps']:.2f} fps{audio}), "
            f"faces restored in {with_faces}, {record['seconds']:.1f} s -> {output.name}"
        )
        return VideoOutcome(name, message, output)


class _FrameProgress:
    """The progress "bar" :func:`restore_file` drives for a video: calls ``progress(done, total)``."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def __enter__(self) -> _FrameProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, step: int = 1) -> None:
        self.done += step
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)


def model_choices(extra: str | None = None, experimental: bool = False) -> dict[str, str]:
    """Model list of the demo: label -> what :class:`~facedeblur.restore.Restorer` takes.

    ``extra`` (a bundled name, ``"default"`` or a weights path) comes first; bundled restoration
    models follow, the default model first among them. Component networks (the face parser PSFR-GAN
    uses) are never offered; experimental models (metadata: no better than their input on their
    validation set) only with ``experimental`` or when named as ``extra``.

    Raises:
        UserError: ``extra`` is neither a bundled name nor an existing ``.safetensors`` file.

    Example:
        >>> isinstance(model_choices(), dict)
        True
    """
    from facedeblur.models.hub import DEFAULT_MODEL, bundled_catalogue

    catalogue = [e for e in bundled_catalogue() if e.architecture and not e.component]
    restorers = [e.name for e in catalogue]
    offered = [e.name for e in catalogue if experimental or not e.experimental]
    choices: dict[str, str] = {}
    if extra not in (None, ""):
        name = DEFAULT_MODEL if extra == "default" else str(extra)
        if name not in restorers:
            path = Path(name)
            if path.suffix != ".safetensors" or not path.is_file():
                known = ", ".join(restorers) or "none installed"
                raise UserError(f"--model {extra}: not a bundled model ({known}) nor a .safetensors file")
            choices[f"{path.stem} ({path})"] = str(path)
        else:
            choices[name] = name
    for name in offered:
        choices.setdefault(name, name)
    return choices


def preview(pixels: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """Any image the pipeline handles as 8-bit RGB for the page, scaled so its longer side <= ``max_side``.

    Example:
        >>> preview(np.zeros((4000, 1000), np.uint16)).shape
        (1600, 400, 3)
    """
    from facedeblur.images import to_float_rgb, to_uint8

    rgb, _, _ = to_float_rgb(pixels)
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        import cv2

        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return to_uint8(rgb)


def _restore_one_photo(restorer, path: Path, fidelity: float, folder: Path, used: set[str]) -> PhotoOutcome:
    """One upload through the batch core's :func:`restore_file`; its record becomes the outcome."""
    name = path.name
    ext = path.suffix.lower() if path.suffix.lower() in IMAGE_EXTENSIONS else ".png"
    out_name = f"{path.stem}_restored{ext}"
    index = 1
    while out_name in used:  # two uploads with the same name
        index += 1
        out_name = f"{path.stem}_restored-{index}{ext}"
    output = folder / out_name
    sink: dict = {}
    job = RestoreJob(str(path), str(output), "image")
    record = run_one(path, lambda: restore_file(restorer, job, fidelity=fidelity, sink=sink))
    before = preview(sink["before"]) if "before" in sink else None
    if record["status"] == "failed":
        output.unlink(missing_ok=True)
        return PhotoOutcome(name, _name_file(record["error"], path), before)
    if not record["faces"]:
        output.unlink(missing_ok=True)  # nothing restored: nothing to download
        skipped = record.get("skipped_small_faces", 0)
        small = f" ({skipped} too small to restore)" if skipped else ""
        return PhotoOutcome(name, f"{name}: no face found{small}; nothing to restore", before)
    used.add(out_name)
    count = record["faces"]
    message = f"{name}: {count} face{'s' if count != 1 else ''} restored -> {out_name}"
    if record.get("skipped_small_faces"):
        message += f" ({record['skipped_small_faces']} too small, left as they were)"
    return PhotoOutcome(name, message, before, preview(sink["after"]), output, count)


def _name_file(error: str, path: Path) -> str:
    """A one-line message with the upload's temporary folder left out."""
    text = str(error).splitlines()[0] if str(error) else "failed"
    text = text.replace(str(path), path.name)
    return text if text.startswith(path.name) else f"{path.name}: {text}"


def _check_fidelity(fidelity: float | None) -> float:
    if fidelity is None or not 0.0 <= float(fidelity) <= 1.0:
        raise UserError(f"fidelity must be between 0 (input unchanged) and 1 (full restoration), got {fidelity}")
    return float(fidelity)
