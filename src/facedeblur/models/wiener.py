"""A physics-guided restorer: estimate the blur kernel, Wiener-deconvolve with it, refine with a U-Net.

The line of Schuler et al. ("Learning to Deblur", TPAMI 2016) and Dong et al. ("Deep Wiener
Deconvolution", NeurIPS 2020): the blur model is known, so a small network only has to estimate the
kernel (trained with a direct loss on the true kernel where the degradation has one) and a
differentiable FFT Wiener filter applies it; the refining U-Net (:mod:`facedeblur.models.unet`) sees
the blurry face and the deconvolved estimate side by side and removes ringing, noise and whatever the
kernel model does not explain (JPEG, downsampling, non-uniform motion).

Example:
    >>> import torch
    >>> net = build_wiener_unet(kernel_size=9, estimator_width=8, refine={"width": 8, "enc_blocks": [1, 1],
    ...                         "middle_blocks": 1, "dec_blocks": [1, 1]})
    >>> restored, kernel = net.forward_with_kernel(torch.rand(2, 3, 32, 32))
    >>> restored.shape, kernel.shape, bool(torch.allclose(kernel.sum((1, 2)), torch.ones(2)))
    (torch.Size([2, 3, 32, 32]), torch.Size([2, 9, 9]), True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from facedeblur.models.unet import RestorationUNet, UNetConfig


def kernel_to_otf(kernels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Real-FFT transfer functions of centred kernels for ``height`` x ``width`` images (``psf2otf``).

    Args:
        kernels: (B, K, K) float, K odd.
        height, width: image size (>= K).

    Returns:
        (B, height, width // 2 + 1) complex.

    Example:
        >>> otf = kernel_to_otf(torch.ones(1, 1, 1), 4, 4)
        >>> bool(torch.allclose(otf.abs(), torch.ones(1, 4, 3)))
        True
    """
    if kernels.ndim != 3 or kernels.shape[1] != kernels.shape[2] or kernels.shape[1] % 2 == 0:
        raise ValueError(f"expected (B, K, K) kernels with odd K, got shape {tuple(kernels.shape)}")
    k = kernels.shape[1]
    if k > min(height, width):
        raise ValueError(f"a {k} px kernel does not fit a {height}x{width} image")
    padded = kernels.new_zeros(kernels.shape[0], height, width)
    padded[:, :k, :k] = kernels
    padded = torch.roll(padded, shifts=(-(k // 2), -(k // 2)), dims=(1, 2))
    return torch.fft.rfft2(padded)


def wiener_deconvolve_torch(images: torch.Tensor, kernels: torch.Tensor, nsr: torch.Tensor | float) -> torch.Tensor:
    """Differentiable Wiener deconvolution, ``X = conj(H) Y / (|H|^2 + nsr)``, one kernel per sample.

    The image is reflect-padded by the kernel size first so the FFT's wrap-around falls outside the
    face; computed in float32 whatever the autocast state (FFTs need it).

    Args:
        images: (B, C, H, W) blurred images.
        kernels: (B, K, K) kernels (normalised to sum 1 here).
        nsr: noise-to-signal power ratio, a float or a (B,) tensor, > 0.

    Returns:
        (B, C, H, W) float32 deconvolved images (not clamped).

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> delta = torch.zeros(1, 3, 3); delta[0, 1, 1] = 1
        >>> bool(torch.allclose(wiener_deconvolve_torch(x, delta, 1e-6), x, atol=1e-4))
        True
    """
    if images.ndim != 4:
        raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(images.shape)}")
    with torch.autocast(images.device.type, enabled=False):
        x = images.float()
        k = kernels.float()
        k = k / k.sum(dim=(1, 2), keepdim=True).clamp_min(1e-8)
        b, _, h, w = x.shape
        p = min(k.shape[-1], h - 1, w - 1)
        padded = nn.functional.pad(x, (p, p, p, p), mode="reflect")
        ph, pw = padded.shape[-2:]
        otf = kernel_to_otf(k, ph, pw).unsqueeze(1)
        nsr_t = torch.as_tensor(nsr, dtype=torch.float32, device=x.device).reshape(-1, 1, 1, 1)
        spectrum = torch.fft.rfft2(padded) * otf.conj() / (otf.real**2 + otf.imag**2 + nsr_t)
        out = torch.fft.irfft2(spectrum, s=(ph, pw))
        return out[:, :, p : p + h, p : p + w]


@dataclass
class WienerUNetConfig:
    """Architecture of :class:`WienerUNet`.

    Attributes:
        kernel_size: side of the estimated kernel (odd; 31 covers the recipe's largest shake).
        estimator_width: channels of the kernel estimator's first level (doubling over 4 stride-2 levels).
        refine: :class:`~facedeblur.models.unet.UNetConfig` fields of the refining U-Net (its
            ``in_channels`` is set to 6: blurry face + deconvolved estimate).
    """

    kernel_size: int = 31
    estimator_width: int = 16
    refine: dict[str, Any] = field(default_factory=lambda: {"width": 32, "stem": "unshuffle"})

    def __post_init__(self) -> None:
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 3, got {self.kernel_size}")
        if self.estimator_width < 1:
            raise ValueError(f"estimator_width must be >= 1, got {self.estimator_width}")
        if "in_channels" in self.refine:
            raise ValueError("refine.in_channels is fixed at 6 (blurry face + Wiener estimate)")


class KernelEstimator(nn.Module):
    """Blurry face -> blur kernel (softmax over K x K, sums to 1) and a noise-to-signal ratio.

    Four stride-2 conv levels, a 4x4 average pool, then two linear layers. Starts by predicting a
    near-delta kernel (the identity blur), so the untrained model passes the input through.

    Shape:
        (B, 3, H, W) -> (B, K, K), (B,).
    """

    def __init__(self, kernel_size: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for level in range(4):
            out = width * 2**level
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.Conv2d(out, out, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.hidden = nn.Sequential(nn.Linear(channels * 16, 512), nn.LeakyReLU(0.2, inplace=True))
        self.kernel_logits = nn.Linear(512, kernel_size * kernel_size)
        self.log_nsr = nn.Linear(512, 1)
        self.kernel_size = kernel_size
        nn.init.zeros_(self.kernel_logits.weight)
        with torch.no_grad():
            bias = torch.zeros(kernel_size, kernel_size)
            bias[kernel_size // 2, kernel_size // 2] = 6.0  # softmax mass mostly on the centre
            self.kernel_logits.bias.copy_(bias.flatten())
        nn.init.zeros_(self.log_nsr.weight)
        nn.init.constant_(self.log_nsr.bias, -4.0)  # nsr ~ 0.02, the grid-searched oracle value

    def forward(self, lq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(self.features(lq))
        logits = self.kernel_logits(h).float()
        kernel = torch.softmax(logits, dim=1).view(-1, self.kernel_size, self.kernel_size)
        nsr = torch.exp(self.log_nsr(h).float().clamp(-9.0, 1.0)).flatten()
        return kernel, nsr


class WienerUNet(nn.Module):
    """Kernel estimator -> Wiener deconvolution -> refining U-Net (global residual on the input).

    Shape:
        - Input: (B, 3, H, W) RGB in [0, 1], H and W >= ``kernel_size``.
        - Output: (B, 3, H, W) restored RGB, not clamped.
    """

    def __init__(self, config: WienerUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.estimator = KernelEstimator(config.kernel_size, config.estimator_width)
        self.refine = RestorationUNet(UNetConfig(**{**config.refine, "in_channels": 6}))

    def forward_with_kernel(self, lq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restored faces and the estimated kernels ((B, K, K), for the kernel loss in training)."""
        if lq.ndim != 4 or lq.shape[1] != 3:
            raise ValueError(f"WienerUNet expects (B, 3, H, W) RGB, got shape {tuple(lq.shape)}")
        kernel, nsr = self.estimator(lq)
        estimate = wiener_deconvolve_torch(lq, kernel, nsr).clamp(-0.5, 1.5).to(lq.dtype)
        return self.refine(torch.cat([lq, estimate], dim=1)), kernel

    def forward(self, lq: torch.Tensor, return_kernel: bool = False):
        """Restored faces; with ``return_kernel`` also the estimated kernels (through DDP/autocast wrappers)."""
        restored, kernel = self.forward_with_kernel(lq)
        return (restored, kernel) if return_kernel else restored


def build_wiener_unet(**config) -> WienerUNet:
    """Build :class:`WienerUNet` from :class:`WienerUNetConfig` keyword arguments (the registry's builder).

    Raises:
        TypeError: an unknown keyword (the message names it).
    """
    return WienerUNet(WienerUNetConfig(**config))


def wiener_unet_config_dict(model: WienerUNet) -> dict:
    """The builder keyword arguments that rebuild ``model`` (for weights metadata)."""
    return asdict(model.config)
