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
- blends, where the previous frame is trusted, with the previous frame moved along the flow:
  ``smoothed = x + weight * trust * (moved_previous - x)`` (``weight`` 0: off), ``x`` being only the
  model's change (``of="change"``, the default) or the restored face (``of="face"``: the input's own
  noise in the face is averaged too).

Averaging only the change leaves the face as steady as the input at best, and a sharper face shows
the input's noise more: on the dev clips the restoration flickers 1-5 % more than the input with the
default smoothing, 2-16 % more without it (a plain unsharp mask adding as much detail: 4-7 %), and
the smoothing raises face-box PSNR on the frames protocol (31.88 -> 32.12 dB on average). Averaging
the restored face brings the flicker below the input's on average, but it averages the blurred input
too, which costs 0.1-1.0 dB of face-box PSNR there (README, "Video (CPU)").

Example:
    >>> import numpy as np
    >>> crop = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    >>> motion, smoother = FaceMotion(), ChangeSmoother(weight=0.5)
    >>> m0 = motion(7, crop)
    >>> first = smoother(7, m0, np.full_like(crop, 0.1))
    >>> m1 = motion(7, crop)                       # the same crop again: still, fully trusted
    >>> round(float(m1.trust.mean()), 2), round(float(smoother(7, m1, np.full_like(crop, 0.3)).mean()), 3)
    (1.0, 0.2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Photometric error (grey, [0, 1] levels) at which the moved previous crop is trusted half: for
# smoothing the model's change, and (more leniently) for carrying it to a frame the model skipped.
TRUST_SCALE = 0.04
CARRY_SCALE = 0.12
# Chosen on the dev clips (benchmarks/quality/video_quality.py): smoothing the change at 0.9 removes about two
# thirds of the flicker the restoration adds and raises face-box PSNR on the frames protocol; smoothing
# the face (of="face") lowers the flicker below the input's but costs 0.1-1.0 dB there.
DEFAULT_WEIGHT = 0.9
DEFAULT_SMOOTHED = "change"


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
        return x if x.dtype == np.uint8 else (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)

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
    """

    flow: np.ndarray | None = None
    error: np.ndarray | None = None
    trust_scale: float = TRUST_SCALE

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

    def __call__(self, track_id: int | None, crop: np.ndarray) -> Motion:
        luma = gray(crop)
        previous = self._previous.get(track_id) if track_id is not None else None
        if track_id is not None:
            self._previous[track_id] = luma
        if previous is None or previous.shape != luma.shape:
            return Motion()
        flow = dense_flow(previous, luma)
        return Motion(flow, np.abs(warp(previous, flow) - luma), self.trust_scale)

    def keep(self, track_ids: set[int]) -> None:
        """Forget tracks that ended (constant memory on long videos)."""
        for track_id in [t for t in self._previous if t not in track_ids]:
            del self._previous[track_id]


SMOOTHED = ("change", "face")


class ChangeSmoother:
    """Per track, the model's change smoothed and carried along the face's motion (module docstring).

    Args:
        weight: how much of the moved previous frame is kept where it is trusted (0: off, < 1).
        of: what is averaged over time: ``"change"`` (the model's change only: the input's own
            frame-to-frame variation passes as it is) or ``"face"`` (the restored face: the input's
            noise in the face is averaged too, so the face can come out steadier than the input).
    """

    def __init__(self, weight: float = DEFAULT_WEIGHT, of: str = DEFAULT_SMOOTHED) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"weight must be in [0, 1), got {weight}")
        if of not in SMOOTHED:
            raise ValueError(f"of must be one of {SMOOTHED}, got {of!r}")
        self.weight, self.of = float(weight), of
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
        if change is None:
            if previous is None:
                raise ValueError(f"track {track_id}: no change to carry (the model must run on its first frame)")
            change = warp(previous, motion.flow) * motion.carry[..., None] if moving else previous
        if moving and self.weight > 0:
            trust = (self.weight * motion.trust)[..., None]
            if self.of == "face" and crop is not None and track_id in self._faces:
                face = crop + change
                face = face + trust * (warp(self._faces[track_id], motion.flow) - face)
                out = face - crop
            else:
                out = change + trust * (warp(previous, motion.flow) - change)
        else:
            out = change
        out = np.asarray(out, np.float32)
        if track_id is not None:
            self._changes[track_id] = out
            if crop is not None and self.of == "face":
                self._faces[track_id] = np.asarray(crop + out, np.float32)
        return out

    def keep(self, track_ids: set[int]) -> None:
        """Forget tracks that ended."""
        for store in (self._changes, self._faces):
            for track_id in [t for t in store if t not in track_ids]:
                del store[track_id]
