import numpy as np
import pytest

from facedeblur.degrade import kernels as K


def _check(k, size):
    assert k.shape == (size, size)
    assert k.dtype == np.float32
    assert (k >= 0).all()
    assert abs(float(k.sum()) - 1.0) < 1e-5
    r, c = K.kernel_center_of_mass(k)
    centre = (size - 1) / 2
    assert abs(r - centre) <= 0.5 and abs(c - centre) <= 0.5, (r, c, size)


@pytest.mark.parametrize("size", [7, 13, 21, 27, 41, 63])
def test_shake_kernels_properties_every_size(size):
    rng = np.random.default_rng(size)
    for _ in range(8):
        k = K.shake_kernel(size, rng)
        _check(k, size)
        # a trajectory, not a dot: mass spreads over many pixels and reaches near the border
        assert (k > 1e-4).sum() >= min(size, 8)
        rows, cols = np.nonzero(k > 1e-5)
        assert max(np.ptp(rows), np.ptp(cols)) >= (size - 1) // 2


@pytest.mark.parametrize("size", [3, 7, 15, 41])
def test_gaussian_kernels(size):
    iso = K.gaussian_kernel(size, size / 6)
    _check(iso, size)
    np.testing.assert_allclose(iso, iso.T, atol=1e-7)
    aniso = K.gaussian_kernel(size, size / 5, size / 15, angle=30)
    _check(aniso, size)
    assert not np.allclose(aniso, aniso.T)


def test_anisotropic_gaussian_orientation():
    k = K.gaussian_kernel(21, 4.0, 0.7, angle=0)
    centre = 10
    assert k[centre, centre + 6] > 50 * k[centre + 6, centre]  # long along x
    k90 = K.gaussian_kernel(21, 4.0, 0.7, angle=90)
    np.testing.assert_allclose(k90, k.T, atol=1e-6)


@pytest.mark.parametrize("length,angle", [(0.0, 0), (1.3, 10), (3.4, 30), (9.0, 90), (17.7, 135), (40.0, 200)])
def test_motion_kernels(length, angle):
    k = K.motion_kernel(length, angle)
    _check(k, k.shape[0])
    assert k.shape[0] >= length
    # second moment along the motion matches a uniform segment: var = L^2 / 12
    y, x = np.indices(k.shape) - (k.shape[0] - 1) / 2
    t = x * np.cos(np.radians(angle)) - y * np.sin(np.radians(angle))
    var = float((k * t**2).sum())
    assert abs(var - length**2 / 12) < 0.25 + 0.02 * length**2 / 12


def test_motion_is_subpixel():
    a, b = K.motion_kernel(3.0, 0, size=7), K.motion_kernel(3.4, 0, size=7)
    assert np.abs(a - b).max() > 0.01


@pytest.mark.parametrize("radius", [0.6, 1.5, 4.0, 12.3])
def test_defocus_kernels(radius):
    k = K.defocus_kernel(radius)
    _check(k, k.shape[0])
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    assert k[k.shape[0] // 2, k.shape[0] // 2] == pytest.approx(k.max())


def test_seed_determinism():
    a = K.shake_kernel(21, np.random.default_rng(7))
    b = K.shake_kernel(21, np.random.default_rng(7))
    c = K.shake_kernel(21, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_kernel_bank_classes_and_reproducibility():
    bank = K.kernel_bank(3, sizes=(13, 15, 27), seed=1)
    assert list(bank["sizes"]) == [13, 15, 27]
    for s in (13, 15, 27):
        assert bank[f"size_{s}"].shape == (3, s, s)
        for k in bank[f"size_{s}"]:
            _check(k, s)
    again = K.kernel_bank(5, sizes=(15,), seed=1)  # a class does not depend on the others or the count
    np.testing.assert_array_equal(again["size_15"][:3], bank["size_15"])


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="odd"):
        K.gaussian_kernel(8, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        K.gaussian_kernel(7, 0.0)
    with pytest.raises(ValueError, match="does not fit"):
        K.motion_kernel(12, 0, size=7)
    with pytest.raises(ValueError, match="extent"):
        K.shake_kernel(9, np.random.default_rng(0), extent=10)
    with pytest.raises(TypeError):
        K.shake_kernel(9.0, np.random.default_rng(0))


def test_batched_gaussians_match_single_ones():
    rng = np.random.default_rng(0)
    sizes = np.array([3, 9, 15, 21])
    s1, s2, angle = rng.uniform(0.3, 4, 4), rng.uniform(0.3, 4, 4), rng.uniform(0, 180, 4)
    stack = K.gaussian_kernels(sizes, s1, s2, angle)
    assert stack.shape == (4, 21, 21)
    for i, size in enumerate(sizes):
        expected = K.pad_kernel(K.gaussian_kernel(int(size), s1[i], s2[i], angle[i]), 21)
        np.testing.assert_allclose(stack[i], expected, atol=1e-6)
    with pytest.raises(ValueError, match="odd"):
        K.gaussian_kernels(np.array([4]), np.ones(1), np.ones(1), np.zeros(1))
