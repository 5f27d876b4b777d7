"""Talking motion for synthetic frame averages: the jaw and lips (and optionally the eyelids) move on their own.

The smooth motion field of :mod:`facedeblur.degrade.warps` moves the whole face along monotonic, curving
trajectories. In talking-head video the head often barely moves while the mouth opens and closes within the
averaged window, and the eyes blink: the average then ghosts two mouth shapes (the frames protocol's worst
pairs). This module adds that motion: localized, non-rigid displacement patterns on an aligned face, each
driven by a non-monotonic time profile that is zero at the middle instant ``t = 0`` (the sharp face, the
ground truth, stays unmoved).

- **Mouth / jaw**: the lower lip and the chin move vertically together (a smooth step at the lip line, a
  Gaussian envelope across the jaw, fading below the chin), the upper lip a little the other way, and the
  lips spread or purse slightly. Profile ``sin(2 pi f t + phase) - sin(phase)`` with ``f`` cycles per window,
  so the mouth can open and close within it.
- **Blink** (optional): a vertical bump over each upper eyelid, profile a short Gaussian pulse in time
  (centred away from ``t = 0``) minus its value at ``t = 0``.

Each profile is scaled so that its largest ``|value|`` over ``t`` in ``[-1/2, 1/2]`` is 1, and each pattern's
largest displacement is 1 pixel, so ``amplitude`` (and ``blink_amplitude``) is the largest displacement of the
lower lip (eyelid) from its place in the sharp face, in pixels of the image.

Positions are those of UTKFace aligned training faces: dlib 68-point landmarks fitted to 50 random training
faces (``../shared/data/utkface/train``, seed 0, HOG detector on the 200 px file, rescaled to 128 px) give,
mean (std) in pixels at 128 px: mouth centre (points 48-67) x 62.6 (0.6), y 90.9 (1.6); mouth width
(48->54) 47.5 (7.2); upper lip top (51) y 84.5 (1.6); lower lip bottom (57) y 101.2 (4.6); chin (8) y 126.4
(4.6); eye centres (36-41, 42-47) (37.5, 38.9) and (88.2, 38.3), spread 1.5-2.1; eye width (36->39) 20.1
(1.7); eye opening (upper to lower lid) 5.7 (1.5). The template's 68-point means over 4,806 faces
(``facedeblur/face/template.json``) agree to within a pixel. Positions scale with the image side, jittered
by a little more than that spread (user crops are aligned less tightly).

The parameters are a small dict of floats (JSON-storable as they are); :func:`talking_displacements` turns
them into per-frame displacement maps, used by both :func:`facedeblur.degrade.warps.average_warped_numpy`
and :func:`facedeblur.degrade.warps.average_warped_torch`.

Example:
    >>> import numpy as np
    >>> talking = sample_talking(np.random.default_rng(0), 128, 128, amplitude=(4.0, 4.0))
    >>> d = talking_displacements(talking, 128, 128, frames=9)
    >>> d.shape, float(np.abs(d[4]).max())  # (frames, dx/dy, H, W); the middle frame does not move
    ((9, 2, 128, 128), 0.0)
    >>> mouth, forehead = np.abs(d[:, 1, 95, 63]).max(), np.abs(d[:, :, 10]).max()
    >>> bool(mouth > 1.0), bool(forehead < 0.05)
    (True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

REFERENCE = 128.0  # the positions below are for a 128 px aligned face and scale with the image side
MOUTH = (62.6, 90.9)  # mean mouth centre (dlib points 48-67) on UTKFace aligned training faces
EYES = ((37.5, 38.9), (88.2, 38.3))  # mean eye centres (points 36-41 and 42-47)
UPPER_LIP_ABOVE = 6.0  # upper lip body above the lip line (point 51 at y 84.5)
CHIN_BELOW = 35.0  # chin (point 8, y 126.4) below the lip line
LID_ABOVE = 2.0  # upper eyelid above the eye centre (eye opening 5.7 px)
PROFILE_SAMPLES = 201  # instants on which each profile is normalised (independent of the frame count)

KEYS = ("amplitude", "cycles", "phase", "cx", "cy", "jaw_sigma", "lip_softness", "upper_share", "spread")
BLINK_KEYS = ("blink_amplitude", "blink_centre", "blink_width", "lid_sigma_x", "lid_sigma_y", "eye_dy")


def _check_range(name: str, value: tuple[float, float], lo: float) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    if not (math.isfinite(a) and math.isfinite(b)) or a > b or a < lo:
        raise ValueError(f"{name} must be a range (min, max) with {lo} <= min <= max, got {value}")
    return a, b


def sample_talking(
    rng: np.random.Generator,
    height: int,
    width: int,
    amplitude: tuple[float, float] = (1.0, 8.0),
    cycles: tuple[float, float] = (0.25, 2.0),
    blink_probability: float = 0.0,
    blink_amplitude: tuple[float, float] = (1.0, 4.0),
) -> dict[str, float]:
    """Draw one talking motion for an aligned face of ``height`` x ``width``.

    Args:
        rng: draws the motion (a fixed number of draws, whatever the outcome).
        height: image height, pixels.
        width: image width, pixels.
        amplitude: range of the largest lower-lip / chin displacement from the sharp face, pixels.
        cycles: range of the mouth's open-close frequency, cycles per averaged window.
        blink_probability: probability that the eyes blink too.
        blink_amplitude: range of the largest upper-eyelid displacement, pixels.

    Returns:
        Dict of floats: the mouth's ``amplitude``, ``cycles``, ``phase``, centre ``cx``/``cy`` (pixels),
        ``jaw_sigma`` (horizontal extent), ``lip_softness`` (width of the lip-line step), ``upper_share``
        (upper lip's share, moving the other way), ``spread`` (horizontal lip spread share); with a blink
        also ``blink_amplitude``, ``blink_centre`` and ``blink_width`` (instant and duration of the pulse),
        ``lid_sigma_x``/``lid_sigma_y`` and ``eye_dy`` (vertical jitter of the eyes).

    Example:
        >>> import numpy as np
        >>> t = sample_talking(np.random.default_rng(1), 128, 128, blink_probability=1.0)
        >>> sorted(t)[:3], 1.0 <= t["amplitude"] <= 8.0
        (['amplitude', 'blink_amplitude', 'blink_centre'], True)
    """
    amplitude = _check_range("amplitude", amplitude, 0.0)
    cycles = _check_range("cycles", cycles, 0.0)
    blink_amplitude = _check_range("blink_amplitude", blink_amplitude, 0.0)
    if not 0.0 <= blink_probability <= 1.0:
        raise ValueError(f"blink_probability must be a probability in [0, 1], got {blink_probability}")
    if height < 2 or width < 2:
        raise ValueError(f"expected an image of at least 2 x 2 pixels, got {height} x {width}")
    sx, sy = width / REFERENCE, height / REFERENCE
    out = {
        "amplitude": float(rng.uniform(*amplitude)),
        "cycles": float(rng.uniform(*cycles)),
        "phase": float(rng.uniform(0.0, 2.0 * math.pi)),
        "cx": float((MOUTH[0] + rng.normal(0.0, 2.0)) * sx),
        "cy": float((MOUTH[1] + rng.normal(0.0, 2.5)) * sy),
        "jaw_sigma": float(rng.uniform(16.0, 28.0) * sx),
        "lip_softness": float(rng.uniform(1.5, 4.0) * sy),
        "upper_share": float(rng.uniform(0.0, 0.35)),
        "spread": float(rng.uniform(-0.3, 0.3)),
    }
    blink = rng.random() < blink_probability
    side = rng.choice([-1.0, 1.0])
    draws = {
        "blink_amplitude": float(rng.uniform(*blink_amplitude)),
        # the pulse peaks inside the window, away from t = 0 (the sharp face keeps its eyes as they are)
        "blink_width": float(rng.uniform(0.04, 0.15)),
        "blink_offset": float(rng.uniform(0.0, 1.0)),
        "lid_sigma_x": float(rng.uniform(7.0, 10.0) * sx),
        "lid_sigma_y": float(rng.uniform(2.5, 4.0) * sy),
        "eye_dy": float(rng.normal(0.0, 2.0) * sy),
    }
    if blink:
        width_t = draws.pop("blink_width")
        offset = draws.pop("blink_offset")
        centre = side * (2.0 * width_t + offset * (0.5 - 2.0 * width_t))
        out.update(draws, blink_width=width_t, blink_centre=float(centre))
    return out


def check_talking(talking: dict[str, Any]) -> dict[str, float]:
    """Validate a talking motion (from :func:`sample_talking` or a pair's JSON); returns it as floats.

    Example:
        >>> check_talking({"amplitude": 1, "cycles": 1, "phase": 0, "cx": 60, "cy": 90, "jaw_sigma": 20})
        Traceback (most recent call last):
        ...
        ValueError: talking motion: missing keys ['lip_softness', 'spread', 'upper_share']
    """
    if not isinstance(talking, dict):
        raise ValueError(f"expected a talking motion dict from sample_talking, got {type(talking).__name__}")
    blink = "blink_amplitude" in talking
    need = KEYS + (BLINK_KEYS if blink else ())
    missing = sorted(set(need) - set(talking))
    if missing:
        raise ValueError(f"talking motion: missing keys {missing}")
    out = {k: float(talking[k]) for k in need}
    bad = sorted(k for k, v in out.items() if not math.isfinite(v))
    if bad:
        raise ValueError(f"talking motion: expected finite numbers, got {bad} = {[talking[k] for k in bad]}")
    positive = ("jaw_sigma", "lip_softness") + (("blink_width", "lid_sigma_x", "lid_sigma_y") if blink else ())
    small = [k for k in positive if out[k] <= 0]
    if small:
        raise ValueError(f"talking motion: expected {small} > 0, got {[out[k] for k in small]}")
    return out


def _normalised(profile: np.ndarray, dense: np.ndarray) -> np.ndarray:
    peak = float(np.abs(dense).max())
    return profile / peak if peak > 1e-8 else np.zeros_like(profile)


def talking_profiles(talking: dict[str, Any], instants: np.ndarray) -> dict[str, np.ndarray]:
    """Time profiles at ``instants`` (in ``[-1/2, 1/2]``): ``mouth`` and, with a blink, ``eyes``.

    Each is zero at ``t = 0`` and scaled so its largest ``|value|`` over the whole window is 1.

    Example:
        >>> import numpy as np
        >>> t = sample_talking(np.random.default_rng(0), 64, 64)
        >>> p = talking_profiles(t, np.linspace(-0.5, 0.5, 5))["mouth"]
        >>> float(p[2]), bool(np.abs(p).max() <= 1.0)
        (0.0, True)
    """
    t = check_talking(talking)
    instants = np.asarray(instants, np.float64)
    dense = np.linspace(-0.5, 0.5, PROFILE_SAMPLES)

    def mouth(s: np.ndarray) -> np.ndarray:
        return np.sin(2 * math.pi * t["cycles"] * s + t["phase"]) - math.sin(t["phase"])

    out = {"mouth": _normalised(mouth(instants), mouth(dense))}
    if "blink_amplitude" in t:

        def eyes(s: np.ndarray) -> np.ndarray:
            pulse = np.exp(-0.5 * ((s - t["blink_centre"]) / t["blink_width"]) ** 2)
            return pulse - math.exp(-0.5 * (t["blink_centre"] / t["blink_width"]) ** 2)

        out["eyes"] = _normalised(eyes(instants), eyes(dense))
    return out


def talking_patterns(talking: dict[str, Any], height: int, width: int) -> dict[str, np.ndarray]:
    """Spatial displacement patterns, (2, H, W) float64 (dx, dy; largest displacement 1 px): ``mouth``, ``eyes``.

    Displacements are where each output pixel samples the moved face (the warps' convention): a positive
    ``dy`` under the lip line shows the lower lip and chin moved up.

    Example:
        >>> import numpy as np
        >>> p = talking_patterns(sample_talking(np.random.default_rng(0), 128, 128), 128, 128)["mouth"]
        >>> p.shape, round(float(np.abs(p).max()), 6)
        ((2, 128, 128), 1.0)
    """
    t = check_talking(talking)
    sx, sy = width / REFERENCE, height / REFERENCE
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    across = np.exp(-0.5 * ((x - t["cx"]) / t["jaw_sigma"]) ** 2)
    chin = t["cy"] + CHIN_BELOW * sy
    lower = 0.5 * (1 + np.tanh((y - t["cy"]) / t["lip_softness"]))
    lower = lower * np.exp(-0.5 * (np.maximum(y - chin, 0.0) / (8.0 * sy)) ** 2)
    upper = np.exp(-0.5 * ((y - (t["cy"] - UPPER_LIP_ABOVE * sy)) / (4.0 * sy)) ** 2)
    dy = across * (lower - t["upper_share"] * upper)
    lips = np.exp(-0.5 * ((y - t["cy"]) / (8.0 * sy)) ** 2)
    dx = t["spread"] * (x - t["cx"]) / t["jaw_sigma"] * across * lips
    mouth = np.stack([dx, dy])
    out = {"mouth": mouth / max(float(np.abs(mouth).max()), 1e-8)}
    if "blink_amplitude" in t:
        lids = np.zeros((height, width))
        for ex, ey in EYES:
            cy = (ey - LID_ABOVE) * sy + t["eye_dy"]
            lids += np.exp(-0.5 * (((x - ex * sx) / t["lid_sigma_x"]) ** 2 + ((y - cy) / t["lid_sigma_y"]) ** 2))
        # the lid moves down over the eye: output pixels sample the face above them
        out["eyes"] = np.stack([np.zeros_like(lids), -lids / max(float(lids.max()), 1e-8)])
    return out


def talking_displacements(talking: dict[str, Any] | None, height: int, width: int, frames: int) -> np.ndarray:
    """Per-frame talking displacement maps: (frames, 2, H, W) float32 (dx, dy in pixels; zero at ``t = 0``).

    ``None`` (no talking) gives zeros. The instants are the warps' (``frames`` evenly over ``[-1/2, 1/2]``).

    Example:
        >>> talking_displacements(None, 8, 8, 3).shape
        (3, 2, 8, 8)
    """
    instants = np.linspace(-0.5, 0.5, frames) if frames > 1 else np.zeros(1)
    out = np.zeros((len(instants), 2, height, width), np.float64)
    if talking is not None:
        t = check_talking(talking)
        profiles = talking_profiles(t, instants)
        patterns = talking_patterns(t, height, width)
        out += (t["amplitude"] * profiles["mouth"])[:, None, None, None] * patterns["mouth"]
        if "eyes" in profiles:
            out += (t["blink_amplitude"] * profiles["eyes"])[:, None, None, None] * patterns["eyes"]
    return out.astype(np.float32)
