"""The threaded stages, face following, temporal smoothing and chunk planning of the video path."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from facedeblur.video import Stage, plan_chunks, run_stages
from facedeblur.video.temporal import CHANGE_SCALE, ChangeSmoother, FaceMotion, dense_flow, warp
from facedeblur.video.track import FaceFollower


def test_stages_keep_order_batch_what_waits_and_bound_memory():
    live = {"now": 0, "most": 0}
    lock = threading.Lock()

    def source():
        for i in range(200):
            with lock:
                live["now"] += 1
                live["most"] = max(live["most"], live["now"])
            yield i

    def slow_sink(item):
        with lock:
            live["now"] -= 1
        out.append(item)

    out: list[int] = []
    sizes: list[int] = []

    def batch(items):
        sizes.append(len(items))
        return [x * 10 for x in items]

    stats = run_stages(source(), [Stage("a", lambda x: x + 1), Stage("b", batch, batch=8)], slow_sink, depth=4)
    assert out == [(i + 1) * 10 for i in range(200)]
    assert max(sizes) <= 8 and sum(sizes) == 200
    # queues, a batch being gathered and its results being handed on, one item in each thread's hands:
    # constant, whatever the length (200 items here)
    assert live["most"] <= 4 * 3 + 2 * 8 + 4
    assert [stats[k].items for k in ("decode", "a", "b", "encode")] == [200] * 4


def test_an_error_in_any_stage_stops_every_thread_and_reaches_the_caller():
    def boom(x):
        if x == 7:
            raise RuntimeError("stage failed at 7")
        return x

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="stage failed at 7"):
        run_stages(iter(range(10_000)), [Stage("boom", boom)], lambda x: None, depth=2)
    assert threading.active_count() == before

    def bad_source():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        run_stages(bad_source(), [], lambda x: None)
    with pytest.raises(ValueError, match="returned 1 items for 2"):
        run_stages(iter(range(2)), [Stage("b", lambda xs: xs[:1], batch=2)], lambda x: None, depth=2)


class _Face:
    def __init__(self, box, landmarks, score=1.0):
        self.box, self.landmarks5, self.score = box, landmarks, score


def _marks(x: float) -> np.ndarray:
    return np.array([[x + 40, 40], [x + 30, 40], [x + 10, 40], [x + 20, 40], [x + 25, 55]], float)


def test_follower_detects_on_key_frames_tracks_between_and_redetects_on_cuts_and_loss():
    calls = {"detect": 0}
    position = {"x": 10.0, "fit_jump": 0.0}

    def detect(rgb):
        calls["detect"] += 1
        x = position["x"]
        return [_Face((x, 20, x + 50, 80), _marks(x))]

    def fit(rgb, box):
        return _marks(position["x"] + position["fit_jump"])

    follower = FaceFollower(detect, fit, fps=25, key_interval=5)
    frame = np.full((100, 120, 3), 90, np.uint8)
    for i in range(10):
        position["x"] = 10.0 + i
        faces = follower.update(frame)
        assert len(faces) == 1 and faces[0].track_id == 0
    assert calls["detect"] == 2  # frames 0 and 5
    follower.update(np.full((100, 120, 3), 250, np.uint8))  # a new shot
    assert follower.stats.cuts == 1 and calls["detect"] == 3
    position["fit_jump"] = 40.0  # the landmarks fly off: the face is lost, the detector runs
    follower.update(np.full((100, 120, 3), 250, np.uint8))
    assert follower.stats.lost == 1 and calls["detect"] == 4
    assert follower.stats.to_dict()["frames"] == 12


def test_flow_warp_moves_an_image_and_smoothing_follows_the_motion():
    rng = np.random.default_rng(1)
    import cv2

    base = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2)
    base = (base - base.min()) / (base.max() - base.min())
    moved = np.roll(base, 3, axis=1)
    flow = dense_flow(base, moved)
    assert np.median(flow[8:-8, 8:-8, 0]) == pytest.approx(-3, abs=0.5)
    assert np.abs(warp(base, flow) - moved)[8:-8, 8:-8].mean() < 0.02
    crop0, crop1 = np.dstack([base] * 3), np.dstack([moved] * 3)
    motion, smoother = FaceMotion(), ChangeSmoother(weight=0.5, of="change", change_scale=None)
    smoother(1, motion(1, crop0), crop0 * 0.1)
    change = smoother(1, motion(1, crop1), crop1 * 0.3)
    # half-way between this frame's change and the previous one *moved with the face*
    assert np.abs(change - crop1 * 0.2)[8:-8, 8:-8].mean() < 0.01
    carried = smoother(1, motion(1, crop1), None)  # the model skipped this frame: carried
    assert np.abs(carried - change)[8:-8, 8:-8].mean() < 0.01
    with pytest.raises(ValueError, match="no change to carry"):
        smoother(2, motion(2, crop0), None)
    with pytest.raises(ValueError, match="weight"):
        ChangeSmoother(weight=1.0)


def test_smoothing_averages_a_wobble_of_the_change_but_keeps_a_new_one():
    import cv2

    rng = np.random.default_rng(4)
    crop = np.dstack([cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2)] * 3)
    sharpening = (crop - cv2.GaussianBlur(crop, (0, 0), 1.5)) * 2
    outs = {}
    for scale in (None, CHANGE_SCALE):
        motion, smoother = FaceMotion(), ChangeSmoother(weight=0.9, of="change", change_scale=scale)
        smoother(1, motion(1, crop), sharpening)
        wobble = sharpening + np.float32(0.5 / 255)  # the model's answer wobbles by half a level
        outs["wobble", scale] = smoother(1, motion(1, crop), wobble) - sharpening
        # the model answers differently (the face's blur changed): three times the sharpening
        outs["new", scale] = smoother(1, motion(1, crop), sharpening * 3)
    # a wobble is averaged away with or without the limit
    assert np.abs(outs["wobble", CHANGE_SCALE]).mean() < 0.25 * 0.5 / 255
    # a new change is mostly averaged away without the limit, mostly kept with it
    unlimited = np.abs(outs["new", None] - sharpening * 3).mean()
    limited = np.abs(outs["new", CHANGE_SCALE] - sharpening * 3).mean()
    assert limited < 0.3 * unlimited
    with pytest.raises(ValueError, match="change_scale"):
        ChangeSmoother(change_scale=0.0)


def test_chunks_are_cut_at_key_frames_near_equal_parts():
    chunks = plan_chunks([0, 30, 60, 90, 120, 150], end=180, chunks=3)
    assert [c.span for c in chunks] == [(0, 60), (60, 120), (120, None)]
    assert [c.span for c in plan_chunks([0], end=100, chunks=4)] == [(0, None)]
    assert [c.span for c in plan_chunks([0, 90], end=100, chunks=2)] == [(0, 90), (90, None)]


def test_smoothing_the_face_averages_the_inputs_own_noise():
    import cv2

    rng = np.random.default_rng(2)
    base = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 3) * 0.5 + 0.25
    noisy = [base + rng.normal(0, 0.004, base.shape).astype(np.float32) for _ in range(6)]
    zero = np.zeros_like(base)
    for of, expect_steadier in (("change", False), ("face", True)):
        motion, smoother = FaceMotion(), ChangeSmoother(weight=0.7, of=of)
        faces = [crop + smoother(0, motion(0, crop), zero, crop) for crop in noisy]
        wobble_in = np.mean([np.abs(b - a).mean() for a, b in zip(noisy[:-1], noisy[1:], strict=True)])
        wobble_out = np.mean([np.abs(b - a).mean() for a, b in zip(faces[:-1], faces[1:], strict=True)])
        assert bool(wobble_out < 0.7 * wobble_in) == expect_steadier


def test_face_smoothing_stops_where_the_face_changes_and_carries_only_the_models_change():
    import cv2

    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 3) * 0.5 + 0.25
    motion, smoother = FaceMotion(), ChangeSmoother(weight=0.9, of="face")
    zero = np.zeros_like(base)
    for _ in range(5):  # a still, noisy face: the noise level is learnt
        crop = base + rng.normal(0, 0.004, base.shape).astype(np.float32)
        smoother(0, motion(0, crop), zero, crop)
    opened = crop.copy()
    opened[20:44, 20:44] += 0.3  # an eye opens: far above the noise
    out = opened + smoother(0, motion(0, opened), zero, opened)
    assert np.abs(out - opened)[24:40, 24:40].max() < 0.03  # not smeared with the closed eye
    # the model skipped the next frame: only its own (zero) change is carried, not the averaging's
    carried = smoother(0, motion(0, opened), None, opened)
    assert np.abs(carried).max() < 0.02


@pytest.mark.parametrize(
    "name",
    [
        "facedeblur.video",
        "facedeblur.video.streams",
        "facedeblur.video.decode",
        "facedeblur.video.encode",
        "facedeblur.video.pipeline",
        "facedeblur.video.transcode",
        "facedeblur.video.chunks",
        "facedeblur.video.track",
        "facedeblur.video.temporal",
        "facedeblur.video.faces",
        "facedeblur.eval.video",
    ],
)
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_drift_reuses_the_motion_measured_from_the_crop_the_model_saw(monkeypatch):
    import cv2

    from facedeblur.video import faces as faces_module
    from facedeblur.video.faces import drift
    from facedeblur.video.temporal import gray

    rng = np.random.default_rng(6)
    seen = np.dstack([cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 2)] * 3)
    current = np.roll(seen, 1, axis=1) + np.float32(0.01)
    motion = FaceMotion()
    seen_luma, current_luma = gray(seen), gray(current)
    assert motion(3, seen, seen_luma).previous is None
    moved = motion(3, current, current_luma)
    assert moved.previous is seen_luma  # the model's crop was the previous frame's
    expected = drift(seen_luma, current_luma)  # flow computed again
    monkeypatch.setattr(faces_module, "dense_flow", lambda *a: pytest.fail("the flow was computed twice"))
    assert drift(seen_luma, current_luma, motion=moved) == expected
    # a crop the model saw earlier than the previous frame: its own flow is needed
    with pytest.raises(pytest.fail.Exception):
        drift(seen_luma.copy(), current_luma, motion=moved)
