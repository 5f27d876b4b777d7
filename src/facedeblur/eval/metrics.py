"""Full-reference metrics on batches of RGB faces, identity distances and the Fréchet identity distance.

All image metrics take torch tensors (B, 3, H, W) (or (B, 1, H, W) for single-channel input) with values
in [0, 1] and return one value per image, shape (B,). They are plain functions (no state), and follow the
conventions of the super-resolution literature so figures compare with published tables:

- PSNR with data range 1, capped at :data:`PSNR_CAP` dB for identical images;
- SSIM of Wang et al. (2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, valid convolution,
  averaged over channels;
- Y channel: ITU-R BT.601 luma as MATLAB's ``rgb2ycbcr`` (range 16-235, scaled to [0, 1]);
- MS-SSIM of Wang et al. (2003) with the standard five scale weights; faces of 128 px are too small for five
  scales of an 11-px window, so the number of scales is the largest that fits (four at 128 px) and the
  weights of the scales used are renormalised to sum to one (see :func:`ms_ssim`).

Example:
    >>> import torch
    >>> x = torch.rand(2, 3, 32, 32)
    >>> psnr(x, x).tolist()
    [100.0, 100.0]
    >>> ssim(x, x).tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PSNR_CAP = 100.0  # dB reported for identical images (MSE below 1e-10)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"expected torch tensors, got {type(pred).__name__} and {type(target).__name__}")
    if pred.ndim != 4 or pred.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, 3, H, W) or (B, 1, H, W) images, got shape {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of RGB images in [0, 1], as MATLAB ``rgb2ycbcr`` (Y in [16/255, 235/255]).

    Args:
        image: RGB batch in [0, 1].

    Returns:
        The Y channel in [0, 1].

    Shape:
        (B, 3, H, W) -> (B, 1, H, W).

    Example:
        >>> rgb_to_y(torch.ones(1, 3, 2, 2))[0, 0, 0, 0].item() * 255  # doctest: +ELLIPSIS
        235.0...
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB images, got shape {tuple(image.shape)}")
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _channels(pred: torch.Tensor, target: torch.Tensor, y_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    _check_pair(pred, target)
    pred, target = pred.clamp(0, 1).double(), target.double()
    if y_channel:
        if pred.shape[1] != 3:
            raise ValueError("y_channel=True needs RGB (B, 3, H, W) images")
        return rgb_to_y(pred), rgb_to_y(target)
    return pred, target


def psnr(pred: torch.Tensor, target: torch.Tensor, y_channel: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB with data range 1, per image.

    Args:
        pred: restored images in [0, 1] (values are clamped to [0, 1] first, as saved images would be).
        target: ground truth in [0, 1].
        y_channel: compare the BT.601 luma only instead of the RGB channels.

    Returns:
        PSNR per image, capped at :data:`PSNR_CAP`.

    Shape:
        (B, C, H, W), (B, C, H, W) -> (B,).

    Example:
        >>> t = torch.zeros(1, 3, 4, 4); p = t + 0.1
        >>> round(psnr(p, t).item(), 4)
        20.0
    """
    pred, target = _channels(pred, target, y_channel)
    mse = (pred - target).pow(2).flatten(1).mean(1)
    value = 10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))
    return value.clamp(max=PSNR_CAP).float()


def _gaussian_taps(size: int, sigma: float, dtype, device) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def _gaussian_valid(signals: torch.Tensor, window_size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur of (N, H, W) float64 signals, same size (borders to be cropped by the caller).

    On CPU OpenCV's separable filter runs in float64 about 10x faster than torch's single-channel
    convolutions; elsewhere torch convolutions are used.
    """
    taps = _gaussian_taps(window_size, sigma, signals.dtype, signals.device)
    if signals.device.type == "cpu":
        import cv2

        k = taps.numpy()
        arrays = signals.numpy()
        out = np.stack([cv2.sepFilter2D(a, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT) for a in arrays])
        return torch.from_numpy(out)
    pad = window_size // 2
    x = F.pad(signals[:, None], (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(F.conv2d(x, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))
    return x[:, 0]


def _ssim_maps(
    x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure maps, each averaged to (B, C)."""
    c1, c2 = 0.01**2, 0.03**2
    b, channels = x.shape[:2]
    signals = torch.stack([x, y, x * x, y * y, x * y]).reshape(-1, *x.shape[-2:])
    blurred = _gaussian_valid(signals, window_size, sigma).reshape(5, b, channels, *signals.shape[-2:])
    r = window_size // 2
    blurred = blurred[..., r : signals.shape[-2] - r, r : signals.shape[-1] - r]
    mu_x, mu_y, exx, eyy, exy = blurred
    sxx = exx - mu_x**2
    syy = eyy - mu_y**2
    sxy = exy - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).mean((2, 3)), cs.mean((2, 3))


def ssim(pred: torch.Tensor, target: torch.Tensor, y_channel: bool = False) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image, averaged over channels.

    Args:
        pred: restored images in [0, 1] (clamped first).
        target: ground truth in [0, 1].
        y_channel: compare the BT.601 luma only.

    Returns:
        SSIM per image in [-1, 1]; 1 for identical images.

    Shape:
        (B, C, H, W), (B, C, H, W) -> (B,), with H, W >= 11.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> ssim(x, x).item()
        1.0
    """
    pred, target = _channels(pred, target, y_channel)
    if min(pred.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {tuple(pred.shape[-2:])}")
    value, _ = _ssim_maps(pred, target)
    return value.mean(1).float()


def ms_ssim(pred: torch.Tensor, target: torch.Tensor, y_channel: bool = False, max_scales: int = 5) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) per image.

    Scales are halved with 2x2 average pooling. The number of scales is ``max_scales`` or fewer: the largest
    M with the smallest scale still at least 11 px (the SSIM window). The standard weights of the first M
    scales are renormalised to sum to one, so for images of 176 px or more this is exactly the standard
    five-scale MS-SSIM. Negative contrast-structure terms are clamped to 0 (as piq and pytorch-msssim do).

    Args:
        pred: restored images in [0, 1] (clamped first).
        target: ground truth in [0, 1].
        y_channel: compare the BT.601 luma only.
        max_scales: at most this many scales (1..5).

    Returns:
        MS-SSIM per image in [0, 1]; 1 for identical images.

    Shape:
        (B, C, H, W), (B, C, H, W) -> (B,), with H, W >= 11.

    Example:
        >>> x = torch.rand(1, 3, 128, 128)
        >>> round(ms_ssim(x, x).item(), 6)
        1.0
    """
    if not 1 <= max_scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"max_scales must be in 1..{len(MS_SSIM_WEIGHTS)}, got {max_scales}")
    x, y = _channels(pred, target, y_channel)
    side = min(x.shape[-2:])
    if side < 11:
        raise ValueError(f"MS-SSIM needs images of at least 11x11 pixels, got {tuple(x.shape[-2:])}")
    scales = 1
    while scales < max_scales and side // (2**scales) >= 11:
        scales += 1
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    terms = []
    for level in range(scales):
        s, cs = _ssim_maps(x, y)
        terms.append((s if level == scales - 1 else cs).clamp_min(0.0))
        if level < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(terms, 0)  # (M, B, C)
    value = torch.prod(stacked ** weights[:, None, None], dim=0)
    return value.mean(1).float()


def identity_distances(pred_descriptors: torch.Tensor, target_descriptors: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cosine and Euclidean distances between identity descriptors of restored and true faces.

    With dlib's face-recognition descriptors (unit-length-ish, 128-D), an L2 distance below 0.6 is
    dlib's "same person" threshold; the cosine distance is ``1 - cos``.

    Args:
        pred_descriptors: descriptors of the restored faces.
        target_descriptors: descriptors of the ground-truth faces.

    Returns:
        ``{"id_cos": (B,), "id_l2": (B,)}``; both 0 for identical descriptors.

    Shape:
        (B, D), (B, D) -> (B,) each.

    Example:
        >>> d = torch.randn(3, 128)
        >>> identity_distances(d, d)["id_l2"].tolist()
        [0.0, 0.0, 0.0]
    """
    if pred_descriptors.ndim != 2 or pred_descriptors.shape != target_descriptors.shape:
        raise ValueError(
            f"expected two (B, D) descriptor batches of equal shape, got {tuple(pred_descriptors.shape)} "
            f"and {tuple(target_descriptors.shape)}"
        )
    p, t = pred_descriptors.double(), target_descriptors.double()
    cos = F.cosine_similarity(p, t, dim=1, eps=1e-12)
    return {"id_cos": (1.0 - cos).clamp_min(0.0).float(), "id_l2": (p - t).norm(dim=1).float()}


def landmark_nme(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean 68-point landmark error normalised by the inter-ocular distance (iBUG 300-W convention).

    The normaliser is the distance between the outer eye corners of the target (0-based points 36 and 45).

    Args:
        pred: landmarks found on the restored faces, (x, y) pixels.
        target: landmarks found on the ground-truth faces.

    Returns:
        Normalised mean error per face (0 for identical landmarks).

    Shape:
        (N, 68, 2), (N, 68, 2) -> (N,).

    Example:
        >>> t = np.zeros((1, 68, 2)); t[0, 45, 0] = 10.0
        >>> landmark_nme(t + [1.0, 0.0], t).tolist()
        [0.1]
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[1:] != (68, 2):
        raise ValueError(f"expected two (N, 68, 2) landmark arrays, got {pred.shape} and {target.shape}")
    inter_ocular = np.linalg.norm(target[:, 36] - target[:, 45], axis=1)
    if np.any(inter_ocular <= 0):
        raise ValueError("target landmarks have a zero inter-ocular distance")
    return np.linalg.norm(pred - target, axis=2).mean(1) / inter_ocular


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (the formula of FID).

    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. Used on identity-network descriptors of
    restored vs. sharp faces as an FID-like realism score (no ImageNet Inception weights exist offline).
    With fewer samples than dimensions the covariances are singular; ``eps`` is added to their diagonals
    when the matrix square root is not finite, as the reference FID code does.

    Args:
        features_a: embeddings of one set.
        features_b: embeddings of the other set.
        eps: diagonal offset for a singular product.

    Returns:
        The distance (0 for identical sets), a Python float.

    Shape:
        (N, D), (M, D) -> scalar; N, M >= 2.

    Example:
        >>> a = np.random.default_rng(0).normal(size=(50, 4))
        >>> round(frechet_distance(a, a), 6)
        0.0
    """
    from scipy import linalg

    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) embeddings, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two embeddings per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(a.shape[1]) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)  # tiny negative values are rounding error
