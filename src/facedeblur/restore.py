"""The restoration pipeline: detect -> align -> restore every face (batched) -> paste back.

:class:`Restorer` is the Python API behind ``facedeblur restore``::

    from facedeblur import Restorer
    result = Restorer("default", device="cpu").restore(image)   # numpy (uint8/uint16, 1-4 ch) or PIL
    result.image      # same type, size, dtype and channels as ``image``
    result.faces      # per face: box, score, landmarks, the aligned input and restored crops

What is pasted back (feathered) is the change the model made to each aligned face, resized to the
face's size in the photo, so faces larger than the model's face size keep their own fine detail.
Whole images keep every pixel outside the pasted face regions bit for bit. ``fidelity`` blends the
input and the restoration inside the face regions: 0 returns the input exactly, 1 the full
restoration (in the spirit of CodeFormer's ``w``, but 1 means "all restoration" here).

The network sits behind the small :class:`FaceModel` protocol (``face_size``, ``template``,
``__call__`` on a float32 NCHW batch), so backends other than PyTorch (:data:`BACKENDS`) plug in
without touching the pipeline. A :class:`Restorer` is safe to share between threads: the model call
is serialised by a lock and the face detector keeps per-thread state.

Example:
    >>> import numpy as np
    >>> restorer = Restorer("default", device="cpu")
    >>> restorer.restore(np.zeros((64, 64, 3), np.uint8)).faces
    []
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from facedeblur.images import PixelFormat, from_float_rgb, to_float_rgb, to_uint8

DEVICES = ("auto", "cpu", "cuda", "mps")

# backend name -> "module:loader"; the loader takes (weights path, device, batch_size) and returns a FaceModel.
BACKENDS: dict[str, str] = {
    "torch": "facedeblur.restore:TorchFaceModel",
    "onnxruntime": "facedeblur.deploy.onnx_backend:load_onnx_face_model",
}
# backend name -> "module:function" turning --model into the file its loader takes (default: resolve_model).
MODEL_RESOLVERS: dict[str, str] = {
    "onnxruntime": "facedeblur.deploy.onnx_backend:resolve_onnx_model",
}


@runtime_checkable
class FaceModel(Protocol):
    """A restoration network as the pipeline sees it, whatever runs it.

    Attributes:
        name: the model's name (from its weights metadata).
        face_size: side S of the square aligned faces it takes.
        template: (5, 2) canonical landmarks at ``face_size`` the faces must be aligned to.
        metadata: the weights' :class:`~facedeblur.models.hub.WeightsMetadata`.
        device: where it runs (e.g. ``"cpu"``, ``"cuda"``).
    """

    name: str
    face_size: int
    template: np.ndarray
    metadata: Any
    device: str

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Restore a batch: (N, 3, S, S) float32 RGB in [0, 1] -> (N, 3, S, S) float32 in [0, 1]."""
        ...


def resolve_device(device: str = "auto") -> str:
    """Turn ``auto|cpu|cuda|mps`` (or ``cuda:N``) into an available torch device name.

    Raises:
        UserError: unknown name, or a device this machine does not have.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    from facedeblur.errors import UserError

    name = (device or "auto").lower()
    base = name.split(":")[0]
    if base not in DEVICES:
        raise UserError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if base == "cpu":
        return "cpu"
    import torch

    has_mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if base == "auto":
        return "cuda" if torch.cuda.is_available() else ("mps" if has_mps else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if base == "mps" and not has_mps:
        raise UserError("--device mps: Apple's Metal backend is not available here (use --device cpu or auto)")
    return name


class TorchFaceModel:
    """A :class:`FaceModel` running a PyTorch network loaded from a facedeblur weights file.

    Args:
        path: ``.safetensors`` file written by :func:`facedeblur.models.hub.save_weights`.
        device: ``auto|cpu|cuda|mps``.
        batch_size: faces per forward pass (larger batches are split).
    """

    def __init__(self, path: str | Path, device: str = "auto", batch_size: int = 8) -> None:
        from facedeblur.models.hub import load_weights

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = resolve_device(device)
        self.module, self.metadata = load_weights(path, device=self.device)
        # On CPU, oneDNN's convolutions run about 30 % faster on channels-last tensors (same results).
        self._channels_last = self.device == "cpu"
        if self._channels_last:
            import torch

            self.module = self.module.to(memory_format=torch.channels_last)
        self.name = self.metadata.name
        self.face_size = int(self.metadata.face_size)
        self.template = np.asarray(self.metadata.template, dtype=np.float32).reshape(5, 2)
        self.batch_size = int(batch_size)
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        batch = _check_batch(batch, self.face_size)
        outputs = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(batch), self.batch_size):
                chunk = torch.from_numpy(batch[start : start + self.batch_size]).to(self.device)
                if self._channels_last:
                    chunk = chunk.contiguous(memory_format=torch.channels_last)
                outputs.append(self.module(chunk).float().clamp_(0, 1).cpu().numpy())
        return np.concatenate(outputs) if outputs else np.zeros_like(batch)


def _check_batch(batch: np.ndarray, size: int) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[1:] != (3, size, size):
        raise ValueError(f"expected a (N, 3, {size}, {size}) batch, got shape {batch.shape}")
    return np.ascontiguousarray(batch, dtype=np.float32)


def load_face_model(
    model: str | Path | None = "default", device: str = "auto", backend: str = "torch", batch_size: int = 8
):
    """Load a :class:`FaceModel` by bundled name, ``"default"`` or weights path, with a backend.

    Raises:
        UserError: unknown model name (the message lists the bundled ones) or backend, or a component
            network (e.g. ``parsenet``) that is not a face restorer.
    """
    from facedeblur.errors import UserError
    from facedeblur.models.hub import resolve_model

    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; known: {', '.join(sorted(BACKENDS))}")
    if backend in MODEL_RESOLVERS:
        module_name, attr = MODEL_RESOLVERS[backend].split(":")
        path = getattr(importlib.import_module(module_name), attr)(model)
    else:
        path = resolve_model(None if model is None else str(model))
    module_name, attr = BACKENDS[backend].split(":")
    loader = getattr(importlib.import_module(module_name), attr)
    face_model = loader(path, device=device, batch_size=batch_size)
    refuse_components(getattr(face_model, "metadata", None), model)
    return face_model


def refuse_components(meta, model: Any) -> None:
    """Refuse weights of a component network (e.g. PSFR-GAN's face parser) given as a face restorer.

    Raises:
        UserError: naming the model, what it is, and the restorers that are bundled.
    """
    from facedeblur.errors import UserError
    from facedeblur.models.hub import COMPONENT_ARCHITECTURES, bundled_catalogue

    architecture = getattr(meta, "architecture", None)
    if architecture in COMPONENT_ARCHITECTURES:
        restorers = ", ".join(e.name for e in bundled_catalogue() if e.architecture and not e.component)
        raise UserError(
            f"--model {model}: a {architecture} network is a component of another model (a face parser), "
            f"not a face restorer; use one of {restorers or 'your own .safetensors models'}"
        )


@dataclass
class RestoredFace:
    """One face found and restored in an image.

    Attributes:
        box: (x0, y0, x1, y1) detector box in image pixels.
        score: detector score.
        landmarks5: (5, 2) landmarks (x, y) used for the alignment.
        matrix: (2, 3) similarity transform from image pixels to the aligned face.
        input_face: (S, S, 3) float32 RGB aligned input crop.
        restored_face: (S, S, 3) float32 RGB restored crop (None when fidelity is 0: nothing ran).
        track_id: the face's track in a video, None for photos.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks5: np.ndarray
    matrix: np.ndarray
    input_face: np.ndarray
    restored_face: np.ndarray | None = None
    track_id: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready summary (box, score, landmarks rounded to 0.01 px)."""
        out = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks5": np.round(np.asarray(self.landmarks5, float), 2).tolist(),
        }
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        return out


@dataclass
class RestoreResult:
    """What :meth:`Restorer.restore` returns.

    Attributes:
        image: the restored image, same type (numpy or PIL), size, dtype and channels as the input.
        faces: the faces found, in the detector's order (largest first).
        timings: seconds spent per stage (detect, align, model, paste, total).
        skipped: faces found but left alone for being smaller than ``min_face_size``.
        search: how the faces were searched (:meth:`facedeblur.face.search.SearchReport.to_dict`:
            detector, passes with scales and tiles, smallest face findable, seconds); None when the
            faces were given.
    """

    image: Any
    faces: list[RestoredFace] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    skipped: int = 0
    search: dict | None = None


@dataclass
class VideoResult:
    """What :meth:`Restorer.restore_video` returns.

    Attributes:
        frames, width, height, fps, has_audio: the written video (size as stored).
        faces_per_frame: faces restored in each frame.
        seconds: wall time.
        warnings: problems that did not stop the run (truncated input, frames that failed to decode,
            streams the output container cannot hold), one line each naming the input.
        stages: per step (decode, find, model, paste, encode): items, busy seconds, frames per busy second.
        face_seconds: seconds inside the face steps (track, align, model, smooth, paste).
        model_faces: faces the model ran on (the others had their change carried along their motion).
        tracking: frames, detector runs, scene cuts, lost faces.
        encode: the codec options used.
        rotation: display rotation kept (degrees).
        streams: audio, subtitle and data streams copied.
    """

    frames: int
    width: int
    height: int
    fps: float
    has_audio: bool
    faces_per_frame: list[int]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    face_seconds: dict[str, float] = field(default_factory=dict)
    model_faces: int = 0
    tracking: dict[str, int] = field(default_factory=dict)
    encode: dict = field(default_factory=dict)
    rotation: int = 0
    streams: int = 0


class Restorer:
    """Restore every face in photos and video frames with a bundled or user-trained model.

    Args:
        model: bundled model name, ``"default"`` or a path to a ``.safetensors`` weights file; or a
            ready :class:`FaceModel`.
        device: ``auto|cpu|cuda|mps``.
        backend: which runtime runs the network (a key of :data:`BACKENDS`).
        fidelity: default blend in the face regions, 0 (input unchanged) to 1 (full restoration).
        only_center_face: restore only the face closest to the image centre.
        min_face_size: the smallest face to find and restore (box side, px): the detector's search is
            scaled and tiled to find faces this small (see :mod:`facedeblur.face.search`); smaller
            faces are left alone.
        detector: ``"centerface"`` (default), ``"hog"`` or ``"cnn"`` (see :mod:`facedeblur.face.detectors`).
        batch_size: faces per forward pass.
        detection_threshold: minimum detector score (None: the detector's default).
        max_side: expert cap on the longer side the search works at (None: automatic).
        upsample: expert override of the search's finest scale, 2 ** upsample (None: automatic).

    Example:
        >>> import numpy as np
        >>> r = Restorer("default", device="cpu")
        >>> r.restore(np.zeros((64, 64), np.uint16)).image.shape
        (64, 64)
    """

    def __init__(
        self,
        model: str | Path | FaceModel | None = "default",
        device: str = "auto",
        backend: str = "torch",
        *,
        fidelity: float = 1.0,
        only_center_face: bool = False,
        min_face_size: float = 24,
        detector: str = "centerface",
        batch_size: int = 8,
        detection_threshold: float | None = None,
        max_side: int | None = None,
        upsample: int | None = None,
    ) -> None:
        from facedeblur.face.search import SearchOptions

        _check_fidelity(fidelity)
        if min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0, got {min_face_size}")
        # validates the detector and the expert options before any model loads
        SearchOptions(detector, max(float(min_face_size), 1.0), detection_threshold, max_side, upsample)
        if isinstance(model, FaceModel) and not isinstance(model, (str, Path)):
            self.model = model
        else:
            self.model = load_face_model(model, device=device, backend=backend, batch_size=batch_size)
        self.fidelity = float(fidelity)
        self.only_center_face = bool(only_center_face)
        self.min_face_size = float(min_face_size)
        self.detector = detector
        self.detection_threshold = detection_threshold
        self.max_side = max_side
        self.upsample = upsample

    @property
    def face_size(self) -> int:
        return int(self.model.face_size)

    @property
    def device(self) -> str:
        return str(self.model.device)

    # -- detection --------------------------------------------------------------------------------

    def detect(self, image: Any) -> list:
        """Detect faces (with 5 landmarks) in any supported image, after the size/centre filters."""
        rgb, _, _, _ = _to_float(image)
        return self._detect_rgb(rgb)[0]

    def _detect_rgb(self, rgb: np.ndarray) -> tuple[list, list, dict]:
        return self._detect_uint8(to_uint8(rgb))

    def _detect_uint8(self, image: np.ndarray, min_face_size: float | None = None) -> tuple[list, list, dict]:
        """(faces to restore, faces skipped as smaller than ``min_face_size``, the search report)."""
        from facedeblur.face.detect import find_faces

        search = find_faces(
            image,
            detector=self.detector,
            min_size=self.min_face_size if min_face_size is None else min_face_size,
            score_threshold=self.detection_threshold,
            max_side=self.max_side,
            upsample=self.upsample,
        )
        faces = search.faces
        if self.only_center_face and len(faces) > 1:
            faces = [_center_face(faces, image.shape[1], image.shape[0])]
        return faces, search.skipped, search.report.to_dict()

    # -- whole images -----------------------------------------------------------------------------

    def restore(self, image: Any, *, fidelity: float | None = None, faces: list | None = None) -> RestoreResult:
        """Restore every face in a whole image and paste it back.

        Args:
            image: numpy array (H, W) or (H, W, C), C in 1..4, uint8/uint16 (or float in [0, 1]), RGB(A)
                order; or a PIL image (modes L, LA, RGB, RGBA and 16-bit come back as they went in;
                palette and CMYK images come back as RGB or RGBA).
            fidelity: blend for this call (default: the restorer's).
            faces: skip detection and use these faces (objects with ``box``, ``score``, ``landmarks5``).

        Returns:
            A :class:`RestoreResult`; ``image`` has the input's type, size, dtype and channels and
            every pixel outside the face regions unchanged.
        """
        fidelity = self.fidelity if fidelity is None else _check_fidelity(fidelity)
        start = time.perf_counter()
        rgb, alpha, fmt, kind = _to_float(image)
        timings: dict[str, float] = {}
        skipped: list = []
        report = None
        if faces is None:
            faces, skipped, report = self._detect_rgb(rgb)
        timings["detect"] = time.perf_counter() - start
        restored_rgb, changed, results = self._restore_faces(rgb, faces, fidelity, timings)
        pixels = _from_float(restored_rgb, alpha, fmt, kind, original=image, changed=changed)
        timings["total"] = time.perf_counter() - start
        return RestoreResult(image=pixels, faces=results, timings=timings, skipped=len(skipped), search=report)

    def _restore_faces(
        self, rgb: np.ndarray, faces: list, fidelity: float, timings: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray | None, list[RestoredFace]]:
        from facedeblur.face.align import similarity_matrix, warp_image
        from facedeblur.face.paste import paste_faces

        size = self.face_size
        template = np.asarray(self.model.template, dtype=np.float32)
        t0 = time.perf_counter()
        results = []
        for face in faces:
            matrix = similarity_matrix(np.asarray(face.landmarks5, np.float32), template)
            crop = warp_image(rgb, matrix, (size, size))
            results.append(
                RestoredFace(
                    box=tuple(float(v) for v in face.box),
                    score=float(face.score),
                    landmarks5=np.asarray(face.landmarks5, np.float32),
                    matrix=matrix,
                    input_face=crop,
                    track_id=getattr(face, "track_id", None),
                )
            )
        timings["align"] = time.perf_counter() - t0
        if not results or fidelity == 0:
            timings["model"] = timings["paste"] = 0.0
            return rgb, None, results
        t0 = time.perf_counter()
        batch = np.stack([r.input_face for r in results]).transpose(0, 3, 1, 2)
        restored = self.model(np.ascontiguousarray(batch, dtype=np.float32)).transpose(0, 2, 3, 1)
        timings["model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for r, face_rgb in zip(results, restored, strict=True):
            r.restored_face = np.ascontiguousarray(face_rgb)
        # Paste the change the model made, not its crop: a 128 px crop warped back onto a 300 px face
        # would blur away the detail the photo has (0.7 dB lost by an identity model on 1080p faces).
        # paste_faces clips crops to [0, 1], so changes in [-1, 1] travel as 0.5 + change / 2.
        changes = [0.5 + 0.5 * (r.restored_face - r.input_face) for r in results]
        matrices = [r.matrix for r in results]
        pasted, mask = paste_faces(np.full_like(rgb, 0.5), changes, matrices, return_mask=True)
        out = np.clip(rgb + (2.0 * fidelity) * (pasted - 0.5), 0.0, 1.0)
        timings["paste"] = time.perf_counter() - t0
        return out.astype(np.float32), mask > 0, results

    # -- aligned faces ----------------------------------------------------------------------------

    def restore_aligned(self, image: Any, *, fidelity: float | None = None) -> Any:
        """Restore an already aligned face of any size; returns it at the input's size and type.

        The face is resized to the model's face size, restored, and the restoration's change is
        resized back and added to the input (at the model's size the output is the network's output).
        """
        import cv2

        fidelity = self.fidelity if fidelity is None else _check_fidelity(fidelity)
        rgb, alpha, fmt, kind = _to_float(image)
        if fidelity == 0:
            return _from_float(rgb, alpha, fmt, kind, original=image, changed=None)
        height, width = rgb.shape[:2]
        size = self.face_size
        if (height, width) == (size, size):
            small = rgb
        else:
            interp = cv2.INTER_AREA if min(height, width) > size else cv2.INTER_CUBIC
            small = cv2.resize(rgb, (size, size), interpolation=interp)
        restored = self.model(small.transpose(2, 0, 1)[None].astype(np.float32))[0].transpose(1, 2, 0)
        delta = restored - small
        if (height, width) != (size, size):
            delta = cv2.resize(delta, (width, height), interpolation=cv2.INTER_CUBIC)
        out = np.clip(rgb + fidelity * delta, 0, 1)
        return _from_float(out, alpha, fmt, kind, original=image, changed=np.ones((height, width), bool))

    # -- videos -----------------------------------------------------------------------------------

    def restore_video(
        self,
        src: str | Path,
        dst: str | Path,
        *,
        fidelity: float | None = None,
        progress=None,
        encode=None,
        temporal: float | None = None,
        smooth: str | None = None,
        key_interval: int | None = None,
        frames_per_batch: int = 8,
        model_interval: int | None = None,
        tracking: dict | None = None,
        span: tuple[int, int | None] | None = None,
        hold: float | None = None,
        steady_levels: float | None = None,
        threads: int | None = None,
    ) -> VideoResult:
        """Restore every face of every frame of a video; timing, rotation, audio, subtitles and tags are kept.

        Decoding, finding faces, the model (batched over the faces of several frames), pasting and
        encoding run in their own threads with bounded queues (constant memory on long videos); the
        detector runs on key frames and landmarks are tracked in between (:mod:`facedeblur.video.track`);
        the model's change is smoothed over time (:mod:`facedeblur.video.temporal`).

        Args:
            src: input video (see :data:`facedeblur.batch.inputs.VIDEO_EXTENSIONS`).
            dst: output video, same container type as its extension; written atomically.
            fidelity: blend for this call (default: the restorer's).
            progress: optional callback called with 1 after each frame is written.
            encode: :class:`facedeblur.video.EncodeOptions` (codec, CRF); default: ``EncodeOptions()``.
            temporal: weight of the temporal smoothing of the model's change, 0 (off) to < 1
                (default :data:`facedeblur.video.temporal.DEFAULT_WEIGHT`).
            smooth: what the temporal smoothing averages: ``"change"`` (the model's change only),
                ``"face"`` (the restored face, the input's own noise included: steadier than the
                input, a little softer) or ``"auto"`` (default: the change, and the face as much as its
                track is noisy; see :class:`facedeblur.video.temporal.ChangeSmoother`).
            key_interval: frames between two detector runs (default: one second of frames,
                :data:`facedeblur.video.faces.DEFAULT_KEY_SECONDS`).
            frames_per_batch: frames whose faces share one forward pass.
            model_interval: the model runs on each face at least every this many frames, its change
                carried along the face's motion in between (default
                :data:`facedeblur.video.faces.DEFAULT_MODEL_INTERVAL`; 1: every frame).
            tracking: keyword arguments for :class:`facedeblur.face.tracking.FaceTracker`.
            span: only frames with ``start <= pts < end`` (a key-frame-aligned chunk; see
                :func:`facedeblur.video.plan_chunks`); other streams are then not copied.
            hold: a face keeps its previous frame's alignment while the fitted one moves its crop by
                less than this many crop pixels (default :data:`facedeblur.video.faces.DEFAULT_HOLD`;
                0: every frame its own).
            steady_levels: while every face keeps its alignment, pasted 8-bit values keep the previous
                frame's where within 0.5 + this many levels (default
                :data:`facedeblur.video.faces.DEFAULT_STEADY_LEVELS`; 0: plain rounding).
            threads: threads of the PyTorch model (set for this call, process-wide) and of the decoder
                and encoder each (default: the model :func:`facedeblur.video.faces.default_threads`,
                the CPUs this process may use up to 8; the codecs FFmpeg's choice).

        Raises:
            InputError: unreadable video or one without frames.
        """
        from facedeblur.face.detect import fit_landmarks
        from facedeblur.video import probe_video, transcode_video
        from facedeblur.video.faces import (
            DEFAULT_HOLD,
            DEFAULT_KEY_SECONDS,
            DEFAULT_MODEL_INTERVAL,
            DEFAULT_STEADY_LEVELS,
            FaceStages,
            default_threads,
            torch_threads,
        )
        from facedeblur.video.temporal import DEFAULT_SMOOTHED, DEFAULT_WEIGHT

        fidelity = self.fidelity if fidelity is None else _check_fidelity(fidelity)
        start = time.perf_counter()
        fps = probe_video(src).fps or 25.0
        stages = FaceStages(
            self.model,
            detect=lambda rgb: self._detect_uint8(rgb)[0],
            fit=lambda rgb, box: fit_landmarks(rgb, box, 5),
            fps=fps,
            fidelity=fidelity,
            smoothing=DEFAULT_WEIGHT if temporal is None else float(temporal),
            smooth=smooth or DEFAULT_SMOOTHED,
            key_interval=key_interval or max(1, round(fps * DEFAULT_KEY_SECONDS)),
            frames_per_batch=frames_per_batch,
            model_interval=model_interval or DEFAULT_MODEL_INTERVAL,
            tracking=tracking,
            hold=DEFAULT_HOLD if hold is None else float(hold),
            steady_levels=DEFAULT_STEADY_LEVELS if steady_levels is None else float(steady_levels),
        )
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        # the codecs keep FFmpeg's own choice unless told
        with torch_threads(default_threads() if threads is None else int(threads)):
            written = transcode_video(
                src, dst, progress=progress, stages=stages.stages(), options=encode, span=span, threads=threads
            )
        return VideoResult(
            frames=written.frames,
            width=written.width,
            height=written.height,
            fps=written.fps,
            has_audio=written.has_audio,
            faces_per_frame=stages.stats.faces_per_frame,
            seconds=time.perf_counter() - start,
            warnings=written.warnings,
            stages=written.stage_rates(),
            face_seconds={k: round(v, 3) for k, v in stages.stats.seconds.items()},
            model_faces=stages.stats.model_faces,
            tracking=stages.follower.stats.to_dict(),
            encode=(encode.to_dict() if encode is not None else {"codec": "auto", "crf": None, "preset": "medium"}),
            rotation=written.info.rotation,
            streams=written.info.streams,
        )


def _check_fidelity(fidelity: float) -> float:
    if not 0.0 <= float(fidelity) <= 1.0:
        raise ValueError(f"fidelity must be between 0 (input unchanged) and 1 (full restoration), got {fidelity}")
    return float(fidelity)


def _center_face(faces: list, width: int, height: int):
    cx, cy = width / 2, height / 2

    def distance(face) -> float:
        x0, y0, x1, y1 = face.box
        return ((x0 + x1) / 2 - cx) ** 2 + ((y0 + y1) / 2 - cy) ** 2

    return min(faces, key=distance)


# -- input/output types ---------------------------------------------------------------------------

_PIL_16BIT = ("I;16", "I;16B", "I;16L", "I")


def _to_float(image: Any) -> tuple[np.ndarray, np.ndarray | None, PixelFormat, str]:
    """Any supported image -> (float RGB, alpha or None, pixel format, kind) with kind in numpy/pil/float."""
    kind = "numpy"
    if not isinstance(image, np.ndarray):
        pixels = _pil_to_pixels(image)
        kind = "pil"
    else:
        pixels = image
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1..4, got shape {image.shape}")
        if pixels.dtype.kind == "f":
            kind = "float"
            pixels = (np.clip(np.nan_to_num(pixels), 0, 1) * 65535 + 0.5).astype(np.uint16)
        elif pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"the image has no pixels (shape {pixels.shape})")
    rgb, alpha, fmt = to_float_rgb(pixels)
    return rgb, alpha, fmt, kind


def _pil_to_pixels(image: Any) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - pillow is a dependency
        raise TypeError("expected a numpy array") from err
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a numpy array or a PIL image, got {type(image).__name__}")
    if image.mode in _PIL_16BIT:
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)[:, :, None]
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"))[:, :, None]
    if image.mode == "LA":
        return np.asarray(image)
    if image.mode in ("RGBA", "PA", "La") or (image.mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))


def _from_float(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: PixelFormat,
    kind: str,
    original: Any,
    changed: np.ndarray | None,
) -> Any:
    """Float RGB back to the input's type; pixels outside ``changed`` are copied from the input."""
    if kind == "float":
        source = np.asarray(original)
        out = rgb if fmt.channels >= 3 else (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])[..., None]
        if alpha is not None:
            out = np.concatenate([out, alpha[:, :, None]], axis=2)
        out = out.reshape(source.shape).astype(source.dtype)
        if changed is None:
            return source.copy()
        return np.where(changed.reshape(changed.shape + (1,) * (source.ndim - 2)), out, source)
    source = original if kind == "numpy" else _pil_to_pixels(original)
    source = np.asarray(source)
    pixels = from_float_rgb(rgb, alpha, fmt).reshape(source.shape)
    if changed is None:
        pixels = source.copy()
    else:
        pixels = np.where(changed.reshape(changed.shape + (1,) * (source.ndim - 2)), pixels, source)
    if kind == "pil":
        from PIL import Image

        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        if original.mode in _PIL_16BIT:
            return (
                Image.fromarray(pixels.astype(np.uint16)).convert(original.mode)
                if original.mode == "I"
                else Image.fromarray(pixels)
            )
        return Image.fromarray(pixels)
    return pixels
