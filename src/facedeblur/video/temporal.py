"""The model's change to each face, carried and smoothed over time along the face's motion.

A restoration network sees every frame on its own, so what it adds to a face (its change, or
residual: output - input, in aligned-face coordinates) wobbles a little from frame to frame even
where the face did not change: the pasted faces shimmer. And running it on every frame is what a
video restoration mostly spends its time on, although consecutive crops of a face differ little.
Per face track, :class:`FaceMotion` measures how the aligned crop moved since the previous frame
(optical flow, OpenCV's DIS, on the grey crops) and how well the previous crop, moved along it,
matches this one (``trust``: 1 where it matches, towards 0 where the face changed or was occluded);
:class:`ChangeSmoother` then

- in a frame where the model did not run (see ``model_interval`` of
  :class:`facedeblur.video.faces.FaceStages`), takes the previous change moved along the flow,
  faded where the crops disagree (a new expression gets no stale correction), as this frame's change;
- blends, where the previous frame is trusted and the two changes differ by no more than a wobble, the
  model's change with the previous frame's moved along the flow:
  ``change = change + weight * trust * agree * (moved_previous - change)`` (``weight`` 0: off), where
  ``agree`` halves at :data:`CHANGE_SCALE` of difference between the two changes: a level or two of
  frame-to-frame wobble is flicker and is averaged away, a larger difference is the model answering a
  face that changed (its blur, its motion) and is kept;
- with ``of="face"``, also averages the restored face itself with the previous one moved along the
  flow, but only where the two differ by about the track's own noise (``still``: the trust halves at
  :data:`NOISE_TRUST` times the median error of recent frames), so the input's noise is averaged
  away while a blink, a word or an edge the flow misplaced is not smeared; the change carried to a
  frame the model skips stays the model's (no frame gets another frame's noise);
- with ``of="auto"`` (the default), averages the face as ``"face"`` does in proportion to how noisy
  the track is (:func:`face_share`: not at all below :data:`NOISE_LOW`, fully from
  :data:`NOISE_HIGH`).

Averaging only the change leaves the face as steady as the input at best, and a sharper face shows
the input's noise more: on a noisy clip (d12) the restoration flickered 1.5 % more than the input
however much the change was smoothed. Averaging the whole face brings the noisy clips below the
input, but on a clean one (d19) it only smears detail (more flicker and -0.8 dB of face-box PSNR on
the frames protocol); scaled by the track's noise it does the first and not the second (docs/benchmarks.md,
"Video (CPU)"). The rest of what a restoration adds to flicker is in the alignment and the rounding
to 8 bits, handled by :class:`facedeblur.video.faces.FaceStages` (``hold``, ``steady_levels``).

Example:
    >>> import numpy as np
    >>> crop = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    >>> motion, smoother = FaceMotion(), ChangeSmoother(weight=0.5)
    >>> m0 = motion(7, crop)
    >>> first = smoother(7, m0, np.full_like(crop, 0.1))
    >>> m1 = motion(7, crop)                       # the same crop again: still, fully trusted
    >>> round(float(m1.trust.mean()), 2), round(float(smoother(7, m1, np.full_like(crop, 0.102)).mean()), 3)
    (1.0, 0.101)
    >>> round(float(smoother(7, motion(7, crop), np.full_like(crop, 0.3)).mean()), 2)  # a new change: kept
    0.3
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedeblur.images import to_uint8

# Photometric error (grey, [0, 1] levels) at which the moved previous crop is trusted half: for
# smoothing the model's change, and (more leniently) for carrying it to a frame the model skipped.
TRUST_SCALE = 0.04
CARRY_SCALE = 0.12
# Averaging the restored face (of="face") trusts the moved previous crop only where the two differ by
# about the track's own noise (the median error of recent frames): this many times it halves the trust,
# so noise is averaged away while an edge the flow misplaced, a blink or a word is not smeared.
NOISE_TRUST = 3.0
NOISE_MEMORY = 0.3  # weight of the newest frame in the running noise estimate
MIN_NOISE = 0.5 / 255
# Chosen on the dev clips (benchmarks/quality/video_quality.py): smoothing the change at 0.9 removes
# about two thirds of the flicker the restoration adds and raises face-box PSNR on the frames protocol
# (0.97 lowers flicker a little more but costs 0.2 dB on a moving clip, d3); averaging the face too
# (of="face") lowers the flicker below the input's on the noisy clips but costs up to 0.8 dB on a
# clean one, so by default (of="auto") it is scaled by the track's noise.
DEFAULT_WEIGHT = 0.9
DEFAULT_SMOOTHED = "auto"
# Difference (grey, [0, 1]) between the model's change and the moved previous change at which smoothing
# halves. Without it, smoothing at 0.9 cost 0.63 dB of face-box PSNR on the frames protocol against the
# model unsmoothed (mean of the dev clips, 32.97 vs 33.60 dB; d3 -2.8 dB: on a moving, blurred face the
# flow is a few tenths of a pixel off and averaging the sharpening residual with a shifted copy of itself
# cancels it). 2 levels: +0.04 dB against the unsmoothed model, frames-protocol flicker -9 %, but the clean
# clip d19 flickers 0.6 % above its input; 4 levels: -0.01 dB, flicker -11 %, every real clip at or
# below its input (6 levels: -0.07 dB; benchmarks/quality/video_quality.py).
CHANGE_SCALE = 4.0 / 255


def dense_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Optical flow for :func:`warp`: where each pixel of ``target`` was in ``source``.

    Args:
        source: (H, W) grey float32 in [0, 1] (or uint8).
        target: (H, W) grey, same size.

    Returns:
        (H, W, 2) float32 displacements (dx, dy) such that ``target(p) ~ source(p + flow(p))``.

    Example:
        >>> import numpy as np
        >>> a = np.zeros((32, 32), np.float32)
        >>> dense_flow(a, a).shape
        (32, 32, 2)
    """
    import cv2

    def gray8(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return x if x.dtype == np.uint8 else to_uint8(x)

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    return dis.calc(np.ascontiguousarray(gray8(target)), np.ascontiguousarray(gray8(source)), None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``p + flow(p)`` (bilinear, edges replicated): ``image`` moved onto the flow's target.

    Shape:
        image (H, W) or (H, W, C) float32, flow (H, W, 2) -> like ``image``.
    """
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(
        np.ascontiguousarray(image, dtype=np.float32),
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def gray(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601) of float RGB, (H, W, 3) -> (H, W) float32."""
    rgb = np.asarray(rgb, np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


@dataclass
class Motion:
    """How a face's aligned crop moved since the previous frame of its track.

    Attributes:
        flow: (S, S, 2) flow from this crop to the previous one (None: first frame of the track).
        error: (S, S) grey difference between this crop and the moved previous one (None: first frame).
        trust_scale: error at which the trust halves.
        noise: the track's running noise level (median error of its recent frames, [0, 1] grey).
        previous: the previous frame's (S, S) grey crop the flow and error were measured from (None:
            first frame); ``error`` is ``|warp(previous, flow) - grey crop|``.
    """

    flow: np.ndarray | None = None
    error: np.ndarray | None = None
    trust_scale: float = TRUST_SCALE
    noise: float = 0.0
    previous: np.ndarray | None = None

    @property
    def still(self) -> np.ndarray | None:
        """(S, S) in [0, 1]: where the moved previous crop differs from this one by no more than noise."""
        if self.error is None:
            return None
        return 1.0 / (1.0 + (self.error / (NOISE_TRUST * max(self.noise, MIN_NOISE))) ** 2)

    @property
    def trust(self) -> np.ndarray | None:
        """(S, S) in [0, 1]: how well the moved previous crop matches this one (for smoothing)."""
        return None if self.error is None else 1.0 / (1.0 + (self.error / self.trust_scale) ** 2)

    @property
    def carry(self) -> np.ndarray | None:
        """(S, S) in [0, 1]: how much of the previous change to carry where the model did not run."""
        return None if self.error is None else 1.0 / (1.0 + (self.error / CARRY_SCALE) ** 2)

    @property
    def match(self) -> float:
        """Mean trust (0 for a track's first frame): how much of the face is the same as before."""
        return 0.0 if self.trust is None else float(self.trust.mean())


class FaceMotion:
    """Per track, the motion of the aligned crop from the previous frame (:class:`Motion`).

    Args:
        trust_scale: photometric error at which the trust halves.
    """

    def __init__(self, trust_scale: float = TRUST_SCALE) -> None:
        if trust_scale <= 0:
            raise ValueError(f"trust_scale must be > 0, got {trust_scale}")
        self.trust_scale = float(trust_scale)
        self._previous: dict[int, np.ndarray] = {}
        self._noise: dict[int, float] = {}

    def __call__(self, track_id: int | None, crop: np.ndarray, luma: np.ndarray | None = None) -> Motion:
        """The crop's motion since the track's previous frame (and this crop remembered for the next).

        Args:
            track_id: the face's track (None: no previous frame, nothing remembered).
            crop: (S, S, 3) float32 aligned face.
            luma: ``gray(crop)`` when the caller has it already (kept as the track's previous crop: do
                not modify it afterwards).
        """
        luma = gray(crop) if luma is None else luma
        previous = self._previous.get(track_id) if track_id is not None else None
        if track_id is not None:
            self._previous[track_id] = luma
        if previous is None or previous.shape != luma.shape:
            return Motion()
        flow = dense_flow(previous, luma)
        error = np.abs(warp(previous, flow) - luma)
        level = float(np.median(error))
        noise = self._noise.get(track_id)
        noise = level if noise is None else noise + NOISE_MEMORY * (level - noise)
        if track_id is not None:
            self._noise[track_id] = noise
        return Motion(flow, error, self.trust_scale, noise, previous)

    def keep(self, track_ids: set[int]) -> None:
        """Forget tracks that ended (constant memory on long videos)."""
        for store in (self._previous, self._noise):
            for track_id in [t for t in store if t not in track_ids]:
                del store[track_id]


SMOOTHED = ("change", "face", "auto")
# of="auto" averages the restored face (as of="face") in proportion to how noisy its track is: not at
# all below NOISE_LOW (a clean face has no noise to average away, only detail to smear), fully from
# NOISE_HIGH (the track's running noise, see Motion.noise; dev clips: d19 0.2, d0 0.4, d3 0.9, d12 1.2
# levels). 0.5-1.0 brought d12 7 % below the input but cost d3 0.23 dB on the frames protocol;
# 0.8-2.0 brings d12 1.6 % below for 0.003 dB.
NOISE_LOW = 0.8 / 255
NOISE_HIGH = 2.0 / 255


def face_share(noise: float, of: str) -> float:
    """How much of the face averaging applies to a track with this noise level (see :data:`NOISE_LOW`).

    Example:
        >>> face_share(0.2 / 255, "auto"), face_share(2.0 / 255, "auto"), face_share(0.0, "face")
        (0.0, 1.0, 1.0)
    """
    if of == "face":
        return 1.0
    if of == "change":
        return 0.0
    return float(np.clip((noise - NOISE_LOW) / (NOISE_HIGH - NOISE_LOW), 0.0, 1.0))


def agreement(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """How alike two changes are per pixel: 1 where equal, 1/2 where their grey difference is ``scale``.

    Shape:
        a, b (H, W, 3) float32 -> (H, W) float32 in (0, 1].

    Example:
        >>> import numpy as np
        >>> a = np.zeros((2, 2, 3), np.float32)
        >>> agreement(a, a + 0.01, 0.01).round(2).tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    difference = np.abs(gray(np.asarray(a, np.float32) - b))
    return (1.0 / (1.0 + (difference / scale) ** 2)).astype(np.float32)


class ChangeSmoother:
    """Per track, the model's change smoothed and carried along the face's motion (module docstring).

    Args:
        weight: how much of the moved previous frame is kept where it is trusted (0: off, < 1).
        of: what is averaged over time: ``"change"`` (the model's change only: the input's own
            frame-to-frame variation passes as it is), ``"face"`` (the change, then the restored
            face where it is still: the input's noise in the face is averaged too, so the face can
            come out steadier than the input) or ``"auto"`` (the change, and the face as much as the
            track is noisy, see :func:`face_share`).
        change_scale: difference between the model's change and the moved previous change at which the
            smoothing halves (grey, [0, 1]; None: no such limit, every trusted difference is smoothed).
    """

    def __init__(
        self, weight: float = DEFAULT_WEIGHT, of: str = DEFAULT_SMOOTHED, change_scale: float | None = CHANGE_SCALE
    ) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"weight must be in [0, 1), got {weight}")
        if of not in SMOOTHED:
            raise ValueError(f"of must be one of {SMOOTHED}, got {of!r}")
        if change_scale is not None and change_scale <= 0:
            raise ValueError(f"change_scale must be > 0 or None, got {change_scale}")
        self.weight, self.of, self.change_scale = float(weight), of, change_scale
        self._changes: dict[int, np.ndarray] = {}
        self._faces: dict[int, np.ndarray] = {}

    def has(self, track_id: int | None) -> bool:
        """Whether a previous change of this track can be carried to the next frame."""
        return track_id is not None and track_id in self._changes

    def __call__(
        self, track_id: int | None, motion: Motion, change: np.ndarray | None, crop: np.ndarray | None = None
    ) -> np.ndarray:
        """This frame's change of one face (updates the track's state).

        Args:
            track_id: the face's track (None: not smoothed).
            motion: the crop's motion since the previous frame.
            change: (S, S, 3) float32 model output - crop; None when the model did not run on this
                face (the previous change is carried along the motion; needs :meth:`has`).
            crop: (S, S, 3) float32 aligned input (needed with ``of="face"``).

        Returns:
            (S, S, 3) float32 change to paste.
        """
        previous = self._changes.get(track_id) if track_id is not None else None
        moving = previous is not None and motion.flow is not None
        # the previous change along the motion, warped once for carrying and for smoothing
        moved = warp(previous, motion.flow) if moving and (change is None or self.weight > 0) else None
        if change is None:
            if previous is None:
                raise ValueError(f"track {track_id}: no change to carry (the model must run on its first frame)")
            change = moved * motion.carry[..., None] if moving else previous
        if moving and self.weight > 0:
            trust = self.weight * motion.trust
            if self.change_scale is not None:
                trust = trust * agreement(moved, change, self.change_scale)
            change = change + trust[..., None] * (moved - change)
        change = np.asarray(change, np.float32)
        out = change
        share = face_share(motion.noise, self.of)
        if self.of != "change" and crop is not None:
            # the restored face averaged too, where it is still (differs from the moved previous one
            # by no more than the track's noise): the input's own noise is averaged away. The change
            # carried to the next frame stays the model's, so no frame gets another's noise.
            face = crop + change
            if moving and self.weight > 0 and share > 0 and track_id in self._faces:
                still = (self.weight * share * motion.still)[..., None]
                face = face + still * (warp(self._faces[track_id], motion.flow) - face)
                out = np.asarray(face - crop, np.float32)
            if track_id is not None:
                self._faces[track_id] = np.asarray(face, np.float32)
        if track_id is not None:
            self._changes[track_id] = change
        return out

    def keep(self, track_ids: set[int]) -> None:
        """Forget tracks that ended."""
        for store in (self._changes, self._faces):
            for track_id in [t for t in store if t not in track_ids]:
                del store[track_id]
