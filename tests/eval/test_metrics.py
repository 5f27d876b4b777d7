"""Metrics against hand-computed values and independent implementations; identical inputs score perfectly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facedeblur.eval import metrics as M


def _const(value: float, size: int = 32) -> torch.Tensor:
    return torch.full((1, 3, size, size), value, dtype=torch.float32)


def test_psnr_hand_computed():
    assert M.psnr(_const(0.6), _const(0.5)).item() == pytest.approx(20.0, abs=1e-4)
    assert M.psnr(_const(0.51), _const(0.5)).item() == pytest.approx(40.0, abs=1e-3)


def test_psnr_y_channel_hand_computed():
    target = _const(0.5)
    pred = target.clone()
    pred[:, 0] += 0.1  # red only: luma changes by 65.481 * 0.1 / 255
    expected = -20 * math.log10(65.481 * 0.1 / 255)
    assert M.psnr(pred, target, y_channel=True).item() == pytest.approx(expected, abs=1e-3)
    # on RGB the error is spread over three channels
    assert M.psnr(pred, target).item() == pytest.approx(-10 * math.log10(0.01 / 3), abs=1e-3)


def test_rgb_to_y_range():
    assert M.rgb_to_y(_const(1.0))[0, 0, 0, 0].item() * 255 == pytest.approx(235.0, abs=1e-3)
    assert M.rgb_to_y(_const(0.0))[0, 0, 0, 0].item() * 255 == pytest.approx(16.0, abs=1e-6)


def test_identical_images_score_perfectly():
    x = torch.rand(3, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert M.psnr(x, x).tolist() == [M.PSNR_CAP] * 3
    for fn in (M.ssim, M.ms_ssim):
        for y_channel in (False, True):
            assert torch.allclose(fn(x, x, y_channel=y_channel), torch.ones(3), atol=1e-6)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.5, 0.25
    c1 = 0.01**2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert M.ssim(_const(a), _const(b)).item() == pytest.approx(expected, abs=1e-6)


def _ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Direct Wang et al. SSIM on one channel with scipy (independent of the implementation under test)."""
    from scipy.signal import convolve2d

    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()

    def f(a):
        return convolve2d(a, w, mode="valid")

    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))).mean())


def test_ssim_matches_a_direct_reference():
    rng = np.random.default_rng(0)
    x = rng.random((40, 48))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    got = M.ssim(torch.from_numpy(y)[None, None], torch.from_numpy(x)[None, None]).item()
    assert got == pytest.approx(_ssim_reference(y, x), abs=1e-5)


def test_ms_ssim_of_constant_images_uses_renormalised_weights():
    a, b = 0.5, 0.25
    c1 = 0.01**2
    lum = (2 * a * b + c1) / (a * a + b * b + c1)
    weights = np.array(M.MS_SSIM_WEIGHTS[:4])  # 128 px: scales 128, 64, 32, 16
    expected = lum ** (weights[-1] / weights.sum())
    assert M.ms_ssim(_const(a, 128), _const(b, 128)).item() == pytest.approx(expected, abs=1e-5)


def test_ms_ssim_agrees_with_torchmetrics_at_five_scales():
    tm = pytest.importorskip("torchmetrics.functional.image")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 192, 192, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = M.ms_ssim(y, x)
    theirs = tm.multiscale_structural_similarity_index_measure(y, x, data_range=1.0, reduction="none")
    assert torch.allclose(ours, theirs.float(), atol=2e-3)
    ours_ssim = M.ssim(y, x)
    theirs_ssim = tm.structural_similarity_index_measure(y, x, data_range=1.0, reduction="none")
    assert torch.allclose(ours_ssim, theirs_ssim.float(), atol=1e-3)


def test_metrics_degrade_with_blur():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 64, 64, generator=g)
    mild = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), 3, 1)
    strong = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (3, 3, 3, 3), mode="reflect"), 7, 1)
    for fn in (M.psnr, M.ssim, M.ms_ssim):
        assert fn(mild, x).item() > fn(strong, x).item()


def test_input_checks():
    with pytest.raises(ValueError, match="shapes differ"):
        M.psnr(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))
    with pytest.raises(ValueError, match="B, 3, H, W"):
        M.ssim(torch.rand(3, 16, 16), torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="at least 11x11"):
        M.ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(TypeError):
        M.psnr(np.zeros((1, 3, 8, 8)), torch.zeros(1, 3, 8, 8))


def test_identity_distances_hand_computed():
    a = torch.zeros(2, 128)
    b = torch.zeros(2, 128)
    a[0, 0], b[0, 1] = 1.0, 1.0  # orthogonal
    a[1, 0], b[1, 0] = 1.0, 2.0  # same direction
    d = M.identity_distances(a, b)
    assert d["id_cos"].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert d["id_l2"].tolist() == pytest.approx([math.sqrt(2), 1.0], abs=1e-6)
    with pytest.raises(ValueError):
        M.identity_distances(a, b[:1])


def test_landmark_nme_hand_computed():
    target = np.zeros((2, 68, 2))
    target[:, 45, 0] = 20.0  # inter-ocular distance 20 (points 36 at 0 and 45 at 20)
    pred = target.copy()
    pred[0] += [3.0, 4.0]  # every point 5 px off
    assert M.landmark_nme(pred, target).tolist() == pytest.approx([0.25, 0.0])
    with pytest.raises(ValueError, match="68, 2"):
        M.landmark_nme(np.zeros((1, 5, 2)), np.zeros((1, 5, 2)))


def test_frechet_distance_hand_computed():
    a = np.array([[-1.0], [1.0]])  # mean 0, variance 2
    b = np.array([[0.0], [4.0]])  # mean 2, variance 8
    assert M.frechet_distance(a, b) == pytest.approx(4 + 2 + 8 - 2 * 4, abs=1e-9)
    rng = np.random.default_rng(0)
    c = rng.normal(size=(12, 32))  # fewer samples than dimensions: singular covariance
    assert M.frechet_distance(c, c) == pytest.approx(0.0, abs=1e-6)
    assert M.frechet_distance(c, c + 1.0) == pytest.approx(32.0, rel=1e-4)
