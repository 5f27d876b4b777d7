"""Video IO (PyAV), face tracking/smoothing, and restoring a real clip through the CLI."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from _restore_helpers import make_tiny_model
from facedeblur.cli import main
from facedeblur.errors import InputError
from facedeblur.face.tracking import FaceTracker, OneEuroFilter, box_iou
from facedeblur.video import probe_video, read_frames, transcode_video, trim_video, write_video


def _frames(count: int, height: int = 32, width: int = 48) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        np.dstack([(xx * 5 + i * 9) % 256, (yy * 7) % 256, np.full_like(xx, 40 * i % 256)]).astype(np.uint8)
        for i in range(count)
    ]


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".avi", ".mkv"])
def test_write_probe_transcode_round_trip(tmp_path, ext):
    src, dst = tmp_path / f"in{ext}", tmp_path / f"out{ext}"
    frames = _frames(6)
    assert write_video(src, frames, fps=24) == 6
    info = probe_video(src)
    assert (info.width, info.height, info.frames, info.has_audio) == (48, 32, 6, False)
    assert info.fps == pytest.approx(24)
    seen = []
    out = transcode_video(src, dst, lambda rgb, i: seen.append(i) or 255 - rgb)
    assert seen == list(range(6)) and out.frames == 6
    decoded = list(read_frames(dst))
    assert len(decoded) == 6 and probe_video(dst).fps == pytest.approx(24)
    original = list(read_frames(src))
    error = np.mean([np.abs(d.astype(float) - (255 - o)).mean() for d, o in zip(decoded, original, strict=True)])
    assert error < 12  # lossy codecs, but the frames are the processed ones, in order
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_odd_sizes_are_kept(tmp_path):
    write_video(tmp_path / "odd.mp4", _frames(3, 33, 47), fps=25)
    out = transcode_video(tmp_path / "odd.mp4", tmp_path / "o.mp4", lambda rgb, i: rgb)
    assert (out.width, out.height, probe_video(tmp_path / "o.mp4").frames) == (47, 33, 3)


def test_bad_videos_raise_input_errors_naming_the_file(tmp_path):
    write_video(tmp_path / "empty.avi", [], fps=25)
    with pytest.raises(InputError, match=r"empty.avi: the video has no frames"):
        probe_video(tmp_path / "empty.avi")
    with pytest.raises(InputError, match=r"empty.avi: the video has no frames"):
        transcode_video(tmp_path / "empty.avi", tmp_path / "out.avi", lambda rgb, i: rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.avi"]  # no partial output
    write_video(tmp_path / "empty.mp4", [], fps=25)
    with pytest.raises(InputError, match="empty.mp4"):
        probe_video(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(InputError, match="text.mp4: not a readable video"):
        list(read_frames(tmp_path / "text.mp4"))
    with pytest.raises(InputError, match="no such file"):
        probe_video(tmp_path / "missing.mkv")


def test_real_clip_keeps_frame_count_size_fps_and_audio(tmp_path, videos_dir):
    import av

    clip = tmp_path / "in" / "clip.mp4"
    clip.parent.mkdir()
    before = trim_video(videos_dir / "d19.mp4", clip, seconds=1.0)
    assert before.has_audio and before.frames >= 25
    model = make_tiny_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    assert main(["restore", str(clip), "-o", str(out), "--model", str(model), "--quiet"]) == 0
    after = probe_video(out / "clip.mp4")
    assert (after.width, after.height, after.frames) == (before.width, before.height, before.frames)
    assert after.fps == pytest.approx(before.fps) and after.has_audio

    def audio_packets(path):
        with av.open(str(path)) as container:
            return sum(p.size > 0 for p in container.demux(container.streams.audio[0]))

    assert audio_packets(out / "clip.mp4") == audio_packets(clip)
    record = json.loads((out / "restore-report.json").read_text())["files"][0]
    assert record["kind"] == "video" and record["frames"] == before.frames
    assert record["frames_with_faces"] == before.frames  # tracked in every frame of a talking head
    first_in, first_out = next(read_frames(clip)), next(read_frames(out / "clip.mp4"))
    changed = np.abs(first_in.astype(int) - first_out.astype(int)).max(axis=2) > 12
    assert 0 < changed.mean() < 0.6  # the face region changed, the background did not


def _noisy_track(rng, frames=90, fps=30.0, noise=1.5):
    base = np.array([[130, 100], [110, 102], [60, 100], [80, 102], [95, 140]], float)
    truth = [base + [i * 0.5, 0] for i in range(frames)]  # slow pan, 15 px/s
    noisy = [t + rng.normal(0, noise, t.shape) for t in truth]
    boxes = [np.array([m[:, 0].min() - 40, m[:, 1].min() - 50, m[:, 0].max() + 40, m[:, 1].max() + 60]) for m in noisy]
    return truth, noisy, boxes


def test_tracker_smooths_jitter_without_drifting():
    rng = np.random.default_rng(0)
    truth, noisy, boxes = _noisy_track(rng)
    tracker = FaceTracker(fps=30)
    smoothed = [tracker.update([b], [m], [1.0])[0] for b, m in zip(boxes, noisy, strict=True)]
    assert {s.track_id for s in smoothed} == {0}
    raw_jitter = np.abs(np.diff(np.stack(noisy), 2, axis=0)).mean()
    smooth_jitter = np.abs(np.diff(np.stack([s.landmarks5 for s in smoothed]), 2, axis=0)).mean()
    assert smooth_jitter < raw_jitter / 3
    raw_error = np.abs(np.stack(noisy[30:]) - np.stack(truth[30:])).mean()
    smooth_error = np.abs(np.stack([s.landmarks5 for s in smoothed[30:]]) - np.stack(truth[30:])).mean()
    assert smooth_error < raw_error  # closer to the true motion than the raw detections


def test_tracker_bridges_missed_detections_and_separates_faces():
    tracker = FaceTracker(fps=25, max_missed=2)
    a_box, b_box = np.array([0, 0, 50, 50.0]), np.array([200, 0, 250, 50.0])
    marks_a = np.array([[10, 10], [20, 10], [40, 10], [30, 10], [25, 30]], float)
    marks_b = marks_a + [200, 0]
    first = tracker.update([a_box, b_box], [marks_a, marks_b], [1.0, 0.5])
    assert [f.track_id for f in first] == [0, 1]
    held = tracker.update([b_box + 2], [marks_b + 2], [0.5])  # face A missed once: kept, B matched
    assert sorted((f.track_id, f.missed) for f in held) == [(0, 1), (1, 0)]
    assert np.allclose(held[1].landmarks5, marks_a) or np.allclose(held[0].landmarks5, marks_a)
    tracker.update([b_box], [marks_b], [0.5])
    gone = tracker.update([b_box], [marks_b], [0.5])  # missed three times > max_missed
    assert [f.track_id for f in gone] == [1]
    new = tracker.update([b_box, a_box], [marks_b, marks_a], [0.5, 1.0])
    assert sorted(f.track_id for f in new) == [1, 2]  # A comes back as a new track


def test_box_iou_and_one_euro_basics():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    assert np.allclose(iou, [[1.0, 1 / 3, 0.0]])
    still = OneEuroFilter(np.zeros(3), freq=30)
    assert np.allclose(still(np.zeros(3)), 0)
    steady = [still(np.full(3, 10.0)) for _ in range(200)]
    assert np.allclose(steady[-1], 10.0, atol=1e-3)  # converges, no offset
    with pytest.raises(ValueError):
        FaceTracker(fps=0)
    with pytest.raises(ValueError, match="boxes"):
        FaceTracker().update([np.zeros(4)], [], [])


def test_display_rotation_is_applied_for_processing_and_kept(tmp_path):
    import av

    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:4, :, 0] = 255  # red along the stored top edge
    with av.open(str(tmp_path / "phone.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(-90)  # shown turned a quarter clockwise, like a portrait phone clip
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    seen = []
    transcode_video(tmp_path / "phone.mp4", tmp_path / "out.mp4", lambda rgb, i: seen.append(rgb.copy()) or rgb)
    assert seen[0].shape == (64, 32, 3) and seen[0][:, -4:, 0].mean() > 200  # upright: top edge now on the right
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
        assert (frame.rotation, frame.width, frame.height) == (-90, 64, 32)
        assert frame.to_ndarray(format="rgb24")[:4, :, 0].mean() > 200


def test_video_writers_leave_nothing_behind_when_they_fail_and_give_the_usual_mode(tmp_path):
    def frames_then_failure():
        yield np.zeros((16, 16, 3), np.uint8)
        raise RuntimeError("the pipeline broke")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="the pipeline broke"):
        write_video(out / "a.mp4", frames_then_failure())
    assert sorted(p.name for p in out.iterdir()) == []  # no half-written file, no hidden temporary

    src = out / "in.mkv"
    assert write_video(src, [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(3)]) == 3

    def broken(rgb, i):
        if i == 1:
            raise RuntimeError("restore failed")
        return rgb

    with pytest.raises(RuntimeError, match="restore failed"):
        transcode_video(src, out / "b.mp4", broken)
    assert sorted(p.name for p in out.iterdir()) == ["in.mkv"]

    transcode_video(src, out / "b.mp4", lambda rgb, i: rgb)
    umask = os.umask(0)
    os.umask(umask)
    assert sorted(p.name for p in out.iterdir()) == ["b.mp4", "in.mkv"]
    assert {stat.S_IMODE((out / name).stat().st_mode) for name in ("in.mkv", "b.mp4")} == {0o666 & ~umask}
