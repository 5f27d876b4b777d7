"""JPEG compression artefacts: real libjpeg through OpenCV (numpy) and a batched DCT emulation (torch).

The torch path is not a differentiable approximation: it runs the baseline JPEG pipeline itself on
the training device — 8-bit quantisation, JFIF RGB->YCbCr, 4:2:0 chroma subsampling by 2x2
averaging, 8x8 DCT, quantisation with the IJG tables scaled by quality exactly as libjpeg scales
them, dequantisation, inverse DCT, 8-bit rounding, "fancy" (triangular, i.e. bilinear) chroma
upsampling, YCbCr->RGB. Only entropy coding, which is lossless, is skipped. It matches OpenCV's
encoder+decoder to within about 1-2 8-bit levels RMS (tested), with per-sample quality, on any device.

Example:
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    >>> jpeg_numpy(img, 50).shape
    (16, 16, 3)
"""

from __future__ import annotations

import numpy as np

from facedeblur.images import to_uint8

# ITU-T T.81 Annex K tables, row-major.
LUMA_TABLE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)
CHROMA_TABLE = np.full((8, 8), 99.0)
CHROMA_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def _check_quality(quality: int) -> int:
    if isinstance(quality, bool) or int(quality) != quality or not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


def quant_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's quality scaling of a base table (jpeg_quality_scaling + baseline clamp to 1..255)."""
    quality = _check_quality(quality)
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


def jpeg_numpy(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode float RGB with libjpeg (OpenCV, 4:2:0), returning float RGB in [0, 1].

    Shape:
        image (H, W, 3) float in [0, 1] -> (H, W, 3) float32.
    """
    import cv2

    quality = _check_quality(quality)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    u8 = to_uint8(image)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(u8[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out[:, :, ::-1].astype(np.float32) / 255.0


def _dct_matrix(device, dtype):
    import torch

    k = torch.arange(8, dtype=torch.float64)
    d = torch.cos((2 * k[None, :] + 1) * k[:, None] * torch.pi / 16) * (2 / 8) ** 0.5
    d[0] /= 2**0.5
    return d.to(device=device, dtype=dtype)


def _blockwise(plane, table, dct):
    """Quantise one plane (B, H, W) with per-sample tables (B, 8, 8); H, W multiples of 8."""
    import torch

    b, h, w = plane.shape
    blocks = plane.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)
    coef = dct @ blocks @ dct.T
    t = table[:, None, None]
    coef = torch.round(coef / t) * t
    blocks = dct.T @ coef @ dct
    return blocks.permute(0, 1, 3, 2, 4).reshape(b, h, w)


def jpeg_torch(batch, qualities):
    """Baseline JPEG (4:2:0) compression of a batch, each sample at its own quality, on the batch's device.

    Args:
        batch: (B, 3, H, W) float RGB in [0, 1].
        qualities: B integers in 1..100 (a sequence or an integer tensor).

    Returns:
        (B, 3, H, W) float in [0, 1] (8-bit values), same dtype and device. Not differentiable.

    Example:
        >>> import torch
        >>> jpeg_torch(torch.rand(2, 3, 20, 24), [30, 90]).shape
        torch.Size([2, 3, 20, 24])
    """
    import torch
    import torch.nn.functional as F

    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) batch, got shape {tuple(batch.shape)}")
    qualities = [_check_quality(int(q)) for q in qualities]
    if len(qualities) != batch.shape[0]:
        raise ValueError(f"expected {batch.shape[0]} qualities, got {len(qualities)}")
    device, out_dtype = batch.device, batch.dtype
    dtype = torch.float32  # exact enough for 8-bit data; float64 pooling/padding is very slow on CPU
    with torch.no_grad():
        x = torch.round(batch.detach().to(dtype).clamp(0, 1) * 255)
        _, _, h, w = x.shape
        ph, pw = (-h) % 16, (-w) % 16
        if ph or pw:  # libjpeg pads partial MCUs by repeating the edge pixels
            rows = torch.arange(h + ph, device=device).clamp(max=h - 1)
            cols = torch.arange(w + pw, device=device).clamp(max=w - 1)
            x = x[:, :, rows][:, :, :, cols]
        r, g, b = x[:, 0], x[:, 1], x[:, 2]
        y = torch.round(0.299 * r + 0.587 * g + 0.114 * b).clamp(0, 255)
        cb = torch.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128).clamp(0, 255)
        cr = torch.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128).clamp(0, 255)
        bsz, hh, ww = cb.shape
        chroma = torch.stack([cb, cr], 1).reshape(bsz, 2, hh // 2, 2, ww // 2, 2).mean(dim=(3, 5))
        luma_t = torch.as_tensor(np.stack([quant_table(LUMA_TABLE, q) for q in qualities]), device=device, dtype=dtype)
        chroma_t = torch.as_tensor(
            np.stack([quant_table(CHROMA_TABLE, q) for q in qualities]), device=device, dtype=dtype
        )
        dct = _dct_matrix(device, dtype)
        y = torch.round(_blockwise(y - 128, luma_t, dct) + 128).clamp(0, 255)
        cb = torch.round(_blockwise(chroma[:, 0] - 128, chroma_t, dct) + 128).clamp(0, 255)
        cr = torch.round(_blockwise(chroma[:, 1] - 128, chroma_t, dct) + 128).clamp(0, 255)
        up = F.interpolate(torch.stack([cb, cr], 1), scale_factor=2, mode="bilinear", align_corners=False)
        cb, cr = up[:, 0] - 128, up[:, 1] - 128
        rgb = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1)
        rgb = torch.round(rgb).clamp(0, 255)[:, :, :h, :w] / 255
    return rgb.to(out_dtype)
