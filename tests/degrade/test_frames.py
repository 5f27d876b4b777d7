import numpy as np
import pytest

from facedeblur.degrade.frames import (
    WindowCriteria,
    average_frames,
    frame_windows,
    linear_to_srgb,
    pair_motion,
    psnr,
    srgb_to_linear,
)


def moving_pattern(n=15, size=64, speed=2.0, seed=0):
    """A textured square sliding right by ``speed`` px per frame over a static textured background."""
    rng = np.random.default_rng(seed)
    background = (rng.random((size // 8, size // 8, 3)) * 0.5 + 0.25).repeat(8, 0).repeat(8, 1)
    tile = (rng.random((6, 6, 3)) > 0.5).repeat(4, 0).repeat(4, 1).astype(np.float32)
    layer = np.zeros((size, size, 3), np.float32)
    mask = np.zeros((size, size, 1), bool)
    layer[20:44, 8:32], mask[20:44, 8:32] = tile, True
    frames = []
    for i in range(n):
        shift = int(round(speed * i))  # wraps around at the right edge
        f = np.where(np.roll(mask, shift, axis=1), np.roll(layer, shift, axis=1), background)
        frames.append((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8))
    return frames


def test_srgb_round_trip():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.214, abs=1e-3)


def test_average_middle_frame_and_linear_light():
    frames = [np.full((4, 4, 3), v, np.float32) for v in (0.0, 0.5, 1.0)]
    blurred, sharp = average_frames(frames)
    assert np.allclose(blurred, 0.5) and np.allclose(sharp, 0.5)
    linear, _ = average_frames(frames, linear=True)
    # averaging light: mean of linear(0), linear(.5)=.214, linear(1) = .405 -> sRGB .67 (brighter than .5)
    assert np.allclose(linear, linear_to_srgb(np.float32((0 + 0.21404 + 1) / 3)), atol=1e-3)
    with pytest.raises(ValueError, match="odd"):
        average_frames(frames[:2])


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_measures_the_pattern_speed(method):
    frames = moving_pattern(n=6, speed=3.0)
    motion = pair_motion(frames, method, percentile=95)
    assert np.all(np.abs(motion - 3.0) < 1.0), motion
    still = pair_motion([frames[0]] * 4, method)
    assert np.all(still < 0.2)


def test_windows_accept_motion_and_reject_still_and_violent():
    criteria = WindowCriteria(frames=(5,), stride=3, min_motion=0.5, psnr_range=(10.0, 40.0), percentile=95)
    moving = list(frame_windows(moving_pattern(n=12, speed=2.0), criteria))
    assert moving and all(w.accepted for w in moving)
    w = moving[0]
    assert w.blurred.shape == (64, 64, 3) and w.sharp.shape == (64, 64, 3)
    assert 10 <= w.psnr <= 40 and psnr(w.blurred, w.sharp) == pytest.approx(w.psnr)
    # the middle frame is the ground truth
    np.testing.assert_allclose(w.sharp, moving_pattern(n=12, speed=2.0)[w.start + 2] / 255.0, atol=1e-6)

    still = list(frame_windows(moving_pattern(n=12, speed=0.0), criteria))
    assert still and all(w.reason == "no motion" for w in still)
    strict = WindowCriteria(frames=(5,), stride=3, min_motion=0.5, psnr_range=(35.0, 60.0), percentile=95)
    violent = list(frame_windows(moving_pattern(n=12, speed=4.0), strict))
    assert all(w.reason == "too much motion" for w in violent)
    lenient = WindowCriteria(frames=(5,), stride=3, min_motion=0.5, psnr_range=(0.0, 12.0), percentile=95)
    assert all(w.reason == "too little blur" for w in frame_windows(moving_pattern(n=12, speed=2.0), lenient))


def test_window_lengths_are_seeded_and_crop_is_applied():
    frames = moving_pattern(n=30, speed=2.0)
    criteria = WindowCriteria(frames=(3, 5, 7), stride=4, min_motion=0.0, psnr_range=(0, 100), seed=1)
    a = [(w.start, w.frames) for w in frame_windows(frames, criteria)]
    b = [(w.start, w.frames) for w in frame_windows(frames, criteria)]
    assert a == b and len({n for _, n in a}) > 1
    boxed = list(frame_windows(frames, criteria, crop=lambda f: (8, 16, 56, 48)))
    assert boxed[0].blurred.shape == (32, 48, 3) and boxed[0].info()["box"] == [8, 16, 56, 48]
    none = list(frame_windows(frames, criteria, crop=lambda f: None))
    assert all(w.reason == "no face" for w in none)


def test_criteria_validation():
    with pytest.raises(ValueError, match="odd"):
        WindowCriteria(frames=(4,))
    with pytest.raises(ValueError, match="psnr_range"):
        WindowCriteria(psnr_range=(40, 20))


def test_real_clip(videos_dir):
    from facedeblur.video import read_frames

    frames = []
    for frame in read_frames(videos_dir / "d12.mp4"):
        frames.append(frame)
        if len(frames) == 24:
            break
    criteria = WindowCriteria(frames=(7,), stride=8, min_motion=1.0, psnr_range=(15.0, 40.0))
    windows = list(frame_windows(frames, criteria))
    assert len(windows) == 3
    accepted = [w for w in windows if w.accepted]
    assert accepted, [w.info() for w in windows]
    for w in accepted:
        assert w.motion >= 1.0
        assert psnr(w.blurred, w.sharp) < 40
        # averaging real motion blurs: less high-frequency energy than the sharp middle frame
        assert np.abs(np.diff(w.blurred, axis=1)).mean() < np.abs(np.diff(w.sharp, axis=1)).mean()
