"""The face stages of restoring a video: find and align, restore (batched across frames), paste.

:class:`FaceStages` turns a face model into three :class:`~facedeblur.video.pipeline.Stage` s for
:func:`facedeblur.video.transcode.transcode_video`:

1. ``find`` (one frame at a time, in order): faces followed by :class:`~facedeblur.video.track.FaceFollower`
   (detector on key frames, landmark tracking between), each aligned to the model's template; a
   face whose fitted alignment moved its crop by less than ``hold`` crop pixels keeps the previous
   frame's (landmark fits jitter by a few tenths of a pixel: the crop, the model's input and the
   paste mask would move with them while the face sits still);
2. ``model`` (several frames at once): one forward pass over the faces of every frame waiting, the
   change it makes (output - input) smoothed over time per track
   (:class:`~facedeblur.video.temporal.ChangeSmoother`);
3. ``paste``: the changes warped back into their face regions only (the rest of the frame is not
   touched, not even converted), rounded to 8 bits with a hysteresis of ``steady_levels``: a pixel
   keeps the previous frame's value while the new one is within 0.5 + ``steady_levels`` of it.

Where the restoration's extra flicker came from (d19, a clean talking head, 38 frames, with the
change already smoothed): about half was the rounding (a correction hovering around a half level
toggles the pixel between two levels: flicker of the unrounded output +2.0 % over the input's,
rounded +3.8 %), a sixth the alignment jitter; the rest is the change itself, which the noise-scaled
face averaging of :mod:`facedeblur.video.temporal` offsets on noisy clips.

With decoding and encoding in their own threads the model never waits for the codecs. The stages
only need the model's ``face_size``, ``template`` and ``__call__`` (the
:class:`facedeblur.restore.FaceModel` protocol) and two callables for detection and landmarks.

Example:
    >>> import numpy as np
    >>> class Identity:
    ...     face_size, template = 32, np.array([[22, 12], [18, 12], [8, 12], [12, 12], [15, 20]], np.float32)
    ...     def __call__(self, batch): return batch
    >>> stages = FaceStages(Identity(), detect=lambda rgb: [], fit=None, fps=25)
    >>> [s.name for s in stages.stages()]
    ['find', 'model', 'paste']
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from facedeblur.video.decode import Frame
from facedeblur.video.pipeline import Stage
from facedeblur.video.temporal import (
    DEFAULT_SMOOTHED,
    DEFAULT_WEIGHT,
    ChangeSmoother,
    FaceMotion,
    Motion,
    dense_flow,
    gray,
    warp,
)
from facedeblur.video.track import FaceFollower

DEFAULT_FRAMES_PER_BATCH = 8
# The detector (the whole-frame search, most of finding faces) runs once a second of frames; landmarks
# are tracked in between and a lost face or a scene cut runs it at once: a new face is restored within
# a second of appearing.
DEFAULT_KEY_SECONDS = 1.0
DEFAULT_MODEL_INTERVAL = 6
# Between two runs of the model on a face, its change is carried along the face's motion only while the
# face stays what the model saw: mean |crop - crop at the last run, moved along the flow| below this
# many 8-bit levels (a talking head sitting still differs by 0.3-0.7 levels, camera noise included;
# motion blur that changes, a turn or a word by several). On the dev clips 1.0 and an interval of 6 run
# the model on a quarter fewer faces than 0.75 and 4, at the same face-box PSNR and flicker
# (benchmarks/quality/video_quality.py).
MAX_DRIFT = 1.0
# A face sitting still keeps the alignment of its previous frame while the fitted one moves the crop by
# less than this many crop pixels (landmark fits jitter by a few tenths of a pixel from frame to frame):
# the same pixels go through the model and the paste. On d19 (38 frames, the change smoothed at 0.97)
# it took the flicker the restoration adds from 3.1 to 2.5 % over the input's; on 1.5 s of the dev clips
# with the other defaults it changes the means by less than 0.001 (benchmarks/results/video_quality.json,
# "nohold").
DEFAULT_HOLD = 0.5
# Pasted 8-bit values keep the previous frame's where the new ones are within 0.5 + this many levels of
# them (the same faces in both frames; see facedeblur.face.paste.paste_changes): a correction hovering
# around a half level does not make the pixel toggle between two levels from frame to frame. On the clean
# dev clips 0.25 takes the real clips' flicker up to 0.7 % lower than 0.15 (d19 +0.3 -> -0.4 %, d0 -0.4
# -> -0.8 % against the input; the noisy ones about the same) for 0.04 dB of face-box PSNR on d19 and
# about none on the others.
DEFAULT_STEADY_LEVELS = 0.25


MAX_MODEL_THREADS = 8


def default_threads() -> int:
    """Threads for a video's model: the CPUs this process may use, at most :data:`MAX_MODEL_THREADS`.

    Decoding, finding faces, pasting and encoding run in their own threads beside the model, so a
    network spread over many cores only waits for them: the cap keeps a big machine from
    oversubscribing. On the shared 2-core development machine (load average about 3.5, a training
    run on one core) two threads beat one: 3.15-3.69x against 4.03-4.07x a plain re-encode for d19
    (``python benchmarks/speed/restore_video.py ../shared/data/videos/d19.mp4 --seconds 3 --repeats 1
    --no-jitter --threads 2``, three runs each), so no lower cap.
    """
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_MODEL_THREADS))


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``threads`` inside the block, put back after (process-wide)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class FaceStageStats:
    """Per-frame face counts and seconds spent in the face steps (detect/track, align, model, smooth, paste)."""

    faces_per_frame: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(
        default_factory=lambda: {"track": 0.0, "align": 0.0, "model": 0.0, "smooth": 0.0, "paste": 0.0}
    )
    batches: int = 0
    model_faces: int = 0
    carried_faces: int = 0

    def add(self, name: str, start: float) -> None:
        self.seconds[name] += time.perf_counter() - start


def align_crop(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned (size, size, 3) float32 crop of an 8-bit frame; only the face's region is converted.

    Example:
        >>> frame = np.full((64, 64, 3), 255, np.uint8)
        >>> round(float(align_crop(frame, np.array([[0.5, 0, 0], [0, 0.5, 0]]), 16).max()), 4)
        1.0
    """
    from facedeblur.face.align import invert_affine, warp_image

    height, width = rgb.shape[:2]
    inverse = invert_affine(matrix)
    corners = np.array([[-1, -1], [size, -1], [-1, size], [size, size]], np.float64)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    pad = 4 + 2 / max(float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2])))), 1e-6)
    x0 = int(np.clip(np.floor(points[:, 0].min() - pad), 0, width - 1))
    y0 = int(np.clip(np.floor(points[:, 1].min() - pad), 0, height - 1))
    x1 = int(np.clip(np.ceil(points[:, 0].max() + pad) + 1, x0 + 1, width))
    y1 = int(np.clip(np.ceil(points[:, 1].max() + pad) + 1, y0 + 1, height))
    region = np.multiply(rgb[y0:y1, x0:x1], np.float32(1.0 / 255.0), dtype=np.float32)  # one pass, no copy
    shifted = np.asarray(matrix, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)
    # the region is the frame cut at (x0, y0); "reflect" then mirrors at the cut as at the frame's edge
    return warp_image(region, shifted, (size, size))


def matrix_shift(old: np.ndarray, new: np.ndarray, size: int) -> float:
    """Largest move (crop pixels) of the crop's corners between two image -> crop matrices.

    Example:
        >>> m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        >>> matrix_shift(m, m + [[0, 0, 0.25], [0, 0, 0]], 64)
        0.25
    """
    from facedeblur.face.align import invert_affine

    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    inverse = invert_affine(np.asarray(old, np.float64))
    in_image = corners @ inverse[:, :2].T + inverse[:, 2]
    moved = in_image @ np.asarray(new, np.float64)[:, :2].T + np.asarray(new, np.float64)[:, 2]
    return float(np.abs(moved - corners).max())


def drift(seen: np.ndarray, current: np.ndarray, margin: float = 0.1, motion: Motion | None = None) -> float:
    """Mean |current - seen moved along the flow| inside the crop (``margin`` of each side left out).

    Args:
        seen: (S, S) grey crop the model last ran on.
        current: (S, S) grey crop of this frame.
        margin: share of each side left out.
        motion: this frame's :class:`~facedeblur.video.temporal.Motion`; when it was measured from
            ``seen`` itself (the model ran on the previous frame), its error is the one wanted and no
            flow is computed again.

    Example:
        >>> a = np.full((32, 32), 0.5, np.float32)
        >>> drift(a, a), round(drift(a, a + 0.01), 3)
        (0.0, 0.01)
    """
    if motion is not None and motion.previous is seen and motion.error is not None:
        error = motion.error
    else:
        error = np.abs(warp(seen, dense_flow(seen, current)) - current)
    cut = int(round(margin * error.shape[0]))
    return float(error[cut : error.shape[0] - cut, cut : error.shape[1] - cut].mean())


class FaceStages:
    """The find -> model -> paste stages of a video restoration (see the module docstring).

    Args:
        model: a face model: ``face_size``, ``template`` ((5, 2) landmarks at that size) and
            ``__call__`` on (N, 3, S, S) float32 batches.
        detect: ``detect(rgb) -> faces`` (``box``, ``landmarks5``, ``score``) for key frames.
        fit: ``fit(rgb, box) -> (5, 2)`` landmarks for the frames between (None: detect every frame).
        fps: the video's frame rate.
        fidelity: 0 (input unchanged, no model run) to 1 (the full change).
        smoothing: weight of the temporal smoothing (0: off).
        smooth: what is smoothed over time, ``"change"`` or ``"face"`` (see
            :class:`~facedeblur.video.temporal.ChangeSmoother`).
        key_interval: frames between two detector runs.
        frames_per_batch: frames whose faces share one forward pass.
        model_interval: the model runs on each face at least every this many frames; in the frames
            between, while the face stays what the model last saw (see :data:`MAX_DRIFT`), its change
            is carried along the face's motion (1: the model on every frame).
        tracking: keyword arguments of :class:`facedeblur.face.tracking.FaceTracker`.
        hold: a face keeps its previous frame's alignment while the fitted one moves its crop by
            less than this many crop pixels (see :func:`matrix_shift`; 0: off).
        steady_levels: hysteresis of the rounding to 8 bits, in levels (see
            :func:`facedeblur.face.paste.paste_changes`; 0: plain rounding).
    """

    def __init__(
        self,
        model,
        detect: Callable[[np.ndarray], list],
        fit: Callable[[np.ndarray, tuple], np.ndarray] | None,
        fps: float = 25.0,
        *,
        fidelity: float = 1.0,
        smoothing: float = DEFAULT_WEIGHT,
        smooth: str = DEFAULT_SMOOTHED,
        key_interval: int = 12,
        frames_per_batch: int = DEFAULT_FRAMES_PER_BATCH,
        model_interval: int = DEFAULT_MODEL_INTERVAL,
        tracking: dict | None = None,
        hold: float = DEFAULT_HOLD,
        steady_levels: float = DEFAULT_STEADY_LEVELS,
    ) -> None:
        if frames_per_batch < 1 or model_interval < 1:
            raise ValueError(
                f"frames_per_batch and model_interval must be >= 1, got {frames_per_batch}, {model_interval}"
            )
        self.model = model
        self.size = int(model.face_size)
        self.template = np.asarray(model.template, np.float32)
        self.fidelity = float(fidelity)
        self.follower = FaceFollower(detect, fit, fps, key_interval=key_interval, smoothing=tracking)
        self.motion = FaceMotion()
        self.smoother = ChangeSmoother(weight=smoothing, of=smooth)
        self.frames_per_batch = int(frames_per_batch)
        self.model_interval = int(model_interval)
        self._since_model: dict[int, int] = {}
        self._seen: dict[int, np.ndarray] = {}  # per track: the grey crop the model last ran on
        self.hold = float(hold)
        self._held: dict[int, np.ndarray] = {}  # per track: the alignment of its previous frame
        self.steady_levels = float(steady_levels)
        self._pasted = None  # the previous frame's pasted region and values (see paste_changes)
        self.stats = FaceStageStats()

    def stages(self) -> list[Stage]:
        return [
            Stage("find", self.find),
            Stage("model", self.restore, batch=self.frames_per_batch),
            Stage("paste", self.paste),
        ]

    def find(self, frame: Frame) -> Frame:
        from facedeblur.face.align import similarity_matrix

        start = time.perf_counter()
        faces = self.follower.update(frame.rgb)
        self.stats.add("track", start)
        start = time.perf_counter()
        matrices = [similarity_matrix(np.asarray(f.landmarks5, np.float32), self.template) for f in faces]
        if self.hold > 0:
            for i, face in enumerate(faces):
                held = self._held.get(face.track_id)
                if held is not None and matrix_shift(held, matrices[i], self.size) < self.hold:
                    matrices[i] = held
                self._held[face.track_id] = matrices[i]
            for track_id in [t for t in self._held if t not in {f.track_id for f in faces}]:
                del self._held[track_id]
        frame.data["faces"] = faces
        frame.data["matrices"] = matrices
        self.stats.faces_per_frame.append(len(faces))
        if self.fidelity > 0:
            frame.data["crops"] = [align_crop(frame.rgb, m, self.size) for m in matrices]
        self.stats.add("align", start)
        if self.fidelity > 0:
            start = time.perf_counter()
            frame.data["motion"], frame.data["run"] = [], []
            for face, crop in zip(faces, frame.data["crops"], strict=True):
                luma = gray(crop)
                motion = self.motion(face.track_id, crop, luma)
                since = self._since_model.get(face.track_id)
                run = since is None or since + 1 >= self.model_interval or motion.flow is None
                if not run:
                    run = drift(self._seen[face.track_id], luma, motion=motion) > MAX_DRIFT / 255.0
                if run:
                    self._seen[face.track_id] = luma
                self._since_model[face.track_id] = 0 if run else since + 1
                frame.data["motion"].append(motion)
                frame.data["run"].append(run)
            live = {f.track_id for f in faces}
            self.motion.keep(live)
            for store in (self._since_model, self._seen):
                for track_id in [t for t in store if t not in live]:
                    del store[track_id]
            self.stats.add("smooth", start)
        return frame

    def restore(self, frames: list[Frame]) -> list[Frame]:
        crops = [
            crop
            for frame in frames
            for crop, run in zip(frame.data.get("crops", []), frame.data.get("run", []), strict=True)
            if run
        ]
        restored = None
        if crops:
            start = time.perf_counter()
            batch = np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32)
            restored = np.asarray(self.model(batch)).transpose(0, 2, 3, 1)
            self.stats.add("model", start)
            self.stats.batches += 1
            self.stats.model_faces += len(crops)
        start = time.perf_counter()
        i = 0
        live: set[int] = set()
        for frame in frames:
            if "crops" not in frame.data:
                continue
            changes = []
            for face, crop, motion, run in zip(
                frame.data["faces"], frame.data["crops"], frame.data["motion"], frame.data["run"], strict=True
            ):
                change = None
                if run:
                    change = restored[i] - crop
                    i += 1
                else:
                    self.stats.carried_faces += 1
                changes.append(self.smoother(face.track_id, motion, change, crop))
                live.add(face.track_id)
            frame.data["changes"] = changes
        if any("crops" in frame.data for frame in frames):
            self.smoother.keep(live)
        self.stats.add("smooth", start)
        return frames

    def paste(self, frame: Frame) -> Frame:
        from facedeblur.face.paste import paste_changes, pasted_region

        changes = frame.data.pop("changes", None)
        if changes:
            start = time.perf_counter()
            matrices = frame.data["matrices"]
            tracks = tuple(f.track_id for f in frame.data["faces"])
            # the same faces as in the previous frame: its pasted values are the candidates to keep
            same = self._pasted is not None and self._pasted[0] == tracks
            previous = self._pasted[1] if same and self.steady_levels > 0 else None
            # the decoder's array belongs to this frame alone: pasted in place
            frame.rgb = paste_changes(
                frame.rgb, changes, matrices, weight=self.fidelity, previous=previous, tolerance=self.steady_levels
            )
            if self.steady_levels > 0:
                self._pasted = (tracks, pasted_region(frame.rgb, matrices, self.size))
            self.stats.add("paste", start)
        else:
            self._pasted = None
        for key in ("crops", "motion", "run"):
            frame.data.pop(key, None)
        return frame
