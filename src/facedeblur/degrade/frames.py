"""Real motion blur by frame averaging (Chrysos & Zafeiriou protocol).

Averaging N consecutive frames of a >= 25 fps video integrates real motion the way a longer exposure
would; the middle frame is the sharp ground truth. Averaging can happen in linear light (sRGB
decoded, averaged, re-encoded), which is what a sensor does. A window is rejected when

- optical flow shows too little motion (the average would be as sharp as the middle frame), or
- PSNR(average, middle) falls outside a range (above: no visible blur; below: too much motion,
  occlusions or a cut).

Motion is measured with OpenCV's DIS (default) or Farneback optical flow between consecutive frames
on a downscaled grayscale copy; a pair's motion is a high percentile of the per-pixel flow magnitude
(talking-head videos move in a small part of the frame, so the mean would drown the face's motion
in static background), expressed in full-resolution pixels per frame.

Example:
    >>> import numpy as np
    >>> frames = [np.full((8, 8, 3), i / 10, np.float32) for i in range(5)]
    >>> blurred, sharp = average_frames(frames)
    >>> round(float(blurred.mean()), 4), round(float(sharp.mean()), 4)
    (0.2, 0.2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from facedeblur.images import to_uint8


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1)."""
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB encoding (inverse of :func:`srgb_to_linear`)."""
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def _as_float(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB frames, got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) / 255.0
    if np.issubdtype(frame.dtype, np.floating):
        return frame.astype(np.float32, copy=False)
    raise ValueError(f"expected uint8 or float frames, got {frame.dtype}")


def average_frames(frames: Sequence[np.ndarray], linear: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Average an odd number of frames; the middle frame is the ground truth.

    Args:
        frames: N >= 1 (odd) frames, (H, W, 3) uint8 or float in [0, 1], all the same size.
        linear: average in linear light instead of on the sRGB-encoded values.

    Returns:
        ``(blurred, sharp)``, both (H, W, 3) float32 in [0, 1].
    """
    if len(frames) == 0 or len(frames) % 2 == 0:
        raise ValueError(f"expected an odd number of frames, got {len(frames)}")
    stack = np.stack([_as_float(f) for f in frames])
    sharp = stack[len(frames) // 2].copy()
    blurred = linear_to_srgb(srgb_to_linear(stack).mean(axis=0)) if linear else stack.mean(axis=0)
    return blurred.astype(np.float32), sharp


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two float images in [0, 1] (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _gray_small(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    u8 = frame if frame.dtype == np.uint8 else to_uint8(frame)
    gray = cv2.cvtColor(np.ascontiguousarray(u8), cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return gray, scale


def pair_motion(
    frames: Sequence[np.ndarray],
    method: Literal["dis", "farneback"] = "dis",
    percentile: float = 90.0,
    max_side: int = 256,
) -> np.ndarray:
    """Motion between each pair of consecutive frames, in full-resolution pixels per frame.

    Returns:
        (N - 1,) float array: the ``percentile`` of the optical-flow magnitude of each pair.
    """
    import cv2

    if method not in ("dis", "farneback"):
        raise ValueError(f"unknown optical-flow method {method!r}; expected 'dis' or 'farneback'")
    if method == "dis":
        flow_fn = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc
    else:

        def flow_fn(a, b, _):
            return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    out = np.zeros(max(0, len(frames) - 1))
    prev, scale = _gray_small(frames[0], max_side) if len(frames) else (None, 1.0)
    for i in range(1, len(frames)):
        cur, _ = _gray_small(frames[i], max_side)
        flow = flow_fn(prev, cur, None)
        out[i - 1] = np.percentile(np.hypot(flow[..., 0], flow[..., 1]), percentile) / scale
        prev = cur
    return out


@dataclass
class WindowCriteria:
    """Which frame windows become training pairs.

    Attributes:
        frames: window lengths (odd); each window draws one at random (seeded), e.g. (7, 9, 11).
        stride: frames between consecutive window starts.
        linear: average in linear light.
        min_motion: reject windows whose mean per-frame motion (pixels) is below this.
        psnr_range: accept only windows with PSNR(average, middle) in [min, max] dB.
        flow: optical-flow method, "dis" or "farneback".
        percentile: percentile of the per-pixel flow magnitude that measures a pair's motion.
        seed: seed of the window-length draws.
    """

    frames: tuple[int, ...] = (7, 9, 11)
    stride: int = 5
    linear: bool = True
    min_motion: float = 1.0
    psnr_range: tuple[float, float] = (22.0, 35.0)
    flow: Literal["dis", "farneback"] = "dis"
    percentile: float = 90.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.frames or any(n < 3 or n % 2 == 0 for n in self.frames):
            raise ValueError(f"frames: window lengths must be odd and >= 3, got {self.frames}")
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.psnr_range[0] > self.psnr_range[1]:
            raise ValueError(f"psnr_range {self.psnr_range} has min > max")
        if self.min_motion < 0:
            raise ValueError(f"min_motion must be >= 0, got {self.min_motion}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")


@dataclass
class Window:
    """One candidate window: ``frames`` frames from ``start``; ``reason`` is empty when accepted."""

    start: int
    frames: int
    motion: float
    psnr: float
    reason: str
    blurred: np.ndarray | None = None
    sharp: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None

    @property
    def accepted(self) -> bool:
        return not self.reason

    def info(self) -> dict:
        return {
            "start": self.start,
            "middle": self.start + self.frames // 2,
            "frames": self.frames,
            "motion": round(float(self.motion), 4),
            "psnr": round(float(self.psnr), 4),
            "accepted": self.accepted,
            "reason": self.reason,
            "box": None if self.box is None else [int(v) for v in self.box],
        }


def frame_windows(
    frames: Sequence[np.ndarray],
    criteria: WindowCriteria = WindowCriteria(),
    crop: Callable[[np.ndarray], tuple[int, int, int, int] | None] | None = None,
) -> Iterator[Window]:
    """Slide windows over a frame sequence and judge each one (accepted windows carry the images).

    Args:
        frames: the video's frames, (H, W, 3) uint8 or float in [0, 1].
        criteria: window lengths, stride and rejection thresholds.
        crop: optional function of the middle frame returning an (x0, y0, x1, y1) box inside the frame
            (e.g. around the face) or None (window rejected as "no face"); every frame of the window is
            cropped to it before averaging and the PSNR test.

    Yields:
        :class:`Window` for every start position that fits a window; ``blurred``/``sharp`` are set
        only for accepted ones.

    Example:
        >>> import numpy as np
        >>> still = [np.full((32, 32, 3), 100, np.uint8)] * 9
        >>> [w.reason for w in frame_windows(still, WindowCriteria(frames=(7,), stride=2))]
        ['no motion', 'no motion']
    """
    if len(frames) == 0:
        return
    motion = pair_motion(frames, criteria.flow, criteria.percentile)
    for start in range(0, len(frames) - min(criteria.frames) + 1, criteria.stride):
        rng = np.random.default_rng([criteria.seed, start])
        choices = [n for n in criteria.frames if start + n <= len(frames)] or [min(criteria.frames)]
        n = int(choices[int(rng.integers(len(choices)))]) if len(choices) > 1 else int(choices[0])
        if start + n > len(frames):
            break
        m = float(motion[start : start + n - 1].mean())
        if m < criteria.min_motion:
            yield Window(start, n, m, float("nan"), "no motion")
            continue
        window = frames[start : start + n]
        box = None
        if crop is not None:
            box = crop(np.asarray(window[n // 2]))
            if box is None:
                yield Window(start, n, m, float("nan"), "no face")
                continue
            x0, y0, x1, y1 = (int(v) for v in box)
            window = [np.asarray(f)[y0:y1, x0:x1] for f in window]
        blurred, sharp = average_frames(window, criteria.linear)
        p = psnr(blurred, sharp)
        lo, hi = criteria.psnr_range
        reason = "" if lo <= p <= hi else ("too much motion" if p < lo else "too little blur")
        if reason:
            yield Window(start, n, m, p, reason, box=box)
        else:
            yield Window(start, n, m, p, reason, blurred, sharp, box)
