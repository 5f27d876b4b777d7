"""Degradation primitives in numpy (one image) and torch (a batch, per-sample parameters, any device).

The two versions compute the same thing: true convolution (kernel flipped) with reflect-101 borders,
bilinear resizing without antialiasing (OpenCV ``INTER_LINEAR`` / torch ``bilinear``,
``align_corners=False``), ITU-R BT.601 luma for grayscale. Tests check they agree.

Example:
    >>> import numpy as np
    >>> from facedeblur.degrade.kernels import gaussian_kernel
    >>> img = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    >>> blur_numpy(img, gaussian_kernel(7, 1.5)).shape
    (32, 32, 3)
"""

from __future__ import annotations

import numpy as np

LUMA = (0.299, 0.587, 0.114)


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check an (H, W, 3) float RGB image in [0, 1] and return it as float32."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: expected an (H, W, 3) RGB array, got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name}: expected float pixels in [0, 1], got dtype {image.dtype} (use images.to_float_rgb)")
    return image.astype(np.float32, copy=False)


def check_batch(batch, name: str = "batch"):
    """Check a (B, 3, H, W) float torch batch."""
    import torch

    if not isinstance(batch, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(batch).__name__}")
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"{name}: expected a (B, 3, H, W) tensor, got shape {tuple(batch.shape)}")
    if not batch.is_floating_point():
        raise ValueError(f"{name}: expected float pixels in [0, 1], got dtype {batch.dtype}")
    return batch


def grayscale_numpy(image: np.ndarray) -> np.ndarray:
    """BT.601 luma replicated to three channels. Shape: (H, W, 3) -> (H, W, 3)."""
    y = image @ np.asarray(LUMA, dtype=np.float32)
    return np.repeat(y[:, :, None], 3, axis=2).astype(np.float32)


def grayscale_torch(batch):
    """BT.601 luma replicated to three channels. Shape: (B, 3, H, W) -> (B, 3, H, W)."""
    w = batch.new_tensor(LUMA).view(1, 3, 1, 1)
    return (batch * w).sum(1, keepdim=True).expand_as(batch).contiguous()


def blur_numpy(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every channel with ``kernel`` (true convolution, reflect-101 borders).

    Shape:
        image (H, W, 3), kernel (K, K) -> (H, W, 3) float32.
    """
    import cv2

    image = check_image(image)
    kernel = np.ascontiguousarray(np.asarray(kernel, dtype=np.float32)[::-1, ::-1])
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def blur_torch(batch, kernels):
    """Convolve each sample with its own kernel, on the batch's device (FFT, reflect-101 borders).

    Args:
        batch: (B, 3, H, W) float.
        kernels: (B, K, K) tensor with odd K, or a list of B odd square numpy arrays of any sizes
            (zero-padded to the largest, which keeps them centred).

    Returns:
        (B, 3, H, W) tensor.

    Example:
        >>> import torch
        >>> blur_torch(torch.rand(2, 3, 16, 16), torch.full((2, 5, 5), 1 / 25)).shape
        torch.Size([2, 3, 16, 16])
    """
    import torch
    import torch.nn.functional as F

    check_batch(batch)
    if not isinstance(kernels, torch.Tensor):
        kernels = stack_kernels(kernels)
    kernels = kernels.to(device=batch.device, dtype=batch.dtype)
    b, _, h, w = batch.shape
    if kernels.ndim != 3 or kernels.shape[0] != b or kernels.shape[1] != kernels.shape[2] or kernels.shape[1] % 2 == 0:
        raise ValueError(f"expected ({b}, K, K) kernels with odd K, got shape {tuple(kernels.shape)}")
    k = kernels.shape[1]
    p = k // 2
    if p == 0:
        return batch * kernels.view(b, 1, 1, 1)
    if p >= min(h, w):
        raise ValueError(f"a {k} px kernel is too large for a {h}x{w} image (reflect padding needs K/2 < size)")
    padded = F.pad(batch, (p, p, p, p), mode="reflect")
    # a 5-smooth FFT size >= the padded one: the extra zeros only move the wrap-around further into the
    # discarded border, and such sizes are several times faster than e.g. 158 = 2 * 79
    size = (fast_fft_size(h + 2 * p), fast_fft_size(w + 2 * p))
    spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kernels, s=size).unsqueeze(1)
    out = torch.fft.irfft2(spectrum, s=size)
    return out[:, :, 2 * p : 2 * p + h, 2 * p : 2 * p + w]


def fast_fft_size(n: int) -> int:
    """The smallest integer >= ``n`` whose only prime factors are 2, 3 and 5 (fast FFT lengths).

    Example:
        >>> fast_fft_size(158), fast_fft_size(160), fast_fft_size(1)
        (160, 160, 1)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    m = n
    while True:
        k = m
        for f in (2, 3, 5):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 1


def stack_kernels(kernels: list[np.ndarray]):
    """Zero-pad centred kernels of different odd sizes to the largest and stack them: (B, K, K) tensor."""
    import torch

    if len(kernels) == 0:
        raise ValueError("expected at least one kernel")
    size = max(int(k.shape[0]) for k in kernels)
    out = np.zeros((len(kernels), size, size), dtype=np.float32)
    for i, k in enumerate(kernels):
        s = int(k.shape[0])
        if k.ndim != 2 or k.shape[1] != s or s % 2 == 0:
            raise ValueError(f"kernel {i}: expected a square odd-sized 2-D array, got shape {k.shape}")
        p = (size - s) // 2
        out[i, p : p + s, p : p + s] = k
    return torch.from_numpy(out)


def resize_numpy(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize (OpenCV INTER_LINEAR). Shape: (H, W, 3) -> (height, width, 3)."""
    import cv2

    if (image.shape[0], image.shape[1]) == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def resize_torch(batch, height: int, width: int):
    """Bilinear resize (align_corners=False, no antialias), matching :func:`resize_numpy`."""
    import torch.nn.functional as F

    if tuple(batch.shape[-2:]) == (height, width):
        return batch
    return F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size of an image downsampled by ``scale`` (> 1 shrinks), at least 1 px."""
    return max(1, int(round(height / scale))), max(1, int(round(width / scale)))


def square_resize(image: np.ndarray, size: int | None) -> np.ndarray:
    """Centre-crop an (H, W, C) image to a square, then resize it to ``size`` (area filter when shrinking,
    bicubic when enlarging, float results clipped to [0, 1]); ``size=None`` returns it unchanged."""
    import cv2

    if size is None:
        return image
    h, w = image.shape[:2]
    if h != w:
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        image = image[y0 : y0 + s, x0 : x0 + s]
    if image.shape[0] != size:
        interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
        resized = cv2.resize(image, (size, size), interpolation=interp)
        image = resized[:, :, None] if image.ndim == 3 and resized.ndim == 2 else resized
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(image, 0, 1)
    return image
