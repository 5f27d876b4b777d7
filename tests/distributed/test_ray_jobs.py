"""Ray for scale, on a local 2-CPU Ray instance: mining tasks and Ray Data restoration actors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _mining_helpers import make_videos
from _restore_helpers import cached_val_faces, face_photo, make_tiny_model
from facedeblur.cli import main
from facedeblur.data.mining import MiningConfig, mine_videos
from facedeblur.distributed.ray_jobs import mine_videos_with_ray
from facedeblur.images import read_image, write_image

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own settings

TIMING_KEYS = {"seconds", "frames_per_second", "stage_cpu_seconds"}
VIDEO_TIMINGS = {"seconds", "stage_cpu_seconds"}  # of a dataset report's video records


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _files(root):
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_ray_mining_gives_the_same_dataset(tmp_path, utkface_val, local_ray):
    videos = make_videos(tmp_path / "videos", cached_val_faces(utkface_val, 1)[0], frames=10)
    inputs = [videos["moving"], videos["faceless"]]
    config = MiningConfig(size=48, max_frames=10, full_frames=True)
    here = mine_videos(inputs, tmp_path / "here", config, pairs=True, progress=False)
    there = mine_videos_with_ray(inputs, tmp_path / "ray", config, pairs=True, address="local")
    assert there["ray"] == "local" and here["ray"] is None
    records = [[{k: v for k, v in r.items() if k not in VIDEO_TIMINGS} for r in run["files"]] for run in (here, there)]
    assert records[0] == records[1] and [r["input"] for r in there["files"]] == [str(v) for v in inputs]
    videos = {r["name"]: r for r in here["files"]}
    assert videos["moving"]["verdict"] == "accepted" and videos["moving"]["status"] == "ok"
    a, b = _files(tmp_path / "here"), _files(tmp_path / "ray")
    assert set(a) == set(b) and any(name.startswith("moving/crops/") for name in a)
    full = [name for name in a if name.startswith("moving/frames/")]
    assert len(full) == videos["moving"]["accepted_frames"]
    assert read_image(a[full[0]]).shape == (240, 320, 3)
    for name, path in a.items():
        if name.endswith("report.json"):
            left, right = json.loads(path.read_text()), json.loads(b[name].read_text())
            for report in (left, right):
                for key in TIMING_KEYS | {"ray"}:
                    report.pop(key, None)
                if name == "report.json":  # the dataset's: timings in its summary and records
                    for key in TIMING_KEYS:
                        report["summary"].pop(key)
                    report["files"] = [{k: v for k, v in r.items() if k not in VIDEO_TIMINGS} for r in report["files"]]
            assert left == right, name
        else:
            assert path.read_bytes() == b[name].read_bytes(), name


RECORD_TIMINGS = {"seconds", "timings", "frames_per_second"}


def _records(report: dict) -> dict:
    return {r["input"]: {k: v for k, v in r.items() if k not in RECORD_TIMINGS} for r in report["files"]}


@pytest.mark.slow
def test_restore_with_ray_writes_the_same_files_and_records_as_in_process(tmp_path, utkface_val, local_ray, capsys):
    model = make_tiny_model(tmp_path / "tiny.safetensors")
    folder = tmp_path / "photos"
    faces = cached_val_faces(utkface_val, 2)
    write_image(folder / "sub" / "p0.png", face_photo(faces[0], seed=0))
    write_image(folder / "sub" / "p0.jpg", face_photo(faces[1], seed=1))  # same stem: crops must not collide
    (folder / "broken.png").write_bytes(b"not an image")
    runs = {}
    for label, extra in (("here", []), ("ray", ["--ray", "local"])):
        out = tmp_path / label
        args = ["restore", str(folder), "-o", str(out), "--model", str(model), "--compare", "--save-faces", "--quiet"]
        code = main([*args, *extra])
        assert code == 1  # the broken file failed, the others went on
        err = capsys.readouterr().err
        assert "broken.png" in err and "Traceback" not in err
        runs[label] = (out, json.loads((out / "restore-report.json").read_text()))
    (here, here_report), (there, there_report) = runs["here"], runs["ray"]
    assert there_report["summary"]["faces"] == here_report["summary"]["faces"] == 2
    left, right = _records(here_report), _records(there_report)
    assert set(left) == set(right)
    for key in left:  # the same records, paths spelled under each run's own output folder
        assert json.loads(json.dumps(right[key]).replace(str(there), str(here))) == left[key], key
    a, b = _files(here), _files(there)
    assert set(a) == set(b)
    assert {
        "compare/sub/p0.png",
        "compare/sub/p0.jpg",
        "faces/sub/p0_png_face00.png",
        "faces/sub/p0_jpg_face00.png",
    } <= set(a)
    for name in a:
        if name.endswith(".png") or name.endswith(".jpg"):
            diff = np.abs(read_image(a[name]).astype(int) - read_image(b[name]).astype(int)).max()
            assert diff <= 1, name


def test_restore_with_ray_rejects_a_bad_model_before_starting(tmp_path, capsys):
    write_image(tmp_path / "in" / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "nope", "--ray", "local"])
    assert code == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_a_long_video_is_cut_at_key_frames_restored_by_two_actors_and_joined(tmp_path, utkface_val, local_ray):
    from _video_helpers import make_clip, packets_of, video_pts_seconds
    from facedeblur.distributed.ray_jobs import restore_folder_with_ray
    from facedeblur.video import key_frame_times, probe_video, read_frames

    model = make_tiny_model(tmp_path / "tiny.safetensors")
    face = cached_val_faces(utkface_val, 1)[0]
    images = [np.roll(face_photo(face, 160, 160, 110), i // 2, axis=1) for i in range(40)]
    src = tmp_path / "in" / "talk.mp4"
    src.parent.mkdir()
    pts = make_clip(src, images=images, gop=10, audio=True, tags={"title": "long talk"})
    assert len(key_frame_times(src)[0]) == 4
    records = restore_folder_with_ray(
        [src.parent], tmp_path / "out", model, address="local", actors=2, min_chunk_seconds=0.5, device="cpu"
    )
    (record,) = records
    assert record["status"] == "ok" and record["chunks"] == 2 and record["frames"] == 40
    assert record["audio"] and record["frames_with_faces"] == 40
    out = tmp_path / "out" / "talk.mp4"
    assert video_pts_seconds(out) == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    assert probe_video(out).frames == 40 and len(list(read_frames(out))) == 40
    assert packets_of(out, "audio") == packets_of(src, "audio")  # copied, not re-encoded
    keys, _, _ = key_frame_times(out)
    assert keys[0] == 0 and len(keys) >= 2  # each chunk starts with its own key frame
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["talk.mp4"]  # no chunk files left
    before, after = next(read_frames(src)), next(read_frames(out))
    assert np.abs(before.astype(int) - after.astype(int)).max() > 12  # the face was restored


def test_ray_starts_with_a_command_line_that_is_not_utf8(monkeypatch):
    from ray._private import utils

    from facedeblur.distributed.ray_jobs import _utf8_entrypoint

    monkeypatch.setattr(utils, "get_entrypoint_name", lambda: "facedeblur restore caf\udce9.png --ray local")
    original = utils.get_entrypoint_name
    with _utf8_entrypoint():
        assert utils.get_entrypoint_name().encode("utf-8") == b"facedeblur restore caf\\udce9.png --ray local"
    assert utils.get_entrypoint_name is original


def test_a_failed_join_is_one_record_and_its_traceback_shows_only_with_debug(tmp_path, capsys):
    from facedeblur.batch.restore_files import RestoreJob
    from facedeblur.distributed.ray_jobs import join_video_chunks

    job = RestoreJob(str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "video")
    parts = [tmp_path / f".out.chunk{i:03d}.mp4" for i in range(2)]
    for part in parts:
        part.write_bytes(b"not a video")  # the chunks came back unreadable: the join fails
    for debug in (False, True):
        records = [
            {"input": job.input, "status": "ok", "chunk": {"index": i, "part": str(p)}} for i, p in enumerate(parts)
        ]
        record = join_video_chunks(job, records, debug=debug)
        assert record["status"] == "failed" and record["input"] == job.input and record["error"]
        assert ("Traceback" in capsys.readouterr().err) == debug
        assert not any(p.exists() for p in parts)  # the hidden chunk files are removed either way
        for part in parts:
            part.write_bytes(b"not a video")
