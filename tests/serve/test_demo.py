"""The web demo's processing (no browser): photos, videos, messages for bad uploads, the Gradio app, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import canvas
from _restore_helpers import cached_val_faces, face_photo, make_tiny_model
from facedeblur.cli import main
from facedeblur.errors import UserError
from facedeblur.images import read_image, write_image
from facedeblur.serve.backend import DemoBackend, model_choices, preview


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def backend(tiny_model, tmp_path_factory):
    return DemoBackend(model=str(tiny_model), device="cpu", work_dir=tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def face(utkface_val):
    return cached_val_faces(utkface_val, 1)[0]


@pytest.fixture(scope="module")
def uploads(tmp_path_factory, face):
    """A photo with a face, a photo without one, a truncated JPEG and a text file named .png."""
    folder = tmp_path_factory.mktemp("uploads")
    write_image(folder / "portrait.png", face_photo(face, 260, 320, 160))
    write_image(folder / "landscape.png", canvas(200, 300, seed=5))
    write_image(folder / "full.jpg", face_photo(face))
    (folder / "broken.jpg").write_bytes((folder / "full.jpg").read_bytes()[:300])
    (folder / "notes.png").write_text("not an image")
    return folder


def test_model_choices_put_the_extra_model_first(tiny_model):
    choices = model_choices(str(tiny_model))
    label = next(iter(choices))
    assert choices[label] == str(tiny_model) and label.startswith("tiny")
    with pytest.raises(UserError, match="nor a .safetensors file"):
        model_choices("no-such-model")
    assert "parsenet" not in choices  # a bundled helper network, not a face restorer


def test_experimental_models_are_left_out_of_the_default_choices(tmp_path, monkeypatch):
    import facedeblur.models.hub as hub
    from facedeblur.models.hub import WeightsMetadata, read_metadata, save_weights
    from facedeblur.models.registry import build_model

    weights = tmp_path / "weights"
    weights.mkdir()
    for name, psnr in (("good", 30.0), ("weak", 20.0)):
        meta = read_metadata(make_tiny_model(weights / f"{name}.safetensors"))
        meta = WeightsMetadata(**{**meta.__dict__, "name": name, "metrics": {"psnr": psnr, "psnr_input": 25.0}})
        save_weights(build_model("chrysos", width=8, blocks=1), weights / f"{name}.safetensors", meta)
    monkeypatch.setattr(hub, "WEIGHTS_DIR", weights)
    monkeypatch.setattr(hub, "DEFAULT_MODEL", "good")
    assert list(model_choices()) == ["good"]
    assert list(model_choices(experimental=True)) == ["good", "weak"]
    assert list(model_choices("weak")) == ["weak", "good"]  # named explicitly: offered first
    assert [(e.name, e.experimental) for e in hub.bundled_catalogue()] == [("good", False), ("weak", True)]
    assert main(["models"]) == 0


def test_photo_batch_restores_faces_and_reports_every_problem(backend, uploads):
    names = ["portrait.png", "landscape.png", "broken.jpg", "notes.png"]
    batch = backend.restore_photos([uploads / n for n in names], backend.default_choice, 1.0)
    assert [o.name for o in batch.outcomes] == names
    good, no_face, truncated, not_image = batch.outcomes
    assert good.ok and good.faces == 1 and good.output.name == "portrait_restored.png"
    assert good.message == "portrait.png: 1 face restored -> portrait_restored.png"
    assert no_face.message == "landscape.png: no face found; nothing to restore"
    assert no_face.output is None and no_face.before is not None
    assert truncated.message.startswith("broken.jpg: ") and "truncated" in truncated.message
    assert not_image.message == "notes.png: not a readable image"
    assert str(uploads) not in batch.status  # messages name the upload, not its temporary folder
    assert batch.problems == [no_face.message, truncated.message, not_image.message]
    assert batch.outputs == [str(good.output)]

    source, result = read_image(uploads / "portrait.png"), read_image(good.output)
    assert result.shape == source.shape and result.dtype == source.dtype
    changed = (result != source).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 2000  # the face was restored...
    assert xs.min() >= 60 and xs.max() < 260 and ys.min() >= 30 and ys.max() < 230  # ...and nothing else
    assert good.before.shape == good.after.shape == source.shape and good.after.dtype == np.uint8


def test_fidelity_zero_leaves_the_photo_unchanged_and_bad_fidelity_is_refused(backend, uploads):
    batch = backend.restore_photos([uploads / "portrait.png"], backend.default_choice, 0.0)
    assert np.array_equal(read_image(batch.outcomes[0].output), read_image(uploads / "portrait.png"))
    with pytest.raises(UserError, match="fidelity"):
        backend.restore_photos([uploads / "portrait.png"], backend.default_choice, 1.5)
    with pytest.raises(UserError, match="upload one or more photos"):
        backend.restore_photos([], backend.default_choice, 1.0)
    with pytest.raises(UserError, match="unknown model"):
        backend.restore_photos([uploads / "portrait.png"], "nope", 1.0)


def test_same_names_get_distinct_outputs_and_jpeg_stays_jpeg(backend, uploads, tmp_path):
    other = tmp_path / "full.jpg"
    other.write_bytes((uploads / "full.jpg").read_bytes())
    batch = backend.restore_photos([uploads / "full.jpg", other], backend.default_choice, 1.0)
    assert [o.output.name for o in batch.outcomes] == ["full_restored.jpg", "full_restored-2.jpg"]


def test_preview_is_8bit_rgb_and_scaled_down():
    gray16 = np.full((3000, 900), 65535, np.uint16)
    small = preview(gray16, max_side=600)
    assert small.shape == (600, 180, 3) and small.dtype == np.uint8 and small.min() == 255


def test_video_with_a_face_is_restored_and_bad_videos_get_messages(backend, face, tmp_path):
    from facedeblur.video import probe_video, write_video

    frame = face_photo(face, 240, 320, 150)
    write_video(tmp_path / "clip.mp4", [frame] * 3, fps=10)
    seen = []
    outcome = backend.restore_video(
        tmp_path / "clip.mp4", backend.default_choice, 1.0, progress=lambda d, t: seen.append((d, t))
    )
    assert outcome.output is not None and outcome.output.name == "clip_restored.mp4"
    assert outcome.message.startswith("clip.mp4: 3 frames (320x240, 10.00 fps), faces restored in 3,")
    assert probe_video(outcome.output).frames == 3 and seen[-1] == (3, 3)

    write_video(tmp_path / "empty_room.mp4", [canvas(120, 160)] * 2, fps=10)
    outcome = backend.restore_video(tmp_path / "empty_room.mp4", backend.default_choice, 1.0)
    assert outcome.message == "empty_room.mp4: no face found in any of its 2 frames"

    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    outcome = backend.restore_video(tmp_path / "junk.mp4", backend.default_choice, 1.0)
    assert outcome.output is None and outcome.message.startswith("junk.mp4: ")
    assert str(tmp_path) not in outcome.message
    outcome = backend.restore_video(tmp_path / "notes.txt", backend.default_choice, 1.0)
    assert outcome.message == "notes.txt: not a supported video file (use mp4, mov, avi, mkv, webm, m4v)"


def test_gradio_handlers_return_the_comparison_downloads_and_status(backend, uploads):
    import warnings

    from facedeblur.serve.app import build_app

    app = build_app(backend=backend)
    handlers = {fn.api_name: fn.fn for fn in app.fns.values() if fn.api_name}
    assert {"restore_photos", "restore_video"} <= set(handlers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare, gallery, files, status, shown = handlers["restore_photos"](
            [str(uploads / "portrait.png"), str(uploads / "notes.png")], backend.default_choice, 1.0
        )
    before, after = read_image(compare[0]), read_image(compare[1])  # files: the page state holds no pixels
    assert before.shape == after.shape and not np.array_equal(before, after)
    assert np.array_equal(before, read_image(uploads / "portrait.png"))
    assert gallery["value"][0] == (compare[1], "portrait.png") and not gallery["visible"]  # gallery for 2+ photos
    assert all(isinstance(path, str) for pair in shown for path in pair)
    assert len(files) == 1 and files[0].endswith("portrait_restored.png")
    assert status.splitlines() == [
        "portrait.png: 1 face restored -> portrait_restored.png",
        "notes.png: not a readable image",
    ]
    assert len(shown) == 1
    assert any("notes.png: not a readable image" in str(w.message) for w in caught)
    import gradio as gr

    on_select = next(fn.fn for fn in app.fns.values() if fn.name == "on_select")
    two = [(np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8))] * 2
    assert on_select(two, gr.SelectData(None, {"index": 1, "value": None})) is two[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare, gallery, files, status, shown = handlers["restore_photos"](None, backend.default_choice, 1.0)
    assert compare is None and files is None and status == "upload one or more photos first"


def test_cli_serve_help_and_bad_options(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--model" in out and "--device" in out
    assert main(["serve", "--port", "0"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err
    assert main(["serve", "--model", str(tmp_path / "missing.safetensors"), "--device", "cpu"]) == 2
    assert "not a bundled model" in capsys.readouterr().err


def test_16bit_and_grayscale_photos_keep_their_format(backend, face, tmp_path):
    photo = face_photo(face)
    write_image(tmp_path / "deep.png", photo.astype(np.uint16) * 257)
    write_image(tmp_path / "gray.png", photo[:, :, :1].copy())
    batch = backend.restore_photos([tmp_path / "deep.png", tmp_path / "gray.png"], backend.default_choice, 1.0)
    deep, gray = (read_image(o.output) for o in batch.outcomes)
    assert deep.dtype == np.uint16 and deep.shape == photo.shape
    assert gray.dtype == np.uint8 and gray.shape == photo.shape[:2] + (1,)
    assert all(o.after.dtype == np.uint8 and o.after.shape == photo.shape for o in batch.outcomes)


def test_backend_docstring_examples_run():
    import doctest

    import facedeblur.serve.backend as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_sigterm_removes_uploads_and_results_like_ctrl_c(tiny_model, face, tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    gradio_client = pytest.importorskip("gradio_client")
    photo = tmp_path / "photo.png"
    write_image(photo, face_photo(face))
    temp = tmp_path / "tmp"
    temp.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "facedeblur", "serve", "--port", str(port), "--model", str(tiny_model)]
    server = subprocess.Popen([*command, "--device", "cpu"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "dl"))
        label = f"tiny ({tiny_model})"
        _, _, downloads, status = client.predict(
            [gradio_client.handle_file(str(photo))], label, 1.0, api_name="/restore_photos"
        )[:4]
        assert "1 face restored" in status and downloads
        work = [p for p in temp.iterdir() if p.name.startswith("facedeblur-serve-")]
        assert len(work) == 1 and any(p.is_file() for p in (work[0] / "gradio").rglob("*"))  # the upload
        assert any(p.name.endswith("_restored.png") for p in work[0].rglob("*"))
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode in (0, 143), err
    assert "Traceback" not in err
    left = [p.name for p in temp.iterdir() if p.name != ".ses"]  # .ses: onnxruntime's, written at its import
    assert left == []  # uploads, results and Gradio's cache are gone
