import json

import numpy as np
import pytest
import torch

from facedeblur.degrade.frames import linear_to_srgb, srgb_to_linear
from facedeblur.degrade.recipes import (
    PhotoRecipe,
    apply_params_numpy,
    apply_params_torch,
    degrade_torch,
    params_to_json,
    sample_params_batch,
)
from facedeblur.degrade.warps import average_warped_numpy, average_warped_torch, dense_field, sample_motion_field
from facedeblur.train.tasks.restorer import kernel_targets


def textured(size=48, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.5 + 0.3 * np.sin(2 * np.pi * (5 * x + 2 * y))[..., None] * rng.uniform(0.5, 1, 3)
    return np.clip(img + 0.05 * rng.standard_normal((size, size, 3)), 0, 1).astype(np.float32)


def translation(dx, dy=0.0, grid=4):
    field = np.zeros((2, 2, grid, grid), np.float32)
    field[0, 0], field[0, 1] = dx, dy
    return field


def to_batch(images):
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def test_no_motion_or_one_frame_is_the_sharp_face():
    face = textured()
    assert np.abs(average_warped_numpy(face, np.zeros((2, 2, 4, 4), np.float32), 9) - face).max() < 1e-4
    assert np.abs(average_warped_numpy(face, translation(6.0), 1) - face).max() < 1e-4
    out = average_warped_torch(to_batch([face]), [translation(6.0)], [1])[0].permute(1, 2, 0).numpy()
    assert np.abs(out - face).max() < 1e-4


def test_a_translation_is_the_average_of_shifted_frames_in_linear_light():
    face = textured(seed=1)
    out = average_warped_numpy(face, translation(4.0), 5)  # instants -1/2..1/2: shifts of -2..2 px
    shifted = [np.roll(srgb_to_linear(face), -s, axis=1) for s in (-2, -1, 0, 1, 2)]
    expected = linear_to_srgb(np.mean(shifted, axis=0))
    inner = (slice(None), slice(4, -4))
    assert np.abs(out[inner] - expected[inner]).max() < 1e-4


def test_blur_grows_with_the_span_and_varies_across_the_face():
    face = textured(64, seed=2)
    errors = []
    for span in (1.0, 4.0, 12.0):
        field = sample_motion_field(np.random.default_rng(3), 64, 64, span)
        errors.append(np.abs(average_warped_numpy(face, field, 9) - face).mean())
    assert errors[0] < errors[1] < errors[2]
    field = np.zeros((2, 2, 4, 4), np.float32)
    field[0, 0, :, 0] = 8.0  # only the left edge moves
    out = average_warped_numpy(face, field, 7)
    left, right = np.abs(out - face)[:, :8].mean(), np.abs(out - face)[:, -8:].mean()
    assert left > 5 * right


def test_sampled_fields_reach_the_span_and_interpolate_exactly():
    field = sample_motion_field(np.random.default_rng(5), 128, 128, span=6.0)
    assert field.shape == (2, 2, 4, 4) and field.dtype == np.float32
    assert abs(np.abs(field[0]).max() - 6.0) < 0.5 * 6.0  # rigid + local parts normalised to the span
    assert np.abs(field[1]).max() < np.abs(field[0]).max()
    dense = dense_field(field, 128, 128)
    assert np.allclose(dense[..., 0, 0], field[..., 0, 0]) and np.allclose(dense[..., -1, -1], field[..., -1, -1])


def test_numpy_and_torch_agree():
    faces = [textured(48, seed=s) for s in range(3)]
    fields = [sample_motion_field(np.random.default_rng(s), 48, 48, 6.0) for s in range(3)]
    counts = [5, 9, 13]
    np_out = np.stack([average_warped_numpy(f, w, n) for f, w, n in zip(faces, fields, counts, strict=True)])
    t_out = average_warped_torch(to_batch(faces), fields, counts).permute(0, 2, 3, 1).numpy()
    assert np.sqrt(np.mean((np_out - t_out) ** 2)) * 255 < 0.5


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="odd number of frames"):
        average_warped_numpy(textured(), translation(1.0), 4)
    with pytest.raises(ValueError, match=r"\(2, 2, G, G\)"):
        average_warped_numpy(textured(), np.zeros((2, 4, 4), np.float32), 5)
    with pytest.raises(ValueError, match="span"):
        sample_motion_field(np.random.default_rng(0), 32, 32, -1.0)
    with pytest.raises(ValueError, match="frames_probability"):
        PhotoRecipe(shake_probability=0.6, frames_probability=0.5)
    with pytest.raises(ValueError, match="odd"):
        PhotoRecipe(frames_count=(4, 8))


def test_photo_recipe_frames_family():
    recipe = PhotoRecipe(shake_probability=0.0, defocus_probability=0.0, no_blur_probability=0.0, frames_probability=1)
    params = sample_params_batch(recipe, np.random.default_rng(0), 6, 48, 48)
    assert {p["kernel_info"]["family"] for p in params} == {"frames"}
    for p in params:
        assert p["kernel"] is None and p["kernel_info"]["frames"] % 2 == 1 and 5 <= p["kernel_info"]["frames"] <= 13
        assert 2.0 <= p["kernel_info"]["span"] <= 16.0
        record = json.loads(json.dumps(params_to_json(p)))
        assert np.asarray(record["kernel_info"]["field"]).shape == (2, 2, 4, 4)
    # the same parameters give the same result in both implementations (no noise, no JPEG, no scaling)
    quiet = [{**p, "noise_sigma": 0.0, "jpeg_quality": None, "scale": 1.0} for p in params]
    faces = [textured(48, seed=s) for s in range(6)]
    np_out = np.stack([apply_params_numpy(f, p, np.random.default_rng(0)) for f, p in zip(faces, quiet, strict=True)])
    t_out = apply_params_torch(to_batch(faces), quiet).permute(0, 2, 3, 1).numpy()
    assert np.sqrt(np.mean((np_out - t_out) ** 2)) * 255 < 0.5
    assert np.abs(np_out - np.stack(faces)).mean() > 0.005
    # a frame average has no single-kernel target for the kernel estimator
    _, mask = kernel_targets(params, 33)
    assert not mask.any()


def test_frames_off_leaves_seeded_draws_unchanged():
    a = sample_params_batch(PhotoRecipe(), np.random.default_rng(7), 16, 64, 64)
    unused = PhotoRecipe(frames_count=(7, 9), frames_span=(2.0, 3.0))
    b = sample_params_batch(unused, np.random.default_rng(7), 16, 64, 64)
    for p, q in zip(a, b, strict=True):
        assert p["kernel_info"] == q["kernel_info"] or np.array_equal(p["kernel"], q["kernel"])
        assert p["noise_sigma"] == q["noise_sigma"] and p["scale"] == q["scale"]


def test_mixed_batch_through_degrade_torch():
    recipe = PhotoRecipe(shake_probability=0.3, frames_probability=0.4)
    batch = to_batch([textured(48, seed=s) for s in range(8)])
    before = batch.clone()
    lq, params = degrade_torch(batch, recipe, torch.Generator().manual_seed(1))
    assert torch.equal(batch, before)  # the sharp batch is not written in place
    assert lq.shape == batch.shape and torch.isfinite(lq).all()
    assert "frames" in {p["kernel_info"]["family"] for p in params}
