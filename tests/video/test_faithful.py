"""A rewritten video keeps everything but the pixels: timestamps, rotation, streams, tags, mode, quality."""

from __future__ import annotations

import os
import stat
from fractions import Fraction

import numpy as np
import pytest

from _video_helpers import make_clip, packets_of, stream_summary, video_pts_seconds
from facedeblur.errors import InputError
from facedeblur.video import EncodeOptions, probe_video, read_frames, transcode_video


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov"])
def test_variable_frame_rate_timestamps_are_passed_through(tmp_path, ext):
    src = tmp_path / f"vfr{ext}"
    pts = make_clip(src)
    out = transcode_video(src, tmp_path / f"out{ext}", lambda rgb, i: rgb)
    assert out.frames == len(pts)
    assert video_pts_seconds(tmp_path / f"out{ext}") == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_audio_and_subtitles_are_copied_not_re_encoded_and_tags_kept(tmp_path):
    src = tmp_path / "talk.mkv"
    make_clip(src, audio=True, subtitles=True, tags={"title": "Interview", "comment": "take 2"})
    result = transcode_video(src, tmp_path / "out.mkv", lambda rgb, i: 255 - rgb)
    assert result.warnings == [] and result.info.streams == 2 and result.has_audio
    assert stream_summary(tmp_path / "out.mkv") == stream_summary(src)
    assert ("subtitle", "srt", "fra") in stream_summary(tmp_path / "out.mkv")
    for kind in ("audio", "subtitle"):
        assert packets_of(tmp_path / "out.mkv", kind) == packets_of(src, kind)  # bit for bit: a remux
    import av

    def tags(path):
        with av.open(str(path)) as container:
            return {k.lower(): v for k, v in container.metadata.items() if k.lower() != "encoder"}

    assert tags(tmp_path / "out.mkv") == tags(src) == {"title": "Interview", "comment": "take 2"}


def test_a_stream_the_container_cannot_hold_is_reported_not_dropped_silently(tmp_path):
    src = tmp_path / "talk.mkv"
    make_clip(src, audio=True, subtitles=True)
    result = transcode_video(src, tmp_path / "out.mp4", lambda rgb, i: rgb)
    assert [kind for kind, _, _ in stream_summary(tmp_path / "out.mp4")] == ["video", "audio"]
    assert len(result.warnings) == 1 and "subtitle stream" in result.warnings[0] and ".mkv" in result.warnings[0]


@pytest.mark.parametrize("rotation", [90, 270])
def test_display_rotation_kept_and_frames_processed_upright(tmp_path, rotation):
    import av

    src = tmp_path / "phone.mp4"
    make_clip(src, rotation=rotation, size=(32, 64))
    seen = []
    result = transcode_video(src, tmp_path / "out.mp4", lambda rgb, i: seen.append(rgb.shape) or rgb)
    assert seen[0] == (64, 32, 3) and result.info.rotation == rotation
    assert probe_video(tmp_path / "out.mp4").rotation == rotation
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (64, 32)  # stored as the input stores it
    stored_in, stored_out = next(read_frames(src)), next(read_frames(tmp_path / "out.mp4"))
    assert np.abs(stored_in.astype(int) - stored_out.astype(int)).mean() < 3


def test_outputs_get_the_usual_file_mode(tmp_path):
    src = tmp_path / "in.mp4"
    make_clip(src)
    transcode_video(src, tmp_path / "out.mp4", lambda rgb, i: rgb)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.mp4").stat().st_mode) == 0o666 & ~umask


def test_truncated_and_damaged_inputs_warn_and_keep_what_decodes(tmp_path):
    src = tmp_path / "cut.mp4"
    pts = list(range(0, 40 * 40, 40))  # 40 frames, index first so a cut file still opens
    make_clip(src, pts=pts, faststart=True, size=(96, 128))
    data = src.read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: int(len(data) * 0.6)])
    result = transcode_video(tmp_path / "half.mp4", tmp_path / "out.mp4", lambda rgb, i: rgb)
    assert 0 < result.frames < 40
    assert len(result.warnings) == 1 and "half.mp4" in result.warnings[0]
    assert "truncated" in result.warnings[0] or "ends with an error" in result.warnings[0]
    (tmp_path / "stub.mp4").write_bytes(data[:2000])
    with pytest.raises(InputError, match="stub.mp4"):
        transcode_video(tmp_path / "stub.mp4", tmp_path / "out2.mp4", lambda rgb, i: rgb)
    assert not (tmp_path / "out2.mp4").exists()


@pytest.mark.parametrize("ext", [".mkv", ".mp4", ".mov"])
def test_lossless_codec_keeps_every_pixel(tmp_path, ext):
    src = tmp_path / f"in{ext}"
    make_clip(src, pts=[0, 40, 80, 120])
    seen = []
    result = transcode_video(
        src, tmp_path / f"out{ext}", lambda rgb, i: seen.append(rgb.copy()) or rgb, options=EncodeOptions("lossless")
    )
    assert result.frames == 4
    for before, after in zip(seen, read_frames(tmp_path / f"out{ext}"), strict=True):
        assert np.array_equal(before, after)


def test_h265_and_crf_choose_the_encoder_and_the_quality(tmp_path):
    import av

    src = tmp_path / "in.mp4"
    make_clip(src, size=(96, 128), pts=list(range(0, 400, 40)))
    sizes = {}
    for crf in (10, 30):
        out = tmp_path / f"h265_{crf}.mp4"
        transcode_video(src, out, options=EncodeOptions("h265", crf=crf))
        sizes[crf] = out.stat().st_size
        with av.open(str(out)) as container:
            assert container.streams.video[0].codec_context.name == "hevc"
    assert sizes[10] > sizes[30]
    source = list(read_frames(src))
    error = {}
    for crf in (10, 30):
        decoded = list(read_frames(tmp_path / f"h265_{crf}.mp4"))
        error[crf] = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(decoded, source, strict=True)])
    assert error[10] < 2.5 and error[30] > 1.5 * error[10]
    with pytest.raises(ValueError, match="webm"):
        EncodeOptions("h264").encoder(".webm")
    with pytest.raises(ValueError, match="codec must be one of"):
        EncodeOptions("prores")


def test_stage_rates_and_chunks_of_a_span(tmp_path):
    src = tmp_path / "in.mkv"
    pts = make_clip(src, pts=list(range(0, 1200, 40)), time_base=Fraction(1, 1000))
    result = transcode_video(src, tmp_path / "part.mkv", lambda rgb, i: rgb, span=(400, 800))
    assert result.frames == 10 and set(result.stage_rates()) == {"decode", "process", "encode"}
    assert video_pts_seconds(tmp_path / "part.mkv") == pytest.approx([p / 1000 for p in pts if 400 <= p < 800])
