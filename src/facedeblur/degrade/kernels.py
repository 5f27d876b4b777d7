"""Blur kernels: Gaussian (isotropic / anisotropic), linear motion, camera shake, defocus disk.

Every kernel returned here is a float32 (K, K) array with K odd, non-negative, summing to 1 and
centred: its centre of mass lies within half a pixel of the array centre ``((K - 1) / 2, (K - 1) / 2)``,
so blurring with it does not shift the image. Random kernels come from a ``np.random.Generator``
and are reproducible from its seed.

Sub-pixel accuracy: motion and shake kernels are rasterised by bilinear splatting of densely sampled
points along a continuous path, which preserves the path's centre of mass exactly; a 3.4 px line
differs from a 3.0 px one.

Example:
    >>> import numpy as np
    >>> k = shake_kernel(21, np.random.default_rng(0))
    >>> k.shape, bool(abs(k.sum() - 1) < 1e-5), bool((k >= 0).all())
    ((21, 21), True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KERNEL_FAMILIES = ("gaussian", "motion", "shake", "defocus")


def _check_size(size: int, minimum: int = 1) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"kernel size must be an integer, got {size!r}")
    size = int(size)
    if size < minimum or size % 2 == 0:
        raise ValueError(f"kernel size must be an odd integer >= {minimum}, got {size}")
    return size


def _normalise(kernel: np.ndarray) -> np.ndarray:
    kernel = np.clip(kernel, 0.0, None)
    total = float(kernel.sum())
    if not total > 0:
        raise ValueError("kernel has no mass (all zeros)")
    return (kernel / total).astype(np.float32)


def kernel_center_of_mass(kernel: np.ndarray) -> tuple[float, float]:
    """Centre of mass (row, col) of a 2-D kernel, in pixels from the top-left pixel centre.

    Example:
        >>> kernel_center_of_mass(gaussian_kernel(5, 1.0))
        (2.0, 2.0)
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"expected a 2-D kernel, got shape {kernel.shape}")
    total = kernel.sum()
    rows, cols = np.indices(kernel.shape)
    return float(round((rows * kernel).sum() / total, 6)), float(round((cols * kernel).sum() / total, 6))


def gaussian_kernel(size: int, sigma: float, sigma_y: float | None = None, angle: float = 0.0) -> np.ndarray:
    """Isotropic or anisotropic (rotated) Gaussian kernel.

    Args:
        size: odd side length K.
        sigma: standard deviation along the first principal axis, in pixels (> 0).
        sigma_y: standard deviation along the second axis; ``None`` means isotropic (= ``sigma``).
        angle: rotation of the first axis in degrees, counter-clockwise from the x axis.

    Returns:
        (K, K) float32 kernel.

    Example:
        >>> k = gaussian_kernel(15, 3.0, 1.0, angle=30)
        >>> k.shape
        (15, 15)
    """
    size = _check_size(size)
    sigma_y = sigma if sigma_y is None else sigma_y
    if not (sigma > 0 and sigma_y > 0):
        raise ValueError(f"Gaussian sigmas must be > 0, got {sigma}, {sigma_y}")
    theta = math.radians(angle)
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    cov = rot @ np.diag([sigma**2, sigma_y**2]) @ rot.T
    inv = np.linalg.inv(cov)
    r = (size - 1) / 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    y = -y  # image rows grow downwards; angles are counter-clockwise as seen on screen
    q = inv[0, 0] * x * x + 2 * inv[0, 1] * x * y + inv[1, 1] * y * y
    return _normalise(np.exp(-0.5 * q))


def gaussian_kernels(sizes: np.ndarray, sigma: np.ndarray, sigma_y: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Many (an)isotropic Gaussian kernels at once, each in its own odd support, zero-padded to the largest.

    Kernel ``i`` equals ``gaussian_kernel(sizes[i], sigma[i], sigma_y[i], angle[i])`` centred in the
    output (what :func:`pad_kernel` would give), to float32 rounding.

    Args:
        sizes, sigma, sigma_y, angle: (M,) arrays (odd sizes, pixels, pixels, degrees).

    Returns:
        (M, K, K) float32 with K = max(sizes).

    Example:
        >>> gaussian_kernels(np.array([3, 5]), np.array([1.0, 2.0]), np.array([1.0, 0.5]), np.zeros(2)).shape
        (2, 5, 5)
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.ndim != 1 or len(sizes) == 0 or (sizes % 2 == 0).any() or (sizes < 1).any():
        raise ValueError(f"sizes must be a non-empty 1-D array of odd integers, got {sizes}")
    sx = np.asarray(sigma, dtype=np.float64)[:, None, None]
    sy = np.asarray(sigma_y, dtype=np.float64)[:, None, None]
    if not ((sx > 0).all() and (sy > 0).all()):
        raise ValueError("Gaussian sigmas must be > 0")
    theta = np.radians(np.asarray(angle, dtype=np.float64))[:, None, None]
    c, s = np.cos(theta), np.sin(theta)
    a = c**2 / sx**2 + s**2 / sy**2
    b = c * s * (1 / sx**2 - 1 / sy**2)
    d = s**2 / sx**2 + c**2 / sy**2
    r = (int(sizes.max()) - 1) / 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    y = -y
    k = np.exp(-0.5 * (a * x * x + 2 * b * x * y + d * y * y))
    half = ((sizes - 1) / 2)[:, None, None]
    k *= (np.abs(x) <= half) & (np.abs(y) <= half)
    return (k / k.sum(axis=(1, 2), keepdims=True)).astype(np.float32)


def splat_points(points: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Rasterise sub-pixel points (x, y) onto a (size, size) grid by bilinear splatting, then normalise.

    Bilinear splatting keeps the weighted mean position of the points exactly, which is what keeps
    path-based kernels centred. Points must lie inside ``[0, size - 1]``.

    Shape:
        points: (N, 2) as (x, y) in pixel coordinates of the kernel array.
    """
    size = _check_size(size)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (N, 2), got {points.shape}")
    if points.min() < 0 or points.max() > size - 1:
        raise ValueError(f"points fall outside the {size}x{size} kernel")
    w = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    x, y = points[:, 0], points[:, 1]
    x0 = np.minimum(np.floor(x).astype(np.int64), size - 2) if size > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), size - 2) if size > 1 else np.zeros(len(y), np.int64)
    fx, fy = x - x0, y - y0
    flat = np.zeros(size * size)
    if size == 1:
        flat[0] = w.sum()
    else:
        for dy, dx, ww in (
            (0, 0, (1 - fx) * (1 - fy)),
            (0, 1, fx * (1 - fy)),
            (1, 0, (1 - fx) * fy),
            (1, 1, fx * fy),
        ):
            flat += np.bincount((y0 + dy) * size + (x0 + dx), weights=w * ww, minlength=size * size)
    return _normalise(flat.reshape(size, size))


def _densify(path: np.ndarray, step: float = 0.1) -> np.ndarray:
    """Resample a polyline (N, 2) at equal arc-length steps (uniform speed => uniform exposure)."""
    seg = np.diff(path, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    arc = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = arc[-1]
    if total <= 1e-9:
        return path[:1].copy()
    n = max(2, int(math.ceil(total / step)) + 1)
    t = np.linspace(0.0, total, n)
    return np.stack([np.interp(t, arc, path[:, 0]), np.interp(t, arc, path[:, 1])], axis=1)


def _centre_path(points: np.ndarray, size: int) -> np.ndarray:
    return points - points.mean(axis=0) + (size - 1) / 2


def motion_kernel(length: float, angle: float, size: int | None = None) -> np.ndarray:
    """Linear motion blur: a straight segment of ``length`` pixels at ``angle`` degrees, sub-pixel accurate.

    Args:
        length: segment length in pixels (>= 0; 0 gives a delta).
        angle: direction in degrees, counter-clockwise from the x axis.
        size: odd side length; default the smallest odd size that holds the segment.

    Returns:
        (K, K) float32 kernel.

    Example:
        >>> motion_kernel(9.5, 45).shape
        (11, 11)
    """
    if not length >= 0:
        raise ValueError(f"motion length must be >= 0, got {length}")
    need = int(math.ceil(length)) + 1
    need += 1 - need % 2
    size = need if size is None else _check_size(size)
    if length > size - 1 + 1e-9:
        raise ValueError(f"a {length} px motion does not fit in a {size} px kernel (needs {need})")
    theta = math.radians(angle)
    half = length / 2
    ends = np.array(
        [[-half * math.cos(theta), half * math.sin(theta)], [half * math.cos(theta), -half * math.sin(theta)]]
    )
    pts = _densify(ends, step=0.05)
    pts = np.clip(_centre_path(pts, size), 0, size - 1)
    return splat_points(pts, size)


def defocus_kernel(radius: float, size: int | None = None, supersample: int = 8) -> np.ndarray:
    """Defocus (out-of-focus) disk of ``radius`` pixels with anti-aliased edges.

    Example:
        >>> defocus_kernel(3.0).shape
        (7, 7)
    """
    if not radius > 0:
        raise ValueError(f"defocus radius must be > 0, got {radius}")
    need = 2 * int(math.ceil(radius)) + 1
    size = need if size is None else _check_size(size)
    r = (size - 1) / 2
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    sx = x[:, :, None, None] + offs[None, None, None, :]
    sy = y[:, :, None, None] + offs[None, None, :, None]
    cover = ((sx**2 + sy**2) <= radius**2).mean(axis=(2, 3))
    if cover.sum() == 0:
        cover[int(r), int(r)] = 1.0
    return _normalise(cover)


@dataclass(frozen=True)
class ShakeSettings:
    """Random-walk parameters of a camera-shake trajectory (Boracchi & Foi 2012, "Modeling the performance
    of image restoration from motion blur"). Values are drawn per kernel in :func:`shake_trajectory`.

    Attributes:
        steps: samples of the trajectory (the walk is normalised afterwards, so this sets smoothness).
        max_anxiety: upper bound of the anxiety (how strongly the Gaussian and centripetal terms act).
        max_jerk_rate: upper bound of the per-step probability factor of impulsive jerks.
        max_drift: upper bound of a constant drift added to every velocity update (a slow pan).
        exposure: range of the fraction of the trajectory the shutter integrates.
    """

    steps: int = 96
    max_anxiety: float = 0.15
    max_jerk_rate: float = 0.5
    max_drift: float = 0.3
    exposure: tuple[float, float] = (0.6, 1.0)


def shake_trajectory(rng: np.random.Generator, settings: ShakeSettings = ShakeSettings()) -> np.ndarray:
    """A camera-shake trajectory: a random walk with inertia, impulsive jerks and drift.

    The walk follows Boracchi & Foi (2012): the velocity keeps its magnitude (inertia) and is
    perturbed by Gaussian noise, a centripetal pull back to the origin and, with small probability,
    an abrupt jerk that reverses it roughly; a constant drift term adds slow pans. The returned path
    is the part integrated during the exposure, in arbitrary units (scaled by the caller).

    Returns:
        (N, 2) float64 path (x, y).
    """
    steps = settings.steps
    anxiety = settings.max_anxiety * rng.random()
    centripetal = 0.7 * rng.random()
    gaussian_term = 10.0 * rng.random()
    jerk_rate = settings.max_jerk_rate * rng.random()
    drift = settings.max_drift * rng.random() * np.exp(1j * 2 * np.pi * rng.random())
    step_len = 1.0 / (steps - 1)
    # plain Python complex arithmetic: ~10x faster than numpy scalars in this sequential loop
    v = complex(np.exp(1j * 2 * np.pi * rng.random())) * step_len
    jerk_threshold = jerk_rate * anxiety
    jerk_draw = rng.random(steps).tolist()
    jerk_turn = np.exp(1j * (np.pi + rng.random(steps) - 0.5)).tolist()
    noise = (rng.standard_normal(steps) + 1j * rng.standard_normal(steps)).tolist()
    restart = np.exp(1j * 2 * np.pi * rng.random(steps)).tolist()
    drift_term = complex(drift) * anxiety
    xs = [0j] * steps
    pos = 0j
    for t in range(1, steps):
        jerk = 2 * v * jerk_turn[t] if jerk_draw[t] < jerk_threshold else 0j
        v = v + jerk + (anxiety * (gaussian_term * noise[t] - centripetal * pos) + drift_term) * step_len
        speed = abs(v)
        v = v / speed * step_len if speed > 0 else restart[t] * step_len
        pos = pos + v
        xs[t] = pos
    x = np.asarray(xs)
    lo, hi = settings.exposure
    keep = max(2, int(round(steps * (lo + (hi - lo) * rng.random()))))
    x = x[:keep]
    return np.stack([x.real, x.imag], axis=1)


def shake_kernel(
    size: int,
    rng: np.random.Generator,
    extent: float | None = None,
    settings: ShakeSettings = ShakeSettings(),
) -> np.ndarray:
    """Random camera-shake kernel: a :func:`shake_trajectory` rasterised sub-pixel into a ``size`` support.

    Args:
        size: odd side length K >= 3 (7..41 and beyond are typical; MSPL uses 13..27).
        rng: random generator (the kernel is a function of its state).
        extent: largest distance (pixels) of the path from its centre of mass along x or y;
            default fills the support, ``(K - 1) / 2 - 0.5``.
        settings: walk parameters.

    Returns:
        (K, K) float32 kernel, centre of mass at the array centre.

    Example:
        >>> import numpy as np
        >>> k = shake_kernel(27, np.random.default_rng(1))
        >>> r, c = kernel_center_of_mass(k)
        >>> bool(abs(r - 13) < 0.5 and abs(c - 13) < 0.5)
        True
    """
    size = _check_size(size, minimum=3)
    limit = (size - 1) / 2 - 0.5
    extent = limit if extent is None else float(extent)
    if not 0 < extent <= limit + 1e-9:
        raise ValueError(f"shake extent must be in (0, {limit}] for a {size} px kernel, got {extent}")
    path = shake_trajectory(rng, settings)
    path = path - path.mean(axis=0)
    span = np.abs(path).max()
    if span < 1e-9:
        path = np.zeros((1, 2))
    else:
        path = path * (extent / span)
    # resample at ~0.1 px so long paths are smooth and short ones cheap
    pts = _densify(path, step=0.1)
    pts = pts - pts.mean(axis=0) + (size - 1) / 2
    return splat_points(np.clip(pts, 0, size - 1), size)


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a centred (K, K) kernel to (size, size), keeping it centred."""
    size = _check_size(size)
    k = kernel.shape[0]
    if k > size:
        raise ValueError(f"cannot pad a {k} px kernel to {size} px")
    p = (size - k) // 2
    return np.pad(kernel, p)


def kernel_bank(
    count: int,
    sizes: tuple[int, ...] = (13, 15, 17, 19, 21, 23, 25, 27),
    seed: int = 0,
    family: str = "shake",
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """A bank of ``count`` kernels per size class (MSPL-like camera-shake classes 13, 15, ..., 27).

    Kernel ``j`` of class ``s`` is drawn from ``np.random.default_rng([seed, s, j])``, so a bank grows
    reproducibly and one class does not depend on the others.

    Returns:
        ``{"size_13": (count, 13, 13), ..., "sizes": (n_classes,)}`` float32 arrays (an ``np.savez`` mapping).

    Example:
        >>> bank = kernel_bank(2, sizes=(13, 15))
        >>> bank["size_15"].shape
        (2, 15, 15)
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if family not in ("shake", "motion", "gaussian", "defocus"):
        raise ValueError(f"unknown kernel family {family!r}; expected one of {KERNEL_FAMILIES}")
    sizes = tuple(_check_size(s, minimum=3) for s in sizes)
    bank: dict[str, np.ndarray] = {"sizes": np.asarray(sizes, dtype=np.int32)}
    total = count * len(sizes)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="kernels", unit="kernel")
    for s in sizes:
        kernels = np.empty((count, s, s), dtype=np.float32)
        for j in range(count):
            rng = np.random.default_rng([seed, s, j])
            if family == "shake":
                kernels[j] = shake_kernel(s, rng)
            elif family == "motion":
                kernels[j] = motion_kernel(rng.uniform(0.5, 1.0) * (s - 1), rng.uniform(0, 180), size=s)
            elif family == "gaussian":
                kernels[j] = gaussian_kernel(s, *rng.uniform(0.1, 0.25, size=2) * s, angle=rng.uniform(0, 180))
            else:
                kernels[j] = defocus_kernel(rng.uniform(0.25, 0.5) * (s - 1), size=s)
            if bar is not None:
                bar.update(1)
        bank[f"size_{s}"] = kernels
    if bar is not None:
        bar.close()
    return bank


def load_kernel_bank(path: str) -> list[np.ndarray]:
    """All kernels of a bank written by ``facedeblur degrade kernels``, as a flat list of (K, K) arrays."""
    from facedeblur.errors import InputError

    try:
        with np.load(path) as data:
            sizes = [int(s) for s in data["sizes"]]
            kernels = [k for s in sizes for k in data[f"size_{s}"]]
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"{path}: not a kernel bank ({err})") from err
    if not kernels:
        raise InputError(f"{path}: kernel bank is empty")
    return kernels
