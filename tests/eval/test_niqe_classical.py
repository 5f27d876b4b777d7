"""NIQE (fit, shipped model, ordering) and the classical Wiener / Richardson-Lucy baselines."""

from __future__ import annotations

import numpy as np
import pytest

from facedeblur.degrade.kernels import gaussian_kernel, shake_kernel
from facedeblur.degrade.ops import blur_numpy
from facedeblur.eval import classical, niqe


def _smooth_image(size: int = 64, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((size // 8, size // 8, 3)).astype(np.float32)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    edges = (np.indices((size, size)).sum(0) % 16 < 8).astype(np.float32)[:, :, None]
    return np.clip(0.7 * image + 0.3 * edges, 0, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_aggd_fit_recovers_a_gaussian():
    samples = np.random.default_rng(0).normal(0, 0.5, size=(2, 50000))
    alpha, left, right = niqe.aggd_parameters(samples)
    assert alpha == pytest.approx([2.0, 2.0], abs=0.05)
    # for alpha = 2 the scale is sigma * sqrt(Gamma(1/2) / Gamma(3/2)) = sigma * sqrt(2)
    assert left == pytest.approx([0.5 * np.sqrt(2)] * 2, rel=0.03)
    assert right == pytest.approx(left, rel=0.03)


def test_niqe_features_shape_and_checks():
    feats, sharpness = niqe.niqe_features(_smooth_image(64))
    assert feats.shape == (4, 36) and sharpness.shape == (4,)
    assert np.isfinite(feats).all()
    with pytest.raises(ValueError, match="at least 32 px"):
        niqe.niqe_features(np.zeros((16, 16, 3), np.float32))


def test_fit_save_load_round_trip(tmp_path):
    images = [_smooth_image(64, seed) for seed in range(6)]
    model = niqe.fit_niqe(images, info={"source": "test"})
    path = tmp_path / "m.npz"
    model.save(path)
    again = niqe.NiqeModel.load(path)
    assert np.allclose(again.mean, model.mean) and np.allclose(again.cov, model.cov)
    assert again.patch_size == 32 and again.info["source"] == "test" and again.info["images"] == 6


def test_shipped_model_prefers_sharp_faces(utkface_val):
    from facedeblur.eval.faces import list_images, load_face

    model = niqe.pristine_model()
    assert model.mean.shape == (36,) and model.cov.shape == (36, 36) and model.info["images"] >= 1000
    for path in list_images(utkface_val)[:3]:
        face = load_face(path, 128)
        blurred = blur_numpy(face, gaussian_kernel(13, 2.5))
        assert niqe.niqe(face) < niqe.niqe(blurred)


def test_psf_to_otf_of_a_delta_is_flat():
    assert np.allclose(classical.psf_to_otf(np.pad(np.ones((1, 1)), 2), (8, 8)), 1.0)


@pytest.mark.parametrize("kernel", [gaussian_kernel(9, 1.5), shake_kernel(15, np.random.default_rng(0))])
def test_deconvolution_improves_on_the_blurred_input(kernel):
    sharp = _smooth_image(64)
    blurred = blur_numpy(sharp, kernel)
    base = _psnr(blurred, sharp)
    assert _psnr(classical.wiener_deconvolve(blurred, kernel, nsr=1e-2), sharp) > base + 2
    assert _psnr(classical.richardson_lucy(blurred, kernel, iterations=30), sharp) > base + 2


def test_deconvolution_with_a_delta_kernel_returns_the_input():
    image = _smooth_image(32)
    delta = np.zeros((5, 5), np.float32)
    delta[2, 2] = 1
    assert np.allclose(classical.wiener_deconvolve(image, delta, nsr=1e-8), image, atol=1e-4)
    assert np.allclose(classical.richardson_lucy(image, delta, iterations=3), image, atol=1e-4)


def test_deconvolution_input_checks():
    image = _smooth_image(32)
    with pytest.raises(ValueError, match="odd square"):
        classical.wiener_deconvolve(image, np.ones((4, 4)))
    with pytest.raises(ValueError, match="float"):
        classical.richardson_lucy((image * 255).astype(np.uint8), np.ones((3, 3)))
    with pytest.raises(ValueError, match="nsr"):
        classical.wiener_deconvolve(image, np.ones((3, 3)), nsr=0)
