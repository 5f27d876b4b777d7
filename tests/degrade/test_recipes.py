import json

import numpy as np
import pytest
import torch

from facedeblur.config import ConfigError
from facedeblur.degrade import kernels as K
from facedeblur.degrade import ops
from facedeblur.degrade.jpeg import LUMA_TABLE, jpeg_numpy, jpeg_torch, quant_table
from facedeblur.degrade.recipes import (
    RECIPES,
    DeblurRecipe,
    RestoreRecipe,
    apply_params_numpy,
    apply_params_torch,
    degrade_numpy,
    degrade_torch,
    load_recipe,
    params_to_json,
    prepare_target,
    sample_params,
)
from facedeblur.train.recipes import CONFIG_DIRS


def synthetic_faces(n, size=64, seed=0):
    """Smooth shading + sharp edges + texture: enough structure for blur to matter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.15, 0.35)]
        disk = ((x - cx) ** 2 + (y - cy) ** 2 < r**2).astype(np.float32)
        stripes = (np.sin(2 * np.pi * (x * rng.uniform(3, 9) + y * rng.uniform(0, 4))) > 0).astype(np.float32)
        base = rng.uniform(0.2, 0.8, 3)
        img = base[None, None] * (0.6 + 0.4 * x[..., None]) + 0.3 * disk[..., None] * rng.uniform(-1, 1, 3)
        img = img + 0.15 * stripes[..., None] + 0.03 * rng.standard_normal((size, size, 3))
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return np.stack(out)


def to_batch(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim))))


def test_validation_errors_name_the_field():
    with pytest.raises(ValueError, match="shake_probability"):
        DeblurRecipe(shake_probability=1.5)
    with pytest.raises(ValueError, match="odd"):
        DeblurRecipe(shake_sizes=(8, 12))
    with pytest.raises(ValueError, match="min > max"):
        RestoreRecipe(scale=(4.0, 2.0))
    with pytest.raises(ValueError, match="jpeg_quality"):
        RestoreRecipe(jpeg_quality=(0, 100))
    with pytest.raises(ValueError, match="kernel_bank"):
        DeblurRecipe(kernel_bank="/nonexistent/bank.npz")
    with pytest.raises(ConfigError, match="unknown key"):
        load_recipe("deblur", ["sigma=3"])
    with pytest.raises(ConfigError, match="expected a number"):
        load_recipe("restore", ["noise_levels=[a, 3]"])
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("nonsense")


def test_yaml_configs_spell_out_the_defaults():

    root = CONFIG_DIRS[0] / "recipes"
    for name, cls in RECIPES.items():
        assert load_recipe(str(root / f"{name}.yaml")) == cls()
    assert load_recipe("restore", ["scale=[1.0, 2.0]"]).scale == (1.0, 2.0)


def test_numpy_and_torch_primitives_agree():
    img = synthetic_faces(3, 48)
    kernels = [K.shake_kernel(15, np.random.default_rng(0)), K.motion_kernel(5.3, 20), K.gaussian_kernel(9, 2, 1, 30)]
    np_out = np.stack([ops.blur_numpy(im, k) for im, k in zip(img, kernels, strict=True)])
    t_out = ops.blur_torch(to_batch(img), kernels).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(np_out, t_out, atol=2e-5)
    np_small = ops.resize_numpy(img[0], 17, 13)
    t_small = ops.resize_torch(to_batch(img[:1]), 17, 13)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(np_small, t_small, atol=2e-5)


def test_blur_is_a_true_convolution():
    img = np.zeros((21, 21, 3), np.float32)
    img[10, 10] = 1.0
    k = K.motion_kernel(6, 0, size=9)
    k = np.zeros((9, 9), np.float32)
    k[4, 6] = 1.0  # delta displaced right: convolution moves the impulse right
    out = ops.blur_numpy(img, k)
    assert out[10, 12, 0] == pytest.approx(1.0)
    t = ops.blur_torch(to_batch(img[None]), torch.from_numpy(k)[None])
    assert float(t[0, 0, 10, 12]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("quality", [10, 40, 75, 95])
def test_torch_jpeg_matches_libjpeg(quality):
    img = synthetic_faces(4, 40, seed=quality)  # 40 px: not a multiple of 16, exercises padding
    ref = np.stack([jpeg_numpy(im, quality) for im in img])
    out = jpeg_torch(to_batch(img), [quality] * 4).permute(0, 2, 3, 1).numpy()
    rms = np.sqrt(np.mean((ref - out) ** 2)) * 255
    assert rms < 2.5, rms
    assert abs(psnr(ref, img).mean() - psnr(out, img).mean()) < 0.6


def test_quant_table_scaling_matches_libjpeg():
    assert quant_table(LUMA_TABLE, 50)[0, 0] == 16
    assert quant_table(LUMA_TABLE, 100).max() == 1
    assert quant_table(LUMA_TABLE, 1).max() == 255


@pytest.mark.parametrize("name", ["deblur", "restore"])
def test_numpy_and_torch_statistics_match(name):
    recipe = RECIPES[name](grayscale_probability=0.3, motion_probability=0.3) if name == "restore" else DeblurRecipe()
    faces = synthetic_faces(16, 48)
    rng = np.random.default_rng(0)
    np_psnr = []
    for _ in range(4):
        for face in faces:
            lq, params = degrade_numpy(face, recipe, rng)
            np_psnr.append(psnr(lq[None], prepare_target(face, params)[None])[0])
    gen = torch.Generator().manual_seed(0)
    t_psnr = []
    batch = to_batch(faces)
    for _ in range(4):
        lq, params = degrade_torch(batch, recipe, gen)
        t_psnr.extend(psnr(lq.numpy(), prepare_target(batch, params).numpy()))
    np_psnr, t_psnr = np.array(np_psnr), np.array(t_psnr)
    # different random draws from one distribution: means agree within three standard errors
    se = np.sqrt(np_psnr.var() / len(np_psnr) + t_psnr.var() / len(t_psnr))
    assert abs(np_psnr.mean() - t_psnr.mean()) < 3 * se, (np_psnr.mean(), t_psnr.mean(), se)
    assert 0.6 < np_psnr.std() / t_psnr.std() < 1.6


@pytest.mark.parametrize("name", ["deblur", "restore"])
def test_same_parameters_same_result(name):
    recipe = RECIPES[name](noise_levels=(0.0, 0.0)) if name == "deblur" else RestoreRecipe(noise_probability=0.0)
    faces = synthetic_faces(6, 64, seed=3)
    rng = np.random.default_rng(5)
    params = [sample_params(recipe, rng, 64, 64) for _ in faces]
    np_out = np.stack([apply_params_numpy(f, p, rng) for f, p in zip(faces, params, strict=True)])
    t_out = apply_params_torch(to_batch(faces), params).permute(0, 2, 3, 1).numpy()
    # identical up to float rounding and JPEG emulation (a few 8-bit levels)
    assert np.sqrt(np.mean((np_out - t_out) ** 2)) * 255 < 2.5


def test_params_are_recorded_and_json_ready():
    rng = np.random.default_rng(1)
    face = synthetic_faces(1, 64)[0]
    seen = set()
    for _ in range(30):
        lq, params = degrade_numpy(face, RestoreRecipe(grayscale_probability=0.5), rng)
        record = json.loads(json.dumps(params_to_json(params)))
        for key in ("kernel", "noise_sigma", "noise_level", "scale", "jpeg_quality", "grayscale", "kernel_info"):
            assert key in record
        assert 0.8 <= record["scale"] <= 8.0
        assert 0 <= record["noise_level"] <= 20
        assert record["jpeg_quality"] is None or 60 <= record["jpeg_quality"] <= 100
        k = np.asarray(record["kernel"])
        assert k.shape[0] <= 11  # 41 px at 512 -> scaled to a 64 px face
        assert abs(k.sum() - 1) < 1e-4
        seen.add(record["grayscale"])
        if record["grayscale"]:
            assert np.allclose(lq[..., 0], lq[..., 1])
    assert seen == {True, False}


def test_degrade_numpy_is_reproducible_and_checks_input():
    face = synthetic_faces(1, 64)[0]
    a = degrade_numpy(face, DeblurRecipe(), np.random.default_rng(3))
    b = degrade_numpy(face, DeblurRecipe(), np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].dtype == np.float32 and a[0].min() >= 0 and a[0].max() <= 1
    with pytest.raises(ValueError, match="float"):
        degrade_numpy((face * 255).astype(np.uint8), DeblurRecipe(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="RGB"):
        degrade_numpy(face[..., 0], DeblurRecipe(), np.random.default_rng(0))


def test_degrade_torch_reproducible_and_device_agnostic():
    batch = to_batch(synthetic_faces(5, 32))
    a, pa = degrade_torch(batch, DeblurRecipe(), torch.Generator().manual_seed(4))
    b, pb = degrade_torch(batch, DeblurRecipe(), torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert a.shape == batch.shape and a.dtype == batch.dtype
    assert [p["kernel_info"] for p in pa] == [p["kernel_info"] for p in pb]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        gen = torch.Generator(device=device).manual_seed(0)
        out, _ = degrade_torch(batch.to(device), RestoreRecipe(), gen)
        assert out.device.type == device


def test_kernel_bank_recipe(tmp_path):
    bank = K.kernel_bank(2, sizes=(13, 15), seed=0)
    path = tmp_path / "bank.npz"
    np.savez(path, **bank)
    recipe = DeblurRecipe(kernel_bank=str(path), shake_probability=1.0)
    params = sample_params(recipe, np.random.default_rng(0), 64, 64)
    assert params["kernel_info"]["family"] == "shake" and params["kernel"].shape[0] in (13, 15)
    assert any(np.array_equal(params["kernel"], k) for s in (13, 15) for k in bank[f"size_{s}"])


@pytest.mark.parametrize("recipe", [DeblurRecipe(), RestoreRecipe(motion_probability=0.5, grayscale_probability=0.5)])
def test_batch_sampler_draws_every_family_within_ranges(recipe):
    from facedeblur.degrade.recipes import sample_params_batch

    params = sample_params_batch(recipe, np.random.default_rng(0), 200, 128, 128)
    families = {p["kernel_info"]["family"] for p in params}
    assert families == ({"gaussian", "shake"} if recipe.name == "deblur" else {"gaussian", "motion"})
    for p in params:
        k = p["kernel"]
        assert k.ndim == 2 and k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-5
        r, c = K.kernel_center_of_mass(k)
        assert abs(r - (k.shape[0] - 1) / 2) <= 0.5 and abs(c - (k.shape[0] - 1) / 2) <= 0.5
        assert 0 <= p["noise_sigma"] * 255 <= recipe.noise_levels[1] + 1e-9
    if recipe.name == "deblur":
        sizes = {p["kernel"].shape[0] for p in params if p["kernel_info"]["family"] == "shake"}
        assert sizes <= set(range(7, 28, 2)) and len(sizes) > 5
        share = np.mean([p["jpeg_quality"] is not None for p in params])
        assert 0.2 < share < 0.4
    else:
        assert 0.35 < np.mean([p["grayscale"] for p in params]) < 0.65
        assert all(0.8 <= p["scale"] <= 8 for p in params)
