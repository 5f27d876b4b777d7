"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013), fitted on sharp faces.

NIQE is a no-reference score (lower is better): it fits a multivariate Gaussian (MVG) to 36 natural-scene
statistics of an image's patches and measures its distance to the MVG of pristine images. The published
model is fitted on 96 px patches of natural photographs; ours is fitted on sharp 128 px faces, so it
measures "how far from a sharp face" rather than "how far from a natural photograph":

- features per patch and scale (18): the generalised Gaussian shape and scale of the mean-subtracted
  contrast-normalised (MSCN) coefficients, and shape, mean, left and right scale of the asymmetric
  generalised Gaussian fitted to the four neighbour products (horizontal, vertical, two diagonals);
- two scales: the image and its half-size (2x2 area) version; patches of ``patch_size`` px at the first
  scale (32 px: sixteen patches on a 128 px face) and half that at the second;
- pristine statistics: patches of sharp UTKFace training faces (highest variance of Laplacian) whose
  local sharpness exceeds 0.75 of the sharpest patch of their image, as in the reference implementation.

``benchmarks/assets/fit_niqe.py`` reproduces the shipped :data:`PRISTINE_FILE` (``facedeblur/eval/niqe_faces.npz``).

Example:
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((128, 128, 3)).astype(np.float32)
    >>> bool(niqe(img) > 0)
    True
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRISTINE_FILE = Path(__file__).resolve().parent / "niqe_faces.npz"
DEFAULT_PATCH_SIZE = 32
SHARP_PATCH_FRACTION = 0.75  # keep pristine patches at least this sharp relative to the image's sharpest


@dataclass(frozen=True)
class NiqeModel:
    """Pristine multivariate Gaussian of NIQE features.

    Attributes:
        mean: (36,) feature mean.
        cov: (36, 36) feature covariance.
        patch_size: patch side at the first scale, in pixels.
        info: how it was fitted (source, counts, seed).
    """

    mean: np.ndarray
    cov: np.ndarray
    patch_size: int
    info: dict

    def save(self, path: str | Path) -> None:
        """Write the model as a small ``.npz`` (atomically)."""
        import io

        from facedeblur.images import write_bytes_atomic

        buffer = io.BytesIO()
        np.savez(
            buffer,
            mean=self.mean.astype(np.float64),
            cov=self.cov.astype(np.float64),
            patch_size=np.int32(self.patch_size),
            info=np.array(json.dumps(self.info, sort_keys=True)),
        )
        write_bytes_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> NiqeModel:
        """Read a model written by :meth:`save`."""
        with np.load(path) as data:
            return cls(
                mean=data["mean"],
                cov=data["cov"],
                patch_size=int(data["patch_size"]),
                info=json.loads(str(data["info"])),
            )


@functools.lru_cache(maxsize=1)
def pristine_model() -> NiqeModel:
    """The shipped pristine model fitted on sharp faces (cached)."""
    if not PRISTINE_FILE.is_file():
        raise FileNotFoundError(f"{PRISTINE_FILE} is missing; run `python benchmarks/assets/fit_niqe.py` to fit it")
    return NiqeModel.load(PRISTINE_FILE)


_ALPHAS = np.arange(0.2, 10.001, 0.001)


@functools.lru_cache(maxsize=1)
def _ratio_table() -> np.ndarray:
    from scipy.special import gamma

    return gamma(2 / _ALPHAS) ** 2 / (gamma(1 / _ALPHAS) * gamma(3 / _ALPHAS))


def aggd_parameters(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit an asymmetric generalised Gaussian to each row of ``samples`` by moment matching.

    Args:
        samples: one distribution per row.

    Returns:
        ``(alpha, left_scale, right_scale)``, each (N,).

    Shape:
        (N, M) -> (N,), (N,), (N,).

    Example:
        >>> a, l, r = aggd_parameters(np.random.default_rng(0).normal(size=(1, 20000)))
        >>> bool(abs(a[0] - 2) < 0.1 and abs(l[0] - r[0]) < 0.05)
        True
    """
    from scipy.special import gamma

    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, M) samples, got shape {x.shape}")
    neg, pos = x < 0, x > 0
    left = np.sqrt((np.where(neg, x * x, 0).sum(1)) / np.maximum(neg.sum(1), 1))
    right = np.sqrt((np.where(pos, x * x, 0).sum(1)) / np.maximum(pos.sum(1), 1))
    left = np.maximum(left, 1e-10)
    right = np.maximum(right, 1e-10)
    gamma_hat = left / right
    r_hat = np.abs(x).mean(1) ** 2 / np.maximum((x * x).mean(1), 1e-20)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    table = _ratio_table()
    alpha = _ALPHAS[np.argmin((table[None, :] - r_norm[:, None]) ** 2, axis=1)]
    factor = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * factor, right * factor


def _mscn(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    mu = cv2.GaussianBlur(luma, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE)
    var = cv2.GaussianBlur(luma * luma, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE) - mu * mu
    sigma = np.sqrt(np.abs(var))
    return (luma - mu) / (sigma + 1.0), sigma


def _patches(array: np.ndarray, size: int) -> np.ndarray:
    rows, cols = array.shape[0] // size, array.shape[1] // size
    cut = array[: rows * size, : cols * size]
    return cut.reshape(rows, size, cols, size).transpose(0, 2, 1, 3).reshape(rows * cols, size * size)


def _scale_features(luma: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import gamma

    mscn, sigma = _mscn(luma)
    feats = []
    alpha, left, right = aggd_parameters(_patches(mscn, size))
    feats += [alpha, (left + right) / 2]
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        product = mscn * np.roll(mscn, (dy, dx), axis=(0, 1))
        alpha, left, right = aggd_parameters(_patches(product, size))
        mean = (right - left) * gamma(2 / alpha) / gamma(1 / alpha)
        feats += [alpha, mean, left, right]
    sharpness = _patches(sigma, size).mean(1)
    return np.stack(feats, axis=1), sharpness


def _luma255(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        luma = image.astype(np.float64)
    elif image.ndim == 3 and image.shape[2] == 3:
        luma = image.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) + 16.0
    else:
        raise ValueError(f"expected an (H, W, 3) RGB image in [0, 1] or an (H, W) luma image, got {image.shape}")
    if image.ndim == 2:
        luma = luma * 255.0
    return luma.astype(np.float32)


def niqe_features(image: np.ndarray, patch_size: int = DEFAULT_PATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch NIQE features of an image and the sharpness of each patch.

    Args:
        image: float RGB in [0, 1] (BT.601 luma is used, on a 0-255 scale) or an (H, W) luma in [0, 1].
        patch_size: patch side at the first scale (even).

    Returns:
        ``(features, sharpness)``: (P, 36) features and (P,) mean local deviation per patch.

    Shape:
        (H, W, 3) -> (P, 36), (P,), with P = (H // patch_size) * (W // patch_size).

    Example:
        >>> f, s = niqe_features(np.random.default_rng(0).random((64, 64, 3)))
        >>> f.shape, s.shape
        ((4, 36), (4,))
    """
    import cv2

    if patch_size < 8 or patch_size % 2:
        raise ValueError(f"patch_size must be an even number >= 8, got {patch_size}")
    luma = _luma255(image)
    if min(luma.shape) < patch_size:
        raise ValueError(f"NIQE needs images of at least {patch_size} px, got {luma.shape[1]}x{luma.shape[0]}")
    f1, sharpness = _scale_features(luma, patch_size)
    half = cv2.resize(luma, (luma.shape[1] // 2, luma.shape[0] // 2), interpolation=cv2.INTER_AREA)
    f2, _ = _scale_features(half, patch_size // 2)
    return np.concatenate([f1, f2], axis=1), sharpness


def fit_niqe(images, patch_size: int = DEFAULT_PATCH_SIZE, info: dict | None = None) -> NiqeModel:
    """Fit the pristine MVG on an iterable of sharp images (float RGB in [0, 1]).

    From each image only the patches whose sharpness is at least 0.75 of the image's sharpest are kept.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> model = fit_niqe([rng.random((64, 64, 3)) for _ in range(10)])
        >>> model.mean.shape, model.cov.shape
        ((36,), (36, 36))
    """
    rows = []
    count = 0
    for image in images:
        feats, sharpness = niqe_features(image, patch_size)
        keep = sharpness >= SHARP_PATCH_FRACTION * sharpness.max()
        rows.append(feats[keep])
        count += 1
    if not rows:
        raise ValueError("fit_niqe needs at least one image")
    data = np.concatenate(rows)
    data = data[np.isfinite(data).all(1)]
    if len(data) < 2:
        raise ValueError("too few valid patches to fit NIQE")
    meta = {"images": count, "patches": int(len(data)), **(info or {})}
    return NiqeModel(mean=data.mean(0), cov=np.cov(data, rowvar=False), patch_size=patch_size, info=meta)


def niqe(image: np.ndarray, model: NiqeModel | None = None) -> float:
    """NIQE score of one image against the pristine faces model (lower is better).

    Args:
        image: float RGB in [0, 1], at least ``model.patch_size`` px on each side (128 px faces are the
            intended input).
        model: pristine model; default the shipped one fitted on sharp faces.

    Returns:
        The score, a Python float.

    Shape:
        (H, W, 3) -> scalar.
    """
    model = pristine_model() if model is None else model
    feats, _ = niqe_features(image, model.patch_size)
    feats = feats[np.isfinite(feats).all(1)]
    if len(feats) == 0:
        return float("nan")
    mean = feats.mean(0)
    cov = np.cov(feats, rowvar=False) if len(feats) > 1 else np.zeros_like(model.cov)
    diff = model.mean - mean
    inv = np.linalg.pinv((model.cov + cov) / 2)
    return float(np.sqrt(max(diff @ inv @ diff, 0.0)))
