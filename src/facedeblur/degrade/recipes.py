"""Degradation recipes: typed, validated configs that turn a sharp face into a degraded one.

Three recipes:

- :class:`DeblurRecipe` (``deblur``, Chrysos & Zafeiriou / DFPGnet / MSPL style): a fresh kernel per
  sample, an (an)isotropic Gaussian or a camera-shake trajectory at random, Gaussian noise up to
  4/255, optional mild JPEG.
- :class:`RestoreRecipe` (``restore``, PSFR-GAN / GFPGAN style): blur -> downsample -> noise -> JPEG ->
  upsample back, with GFPGAN's ranges, optional grayscale (applied to the target too).
- :class:`PhotoRecipe` (``photo``, the default restorer's): weighted toward what users bring: camera
  shake up to 31 px at least half the time, Gaussian and defocus blur, sensor noise, JPEG and mild
  low resolution (down/up x1-x4) so that small faces in whole photos are covered too; optionally
  synthetic frame averages (a face moved along a smooth, spatially varying motion and averaged over
  frames, :mod:`facedeblur.degrade.warps`) for video-like blur.

Each recipe runs as a numpy function on one image (:func:`degrade_numpy`, used to write files) and as a
batched torch function on any device (:func:`degrade_torch`, used on the training device). Both draw
their parameters with the same sampler (:func:`sample_params_batch`), so their statistics match by construction; the
primitives they apply are checked against each other in tests. Every sample's parameters are
returned as a dict (kernel, noise level, scale, JPEG quality, grayscale); :func:`params_to_json`
makes it JSON-ready.

Example:
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    >>> lq, params = degrade_numpy(img, DeblurRecipe(), np.random.default_rng(0))
    >>> lq.shape, params["recipe"]
    ((64, 64, 3), 'deblur')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.degrade import kernels as K
from facedeblur.degrade import ops
from facedeblur.degrade import talking as T
from facedeblur.degrade import warps as W


def _check_range(name: str, value: tuple, lo: float, hi: float | None = None) -> None:
    a, b = value
    if a > b:
        raise ValueError(f"{name}: range {value} has min > max")
    if a < lo or (hi is not None and b > hi):
        bound = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: range {value} must lie within {bound}")


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")


def _check_probabilities(recipe: Any, *names: str) -> None:
    for name in names:
        _check_probability(name, getattr(recipe, name))


def _odd_range(name: str, value: tuple[int, int]) -> None:
    _check_range(name, value, 3)
    if value[0] % 2 == 0 or value[1] % 2 == 0:
        raise ValueError(f"{name}: kernel sizes must be odd, got {value}")


@dataclass
class DeblurRecipe:
    """``deblur``: a fresh blur kernel per sample, noise, optional mild JPEG (Chrysos / DFPGnet / MSPL).

    Attributes:
        shake_probability: probability of a camera-shake kernel; otherwise a Gaussian.
        shake_sizes: odd support range of shake kernels (MSPL classes are 13..27); a size is drawn
            uniformly among the odd sizes in the range and the trajectory fills it.
        gaussian_sigma: range of the Gaussian standard deviation(s), pixels; support is 6 sigma + 1.
        anisotropic_probability: probability that a Gaussian has two independent sigmas and a random angle.
        no_blur_probability: probability of no blur at all (MSPL's no-blur class).
        noise_levels: range of the Gaussian noise standard deviation, in 8-bit levels (4 = 4/255).
        jpeg_probability: probability of JPEG compression.
        jpeg_quality: range of the JPEG quality (inclusive).
        kernel_bank: optional ``.npz`` from ``facedeblur degrade kernels``; when set, shake kernels are
            drawn from it instead of being generated (MSPL protocol; also faster).
    """

    shake_probability: float = 0.5
    shake_sizes: tuple[int, int] = (7, 27)
    gaussian_sigma: tuple[float, float] = (0.5, 3.5)
    anisotropic_probability: float = 0.5
    no_blur_probability: float = 0.0
    noise_levels: tuple[float, float] = (0.0, 4.0)
    jpeg_probability: float = 0.3
    jpeg_quality: tuple[int, int] = (70, 95)
    kernel_bank: str | None = None

    name = "deblur"

    def __post_init__(self) -> None:
        _check_probabilities(
            self, "shake_probability", "anisotropic_probability", "no_blur_probability", "jpeg_probability"
        )
        _odd_range("shake_sizes", self.shake_sizes)
        _check_range("gaussian_sigma", self.gaussian_sigma, 0.05, 20)
        if self.gaussian_sigma[0] <= 0:
            raise ValueError("gaussian_sigma must be > 0")
        _check_range("noise_levels", self.noise_levels, 0, 255)
        _check_range("jpeg_quality", self.jpeg_quality, 1, 100)
        if self.kernel_bank is not None and not Path(self.kernel_bank).is_file():
            raise ValueError(f"kernel_bank: no such file {self.kernel_bank}")


@dataclass
class RestoreRecipe:
    """``restore``: blur -> downsample -> noise -> JPEG -> upsample (PSFR-GAN / GFPGAN style).

    Spatial ranges (``gaussian_sigma``, ``kernel_size``, ``motion_length``) are given for faces of
    ``reference_size`` pixels, as published (GFPGAN and PSFR-GAN work at 512 px), and are scaled by
    ``image side / reference_size`` so a 128 px face gets the same relative blur. The scale factor,
    noise and JPEG ranges are not spatial and are used as given.

    Attributes:
        reference_size: face size the spatial ranges refer to.
        grayscale_probability: probability of a grayscale sample (target made grayscale too;
            PSFR-GAN uses 0.3).
        blur_probability: probability of blurring at all.
        motion_probability: among blurred samples, probability of linear motion instead of a Gaussian.
        gaussian_sigma: Gaussian sigma range at ``reference_size`` (GFPGAN: 0.1..10).
        anisotropic_probability: probability of an anisotropic Gaussian.
        kernel_size: Gaussian support at ``reference_size`` (GFPGAN: 41).
        motion_length: motion length range at ``reference_size`` (PSFR-GAN: 5..25).
        scale: downsampling factor range (GFPGAN: 0.8..8).
        noise_probability: probability of Gaussian noise.
        noise_levels: noise standard deviation range, 8-bit levels (GFPGAN: 0..20).
        jpeg_probability: probability of JPEG compression.
        jpeg_quality: JPEG quality range (GFPGAN: 60..100).
    """

    reference_size: int = 512
    grayscale_probability: float = 0.0
    blur_probability: float = 1.0
    motion_probability: float = 0.0
    gaussian_sigma: tuple[float, float] = (0.1, 10.0)
    anisotropic_probability: float = 0.0
    kernel_size: int = 41
    motion_length: tuple[float, float] = (5.0, 25.0)
    scale: tuple[float, float] = (0.8, 8.0)
    noise_probability: float = 1.0
    noise_levels: tuple[float, float] = (0.0, 20.0)
    jpeg_probability: float = 1.0
    jpeg_quality: tuple[int, int] = (60, 100)

    name = "restore"

    def __post_init__(self) -> None:
        _check_probabilities(
            self,
            "grayscale_probability",
            "blur_probability",
            "motion_probability",
            "anisotropic_probability",
            "noise_probability",
            "jpeg_probability",
        )
        if self.reference_size < 16:
            raise ValueError(f"reference_size must be >= 16, got {self.reference_size}")
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 3, got {self.kernel_size}")
        _check_range("gaussian_sigma", self.gaussian_sigma, 0.01)
        _check_range("motion_length", self.motion_length, 0)
        _check_range("scale", self.scale, 0.25, 64)
        _check_range("noise_levels", self.noise_levels, 0, 255)
        _check_range("jpeg_quality", self.jpeg_quality, 1, 100)


@dataclass
class PhotoRecipe:
    """``photo``: the default restorer's training degradation, weighted toward real users' photos.

    blur (camera shake, Gaussian or defocus) -> optional downsampling -> noise -> optional JPEG ->
    upsampling back. Shake trajectories are generated fresh per sample (never from a published
    benchmark's kernel set). Ranges are for 128 px faces.

    Attributes:
        shake_probability: probability of a camera-shake kernel.
        shake_sizes: odd support range of the shake kernels.
        defocus_probability: probability of a defocus disk (among the rest: Gaussian or no blur).
        defocus_radius: disk radius range, pixels.
        no_blur_probability: probability of no blur (noise/JPEG/low resolution only).
        frames_probability: probability of a synthetic frame average (:mod:`facedeblur.degrade.warps`)
            instead of a kernel: the face moved along a smooth, spatially varying motion, averaged over
            ``frames_count`` frames in linear light; the sharp face is the middle frame.
        frames_count: odd range of the number of frames averaged.
        frames_span: range of the largest displacement between the first and last frame, pixels.
        talking_probability: among frame averages, probability of a talking face
            (:mod:`facedeblur.degrade.talking`): the jaw and lips move back and forth on their own within the
            window (and the eyes may blink) while the head moves by ``talking_span`` only. 0 (the default)
            draws nothing, so seeded sets made without it stay as they were.
        talking_amplitude: range of the largest lower-lip / chin displacement from the sharp face, pixels.
        talking_cycles: range of the mouth's open-close frequency, cycles per averaged window.
        talking_span: range of the head's motion span (as ``frames_span``) in talking averages, pixels.
        talking_blink_probability: probability that a talking average also has a blink.
        talking_blink_amplitude: range of the largest upper-eyelid displacement, pixels.
        gaussian_sigma: Gaussian sigma range, pixels.
        anisotropic_probability: probability that a Gaussian is anisotropic.
        scale_probability: probability of downsampling (then upsampling back).
        scale: downsampling factor range.
        noise_probability: probability of Gaussian noise.
        noise_levels: noise standard deviation range, 8-bit levels.
        jpeg_probability: probability of JPEG compression.
        jpeg_quality: JPEG quality range (inclusive).
    """

    shake_probability: float = 0.55
    shake_sizes: tuple[int, int] = (7, 31)
    defocus_probability: float = 0.1
    defocus_radius: tuple[float, float] = (1.0, 4.0)
    no_blur_probability: float = 0.05
    frames_probability: float = 0.0
    frames_count: tuple[int, int] = (5, 13)
    frames_span: tuple[float, float] = (2.0, 16.0)
    talking_probability: float = 0.0
    talking_amplitude: tuple[float, float] = (1.0, 8.0)
    talking_cycles: tuple[float, float] = (0.25, 2.0)
    talking_span: tuple[float, float] = (2.0, 8.0)
    talking_blink_probability: float = 0.3
    talking_blink_amplitude: tuple[float, float] = (1.0, 4.0)
    gaussian_sigma: tuple[float, float] = (0.5, 3.5)
    anisotropic_probability: float = 0.5
    scale_probability: float = 0.3
    scale: tuple[float, float] = (1.0, 4.0)
    noise_probability: float = 0.8
    noise_levels: tuple[float, float] = (0.0, 8.0)
    jpeg_probability: float = 0.4
    jpeg_quality: tuple[int, int] = (40, 95)

    name = "photo"

    def __post_init__(self) -> None:
        _check_probabilities(
            self,
            "shake_probability",
            "defocus_probability",
            "no_blur_probability",
            "frames_probability",
            "talking_probability",
            "talking_blink_probability",
            "anisotropic_probability",
            "scale_probability",
            "noise_probability",
            "jpeg_probability",
        )
        blur_families = self.shake_probability + self.defocus_probability + self.no_blur_probability
        if blur_families + self.frames_probability > 1.0:
            raise ValueError(
                "shake_probability + defocus_probability + no_blur_probability + frames_probability must be <= 1"
            )
        _odd_range("shake_sizes", self.shake_sizes)
        _odd_range("frames_count", self.frames_count)
        _check_range("frames_span", self.frames_span, 0, 64)
        _check_range("talking_amplitude", self.talking_amplitude, 0, 32)
        _check_range("talking_cycles", self.talking_cycles, 0, 8)
        _check_range("talking_span", self.talking_span, 0, 64)
        _check_range("talking_blink_amplitude", self.talking_blink_amplitude, 0, 16)
        _check_range("defocus_radius", self.defocus_radius, 0.5, 20)
        _check_range("gaussian_sigma", self.gaussian_sigma, 0.05, 20)
        _check_range("scale", self.scale, 1.0, 16)
        _check_range("noise_levels", self.noise_levels, 0, 255)
        _check_range("jpeg_quality", self.jpeg_quality, 1, 100)


Recipe = DeblurRecipe | RestoreRecipe | PhotoRecipe
RECIPES: dict[str, type] = {"deblur": DeblurRecipe, "restore": RestoreRecipe, "photo": PhotoRecipe}


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> Recipe:
    """A recipe by name (its defaults) or from a YAML file, then ``key=value`` overrides.

    A YAML file names its recipe with a top-level ``recipe: deblur|restore|photo`` key; the other keys are
    the recipe's fields (unknown keys are errors). ``facedeblur/configs/recipes/{deblur,restore,photo}.yaml`` spell out
    the defaults.

    Example:
        >>> load_recipe("restore", ["scale=[1.0, 4.0]"]).scale
        (1.0, 4.0)
    """
    from facedeblur.config import ConfigError, apply_overrides, from_dict, parse_yaml

    path = Path(name_or_path)
    if name_or_path in RECIPES and not path.is_file():
        return apply_overrides(RECIPES[name_or_path](), overrides or [])
    if not path.is_file():
        raise ConfigError(f"unknown recipe {name_or_path!r}: expected one of {sorted(RECIPES)} or a YAML file")
    data = parse_yaml(path.read_text(encoding="utf-8", errors="replace"), str(path)) or {}
    if not isinstance(data, dict) or data.get("recipe") not in RECIPES:
        raise ConfigError(f"{path}: expected a mapping with 'recipe: {'|'.join(sorted(RECIPES))}'")
    cls = RECIPES[data.pop("recipe")]
    return apply_overrides(from_dict(cls, data, where=path.name), overrides or [])


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain dict of a recipe with its name, the inverse of :func:`load_recipe`'s YAML form."""
    from dataclasses import fields

    out: dict[str, Any] = {"recipe": recipe.name}
    for f in fields(recipe):
        if f.init:
            value = getattr(recipe, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


# ---------------------------------------------------------------------------------------------------
# parameter sampling (shared by both implementations)


def _odd_supports(sigma: np.ndarray, cap: int) -> np.ndarray:
    """Odd support 6 sigma + 1 (at least 3), capped at ``cap`` (made odd)."""
    size = 2 * np.ceil(3 * sigma).astype(np.int64) + 1
    return np.clip(size, 3, cap if cap % 2 else cap - 1)


_BANKS: dict[str, list] = {}


def _bank(path: str) -> list:
    if path not in _BANKS:
        _BANKS[path] = K.load_kernel_bank(path)
    return _BANKS[path]


def _gaussians(rng, n, sigma_range, aniso_p, cap, scale=1.0):
    """Vectorised draws of n Gaussians: (sizes, s1, s2, angle) arrays."""
    s1 = rng.uniform(*sigma_range, n) * scale
    s2 = rng.uniform(*sigma_range, n) * scale
    angle = rng.uniform(0, 180, n)
    aniso = rng.random(n) < aniso_p
    s2 = np.where(aniso, s2, s1)
    angle = np.where(aniso, angle, 0.0)
    return _odd_supports(np.maximum(s1, s2), cap), s1, s2, angle


def _jpeg_draws(rng, n, probability, quality_range):
    quality = rng.integers(quality_range[0], quality_range[1] + 1, n)
    use = rng.random(n) < probability
    return [int(q) if u else None for q, u in zip(quality, use, strict=True)]


def sample_params_batch(recipe: Recipe, rng: np.random.Generator, n: int, height: int, width: int) -> list[dict]:
    """Draw ``n`` samples' degradation parameters at once (vectorised) for images of ``height`` x ``width``.

    Each dict has ``recipe``, ``kernel`` ((K, K) float32 array or None), ``kernel_info`` (family and its
    parameters), ``noise_sigma`` (in [0, 1] units), ``scale`` (downsampling factor, 1 = none),
    ``jpeg_quality`` (int or None) and ``grayscale`` (bool). Gaussian kernels are built in one
    vectorised call; camera-shake kernels come from the recipe's bank or are generated one by one.
    """
    if not isinstance(recipe, (DeblurRecipe, RestoreRecipe, PhotoRecipe)):
        raise TypeError(f"expected a DeblurRecipe, RestoreRecipe or PhotoRecipe, got {type(recipe).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    families = np.full(n, "gaussian", dtype=object)
    info: list[dict[str, Any]] = [{} for _ in range(n)]
    kernels: list[np.ndarray | None] = [None] * n
    grayscale = np.zeros(n, dtype=bool)
    scale = np.ones(n)
    if isinstance(recipe, DeblurRecipe):
        no_blur = rng.random(n) < recipe.no_blur_probability
        shake = rng.random(n) < recipe.shake_probability
        families[shake] = "shake"
        families[no_blur] = "none"
        cap = 2 * int(math.ceil(3 * recipe.gaussian_sigma[1])) + 1
        g_sizes, s1, s2, angle = _gaussians(rng, n, recipe.gaussian_sigma, recipe.anisotropic_probability, cap)
        lo, hi = recipe.shake_sizes
        shake_sizes = lo + 2 * rng.integers(0, (hi - lo) // 2 + 1, n)
        bank = _bank(recipe.kernel_bank) if recipe.kernel_bank is not None else None
        bank_index = rng.integers(len(bank), size=n) if bank is not None else None
        noise = rng.uniform(*recipe.noise_levels, n) / 255.0
        quality = _jpeg_draws(rng, n, recipe.jpeg_probability, recipe.jpeg_quality)
        for i in np.flatnonzero(families == "shake"):
            if bank is not None:
                kernels[i] = bank[bank_index[i]]
                info[i] = {"family": "shake", "bank": recipe.kernel_bank, "index": int(bank_index[i])}
            else:
                kernels[i] = K.shake_kernel(int(shake_sizes[i]), rng)
                info[i] = {"family": "shake", "size": int(shake_sizes[i])}
    elif isinstance(recipe, PhotoRecipe):
        draw = rng.random(n)
        shake = draw < recipe.shake_probability
        defocus = (draw >= recipe.shake_probability) & (draw < recipe.shake_probability + recipe.defocus_probability)
        none_at = recipe.shake_probability + recipe.defocus_probability
        no_blur = (draw >= none_at) & (draw < none_at + recipe.no_blur_probability)
        families[shake] = "shake"
        families[defocus] = "defocus"
        families[no_blur] = "none"
        if recipe.frames_probability > 0:  # drawn only when used: seeded sets without it stay as they were
            frames_at = none_at + recipe.no_blur_probability
            warped = (draw >= frames_at) & (draw < frames_at + recipe.frames_probability)
            families[warped] = "frames"
            frame_counts = recipe.frames_count[0] + 2 * rng.integers(
                0, (recipe.frames_count[1] - recipe.frames_count[0]) // 2 + 1, n
            )
            spans = rng.uniform(*recipe.frames_span, n)
            talking = np.zeros(n, dtype=bool)
            if recipe.talking_probability > 0:  # drawn only when used, as above
                talking = warped & (rng.random(n) < recipe.talking_probability)
                spans = np.where(talking, rng.uniform(*recipe.talking_span, n), spans)
        cap = 2 * int(math.ceil(3 * recipe.gaussian_sigma[1])) + 1
        g_sizes, s1, s2, angle = _gaussians(rng, n, recipe.gaussian_sigma, recipe.anisotropic_probability, cap)
        lo, hi = recipe.shake_sizes
        shake_sizes = lo + 2 * rng.integers(0, (hi - lo) // 2 + 1, n)
        radius = rng.uniform(*recipe.defocus_radius, n)
        scale = np.where(rng.random(n) < recipe.scale_probability, rng.uniform(*recipe.scale, n), 1.0)
        noise = np.where(rng.random(n) < recipe.noise_probability, rng.uniform(*recipe.noise_levels, n), 0.0) / 255.0
        quality = _jpeg_draws(rng, n, recipe.jpeg_probability, recipe.jpeg_quality)
        for i in np.flatnonzero(shake):
            kernels[i] = K.shake_kernel(int(shake_sizes[i]), rng)
            info[i] = {"family": "shake", "size": int(shake_sizes[i])}
        for i in np.flatnonzero(defocus):
            kernels[i] = K.defocus_kernel(float(radius[i]))
            info[i] = {"family": "defocus", "radius": float(radius[i])}
        for i in np.flatnonzero(families == "frames"):
            field = W.sample_motion_field(rng, height, width, float(spans[i]))
            info[i] = {"family": "frames", "frames": int(frame_counts[i]), "span": float(spans[i]), "field": field}
            if talking[i]:
                info[i]["talking"] = T.sample_talking(
                    rng,
                    height,
                    width,
                    recipe.talking_amplitude,
                    recipe.talking_cycles,
                    recipe.talking_blink_probability,
                    recipe.talking_blink_amplitude,
                )
    else:
        factor = min(height, width) / recipe.reference_size
        grayscale = rng.random(n) < recipe.grayscale_probability
        no_blur = rng.random(n) >= recipe.blur_probability
        motion = rng.random(n) < recipe.motion_probability
        families[motion] = "motion"
        families[no_blur] = "none"
        cap = max(3, 2 * int(round(recipe.kernel_size * factor / 2)) + 1)
        g_sizes, s1, s2, angle = _gaussians(rng, n, recipe.gaussian_sigma, recipe.anisotropic_probability, cap, factor)
        length = rng.uniform(*recipe.motion_length, n) * factor
        motion_angle = rng.uniform(0, 180, n)
        scale = rng.uniform(*recipe.scale, n)
        noise = np.where(rng.random(n) < recipe.noise_probability, rng.uniform(*recipe.noise_levels, n), 0.0) / 255.0
        quality = _jpeg_draws(rng, n, recipe.jpeg_probability, recipe.jpeg_quality)
        for i in np.flatnonzero(families == "motion"):
            kernels[i] = K.motion_kernel(float(length[i]), float(motion_angle[i]))
            info[i] = {"family": "motion", "length": float(length[i]), "angle": float(motion_angle[i])}
    gauss = np.flatnonzero(families == "gaussian")
    if len(gauss):
        stack = K.gaussian_kernels(g_sizes[gauss], s1[gauss], s2[gauss], angle[gauss])
        kmax = stack.shape[1]
        for j, i in enumerate(gauss):
            off = (kmax - int(g_sizes[i])) // 2
            kernels[i] = stack[j, off : kmax - off, off : kmax - off]
            info[i] = {"family": "gaussian", "sigma": [float(s1[i]), float(s2[i])], "angle": float(angle[i])}
    for i in np.flatnonzero(families == "none"):
        info[i] = {"family": "none"}
    return [
        {
            "recipe": recipe.name,
            "grayscale": bool(grayscale[i]),
            "scale": float(scale[i]),
            "noise_sigma": float(noise[i]),
            "jpeg_quality": quality[i],
            "kernel": None if kernels[i] is None else np.asarray(kernels[i], dtype=np.float32),
            "kernel_info": info[i],
        }
        for i in range(n)
    ]


def sample_params(recipe: Recipe, rng: np.random.Generator, height: int, width: int) -> dict[str, Any]:
    """Draw one sample's degradation parameters (see :func:`sample_params_batch` for the fields)."""
    return sample_params_batch(recipe, rng, 1, height, width)[0]


# ---------------------------------------------------------------------------------------------------
# numpy implementation


def _frames_info(params: dict[str, Any]) -> dict[str, Any] | None:
    """The synthetic frame average a sample's parameters ask for (``kernel_info`` of family ``frames``), or None."""
    info = params.get("kernel_info") or {}
    return info if info.get("family") == "frames" else None


def apply_params_numpy(image: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Apply sampled parameters to one image; ``rng`` draws the noise. Returns float32 (H, W, 3) in [0, 1]."""
    x = ops.check_image(image)
    h, w = x.shape[:2]
    if params["grayscale"]:
        x = ops.grayscale_numpy(x)
    if params["kernel"] is not None:
        x = ops.blur_numpy(x, params["kernel"])
    warp = _frames_info(params)
    if warp is not None:
        x = W.average_warped_numpy(x, warp["field"], warp["frames"], warp.get("talking"))
    if params["scale"] != 1.0:
        x = ops.resize_numpy(x, *ops.scaled_size(h, w, params["scale"]))
    if params["noise_sigma"] > 0:
        x = x + params["noise_sigma"] * rng.standard_normal(x.shape, dtype=np.float32)
    x = np.clip(x, 0.0, 1.0)
    if params["jpeg_quality"] is not None:
        from facedeblur.degrade.jpeg import jpeg_numpy

        x = jpeg_numpy(x, params["jpeg_quality"])
    x = ops.resize_numpy(x, h, w)
    if params["grayscale"]:  # a grayscale photo stays grayscale: noise and JPEG chroma error removed
        x = ops.grayscale_numpy(x)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def degrade_numpy(image: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Degrade one sharp image with ``recipe``.

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        recipe: a :class:`DeblurRecipe` or :class:`RestoreRecipe`.
        rng: draws the parameters, then the noise (the result is a function of its state).

    Returns:
        ``(lq, params)``: the degraded (H, W, 3) float32 image and the sample's parameters. When
        ``params["grayscale"]`` is true the target must be made grayscale too: :func:`prepare_target`.
    """
    image = ops.check_image(image)
    params = sample_params(recipe, rng, image.shape[0], image.shape[1])
    return apply_params_numpy(image, params, rng), params


def prepare_target(gt, params):
    """The ground truth that goes with degraded samples: grayscale where ``params`` say so.

    Accepts one (H, W, 3) numpy image with one params dict, or a (B, 3, H, W) tensor with a list of them.
    """
    if isinstance(gt, np.ndarray):
        return ops.grayscale_numpy(gt) if params["grayscale"] else gt
    mask = [bool(p["grayscale"]) for p in params]
    if not any(mask):
        return gt
    out = gt.clone()
    idx = [i for i, m in enumerate(mask) if m]
    out[idx] = ops.grayscale_torch(gt[idx])
    return out


# ---------------------------------------------------------------------------------------------------
# torch implementation


def _torch_seed(generator) -> int:
    import torch

    device = generator.device if generator is not None else "cpu"
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=device).item())


def apply_params_torch(batch, params: list[dict[str, Any]], generator=None):
    """Apply per-sample parameters to a batch on its device; ``generator`` draws the noise.

    Args:
        batch: (B, 3, H, W) float in [0, 1], any device.
        params: B dicts from :func:`sample_params`.
        generator: ``torch.Generator``; noise is drawn on the generator's device (pass one created on
            the batch's device for speed on GPU) or on the batch's device when None.

    Returns:
        (B, 3, H, W) degraded batch, same device and dtype.
    """
    import torch

    from facedeblur.degrade.jpeg import jpeg_torch

    x = ops.check_batch(batch)
    b, _, h, w = x.shape
    if len(params) != b:
        raise ValueError(f"expected {b} parameter dicts, got {len(params)}")
    with torch.no_grad():
        gray = [i for i, p in enumerate(params) if p["grayscale"]]
        if gray:
            x = x.clone()
            x[gray] = ops.grayscale_torch(x[gray])
        blurred = [i for i, p in enumerate(params) if p["kernel"] is not None]
        if len(blurred) == b:
            x = ops.blur_torch(x, [p["kernel"] for p in params])
        elif blurred:
            x = x.clone()
            x[blurred] = ops.blur_torch(x[blurred], [params[i]["kernel"] for i in blurred])
        warped = [i for i, p in enumerate(params) if _frames_info(p) is not None]
        if warped:
            x = x.clone()
            infos = [_frames_info(params[i]) for i in warped]
            x[warped] = W.average_warped_torch(
                x[warped], [k["field"] for k in infos], [k["frames"] for k in infos], [k.get("talking") for k in infos]
            )
        sigma = torch.tensor([p["noise_sigma"] for p in params], dtype=x.dtype, device=x.device).view(b, 1, 1, 1)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(params):
            groups.setdefault(ops.scaled_size(h, w, p["scale"]) if p["scale"] != 1.0 else (h, w), []).append(i)
        noise_device = generator.device if generator is not None else x.device
        out = torch.empty_like(x)
        for size, idx in sorted(groups.items()):
            part = ops.resize_torch(x[idx], *size)
            noise = torch.randn(part.shape, generator=generator, device=noise_device, dtype=part.dtype)
            part = (part + sigma[idx] * noise.to(x.device)).clamp(0, 1)
            quality = [params[i]["jpeg_quality"] for i in idx]
            jpeg_idx = [j for j, q in enumerate(quality) if q is not None]
            if jpeg_idx:
                part[jpeg_idx] = jpeg_torch(part[jpeg_idx], [quality[j] for j in jpeg_idx])
            out[idx] = ops.resize_torch(part, h, w)
        if gray:  # a grayscale photo stays grayscale: noise and JPEG chroma error removed
            out[gray] = ops.grayscale_torch(out[gray])
        return out.clamp(0, 1)


def degrade_torch(batch, recipe: Recipe, generator=None):
    """Degrade a batch of sharp images with ``recipe`` on the batch's device (CPU or GPU).

    Parameters are drawn with :func:`sample_params_batch` (vectorised) from a numpy generator seeded by
    ``generator`` (so a seeded ``torch.Generator`` makes the whole batch reproducible); noise is drawn
    from ``generator`` itself. Kernels of different sizes are zero-padded to the largest and applied
    by one batched FFT convolution; JPEG runs as a batched DCT on the device
    (:func:`facedeblur.degrade.jpeg.jpeg_torch`).

    Args:
        batch: (B, 3, H, W) float RGB in [0, 1].
        recipe: a :class:`DeblurRecipe` or :class:`RestoreRecipe`.
        generator: optional ``torch.Generator``.

    Returns:
        ``(lq, params)``: (B, 3, H, W) degraded batch and a list of B parameter dicts.

    Example:
        >>> import torch
        >>> lq, params = degrade_torch(torch.rand(4, 3, 32, 32), DeblurRecipe(), torch.Generator().manual_seed(0))
        >>> lq.shape, len(params)
        (torch.Size([4, 3, 32, 32]), 4)
    """
    ops.check_batch(batch)
    rng = np.random.default_rng(_torch_seed(generator))
    h, w = batch.shape[-2:]
    params = sample_params_batch(recipe, rng, batch.shape[0], h, w)
    return apply_params_torch(batch, params, generator), params


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready copy of a parameter dict (kernel as nested lists rounded to 1e-7, noise also in 8-bit levels)."""
    out = dict(params)
    kernel = params.get("kernel")
    if kernel is not None:
        out["kernel"] = np.round(np.asarray(kernel, dtype=np.float64), 7).tolist()
        out["kernel_size"] = int(kernel.shape[0])
    out["noise_level"] = round(float(params["noise_sigma"]) * 255.0, 6)
    warp = _frames_info(params)
    if warp is not None:
        out["kernel_info"] = {**warp, "field": np.round(np.asarray(warp["field"], np.float64), 4).tolist()}
    return out
