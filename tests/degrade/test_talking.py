import json

import numpy as np
import pytest
import torch

from facedeblur.degrade.recipes import (
    PhotoRecipe,
    apply_params_numpy,
    apply_params_torch,
    load_recipe,
    params_to_json,
    sample_params_batch,
)
from facedeblur.degrade.talking import (
    check_talking,
    sample_talking,
    talking_displacements,
    talking_patterns,
    talking_profiles,
)
from facedeblur.degrade.warps import average_warped_numpy, average_warped_torch, sample_motion_field

STILL = np.zeros((2, 2, 4, 4), np.float32)


def face_like(size=128, seed=0):
    """Stripes and noise everywhere, so any motion anywhere shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.5 + 0.25 * np.sin(2 * np.pi * (9 * y + 3 * x))[..., None] * rng.uniform(0.5, 1, 3)
    return np.clip(img + 0.08 * rng.standard_normal((size, size, 3)), 0, 1).astype(np.float32)


def to_batch(images):
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def talking(seed=0, size=128, **kw):
    return sample_talking(np.random.default_rng(seed), size, size, **kw)


def test_the_mouth_ghosts_while_forehead_and_sides_stay_sharp():
    face = face_like()
    for seed in range(4):
        out = average_warped_numpy(face, STILL, 9, talking(seed, amplitude=(6.0, 6.0)))
        change = np.abs(out - face).mean(axis=2)
        mouth = change[84:112, 44:84].mean()  # lips and upper chin on an aligned 128 px face
        assert mouth > 0.03
        assert change[:30].mean() < 0.02 * mouth  # forehead and eyes, no blink drawn
        assert change[:60, :8].mean() < 0.02 * mouth and change[:60, -8:].mean() < 0.02 * mouth  # background
        assert change[:, :8].mean() < 0.2 * mouth and change[:, -8:].mean() < 0.2 * mouth  # far end of the jaw


def test_middle_frame_is_unmoved_and_profiles_are_normalised():
    for seed in range(10):
        t = talking(seed, blink_probability=1.0)
        d = talking_displacements(t, 128, 128, 11)
        assert np.abs(d[5]).max() == 0.0  # t = 0: the sharp face, the ground truth
        profiles = talking_profiles(t, np.linspace(-0.5, 0.5, 401))
        for p in profiles.values():
            assert p[200] == 0.0 and abs(np.abs(p).max() - 1.0) < 0.02
        # the amplitude is the largest displacement, over the window, of the lower lip / chin
        dense = talking_displacements(t, 128, 128, 201)
        assert np.abs(dense).max() <= t["amplitude"] + t["blink_amplitude"] + 1e-3
    # one frame: nothing moves; a single-instant average is the sharp face
    face = face_like(64)
    assert np.abs(average_warped_numpy(face, STILL, 1, talking(0, 64)) - face).max() < 1e-4


def test_the_mouth_can_open_and_close_within_the_window():
    # a non-monotonic profile: several cycles change sign along the window, unlike t * v + t^2 * a
    t = talking(3, cycles=(1.5, 1.5))
    p = talking_profiles(t, np.linspace(-0.5, 0.5, 201))["mouth"]
    assert (np.diff(np.sign(np.diff(p))) != 0).sum() >= 2  # at least two turning points


def test_patterns_lower_lip_and_chin_move_more_than_upper_lip_and_nose():
    t = {**talking(1), "cx": 62.6, "cy": 90.9, "upper_share": 0.2, "spread": 0.0}
    dy = talking_patterns(t, 128, 128)["mouth"][1]
    assert abs(dy[100, 63]) > 0.95 and abs(dy[120, 63]) > 0.9  # lower lip, chin
    assert 0.05 < -dy[85, 63] < 0.3  # upper lip: a little, the other way
    assert abs(dy[70, 63]) < 0.05 and abs(dy[100, 10]) < 0.2  # nose, cheek far out


def test_blink_moves_the_eyelids_only_when_drawn():
    face = face_like()
    t = talking(5, blink_probability=1.0, blink_amplitude=(3.0, 3.0))
    eyes = talking_patterns(t, 128, 128)["eyes"]
    assert eyes[1, 37, 37] < -0.8 and eyes[1, 36, 88] < -0.8  # both upper lids, moving down
    assert np.abs(eyes[:, 70:]).max() < 0.01 and np.abs(eyes[:, :, 60:66]).max() < 0.2
    no_mouth = {**t, "amplitude": 0.0}
    change = np.abs(average_warped_numpy(face, STILL, 9, no_mouth) - face).mean(axis=2)
    assert change[30:45, 25:50].mean() > 20 * change[85:120].mean()
    assert "blink_amplitude" not in talking(5, blink_probability=0.0)


def test_seeds_reproduce_and_draw_a_fixed_number_of_numbers():
    assert talking(7, blink_probability=0.5) == talking(7, blink_probability=0.5)
    a, b = np.random.default_rng(0), np.random.default_rng(0)
    sample_talking(a, 128, 128, blink_probability=0.0)
    sample_talking(b, 128, 128, blink_probability=1.0)
    assert a.random() == b.random()
    recipe = PhotoRecipe(shake_probability=0.2, frames_probability=0.6, talking_probability=0.5)
    p = sample_params_batch(recipe, np.random.default_rng(4), 12, 128, 128)
    q = sample_params_batch(recipe, np.random.default_rng(4), 12, 128, 128)
    assert json.dumps([params_to_json(x) for x in p]) == json.dumps([params_to_json(x) for x in q])


def test_numpy_and_torch_agree_with_talking_and_head_motion():
    faces = [face_like(128, seed=s) for s in range(4)]
    fields = [sample_motion_field(np.random.default_rng(s), 128, 128, 3.0) for s in range(4)]
    motions = [talking(s, blink_probability=0.5) for s in range(3)] + [None]
    counts = [5, 9, 13, 7]
    np_out = np.stack([average_warped_numpy(*a) for a in zip(faces, fields, counts, motions, strict=True)])
    t_out = average_warped_torch(to_batch(faces), fields, counts, motions).permute(0, 2, 3, 1).numpy()
    assert np.sqrt(np.mean((np_out - t_out) ** 2)) * 255 < 0.5
    assert np.abs(np_out[:3] - np.stack(faces[:3])).mean() > 0.01
    with pytest.raises(ValueError, match="talking motions"):
        average_warped_torch(to_batch(faces), fields, counts, motions[:2])


def test_photo_recipe_talking_family_json_and_both_paths():
    recipe = PhotoRecipe(
        shake_probability=0.0, defocus_probability=0.0, no_blur_probability=0.0, frames_probability=1.0,
        talking_probability=1.0, talking_span=(1.0, 2.0), talking_blink_probability=0.5,
    )  # fmt: skip
    params = sample_params_batch(recipe, np.random.default_rng(2), 6, 128, 128)
    for p in params:
        info = p["kernel_info"]
        assert info["family"] == "frames" and 1.0 <= info["span"] <= 2.0
        assert 1.0 <= info["talking"]["amplitude"] <= 8.0
        record = json.loads(json.dumps(params_to_json(p)))  # JSON-storable as it is
        assert record["kernel_info"]["talking"] == info["talking"]
    quiet = [{**p, "noise_sigma": 0.0, "jpeg_quality": None, "scale": 1.0} for p in params]
    faces = [face_like(128, seed=s) for s in range(6)]
    np_out = np.stack([apply_params_numpy(f, p, np.random.default_rng(0)) for f, p in zip(faces, quiet, strict=True)])
    t_out = apply_params_torch(to_batch(faces), quiet).permute(0, 2, 3, 1).numpy()
    assert np.sqrt(np.mean((np_out - t_out) ** 2)) * 255 < 0.5
    # a stored pair's JSON reproduces the same average
    stored = json.loads(json.dumps(params_to_json(quiet[0])))
    again = {**quiet[0], "kernel_info": {**stored["kernel_info"], "field": np.float32(stored["kernel_info"]["field"])}}
    assert np.abs(apply_params_numpy(faces[0], again, np.random.default_rng(0)) - np_out[0]).max() < 2e-3


def test_talking_off_leaves_seeded_draws_unchanged():
    base = PhotoRecipe(shake_probability=0.3, frames_probability=0.4)
    unused = PhotoRecipe(shake_probability=0.3, frames_probability=0.4, talking_amplitude=(2.0, 3.0))
    a = sample_params_batch(base, np.random.default_rng(9), 16, 64, 64)
    b = sample_params_batch(unused, np.random.default_rng(9), 16, 64, 64)
    assert json.dumps([params_to_json(x) for x in a]) == json.dumps([params_to_json(x) for x in b])
    assert not any("talking" in x["kernel_info"] for x in a)
    assert load_recipe("photo").talking_probability == 0.0


def test_bad_options_say_what_was_expected():
    with pytest.raises(ValueError, match="talking_probability must be a probability"):
        PhotoRecipe(talking_probability=1.5)
    with pytest.raises(ValueError, match="talking_blink_probability must be a probability"):
        PhotoRecipe(talking_blink_probability=-0.1)
    with pytest.raises(ValueError, match=r"talking_amplitude: range \(8.0, 2.0\) has min > max"):
        PhotoRecipe(talking_amplitude=(8.0, 2.0))
    with pytest.raises(ValueError, match=r"talking_cycles: range .* must lie within \[0, 8\]"):
        PhotoRecipe(talking_cycles=(0.5, 20.0))
    with pytest.raises(ValueError, match="amplitude must be a range"):
        sample_talking(np.random.default_rng(0), 64, 64, amplitude=(-1.0, 2.0))
    with pytest.raises(ValueError, match="blink_probability must be a probability"):
        sample_talking(np.random.default_rng(0), 64, 64, blink_probability=2.0)
    with pytest.raises(ValueError, match=r"missing keys \['cycles'"):
        check_talking({k: v for k, v in talking(0).items() if k != "cycles"})
    with pytest.raises(ValueError, match="expected finite numbers"):
        check_talking({**talking(0), "phase": float("nan")})
    with pytest.raises(ValueError, match=r"expected \['jaw_sigma'\] > 0"):
        check_talking({**talking(0), "jaw_sigma": 0.0})
    with pytest.raises(ValueError, match="talking motion dict"):
        talking_displacements([1, 2], 8, 8, 3)
