"""End to end: the demo served on localhost, driven by a real headless Chromium through Playwright.

Runs wherever Debian's ``chromium`` (or ``$FACEDEBLUR_CHROMIUM``) and the playwright package are
installed (``.ci/system-packages`` installs chromium in CI); the browser is never downloaded.
"""

from __future__ import annotations

import io
import socket

import numpy as np
import pytest

from _browser import find_chromium
from _face_helpers import canvas, place
from _restore_helpers import cached_val_faces, make_tiny_model
from facedeblur.images import read_image, write_image

pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (dev extra)")
pytest.importorskip("gradio", reason="gradio is not installed (serve extra)")
if find_chromium() is None:
    pytest.skip(
        "no chromium executable (apt-get install chromium, or set FACEDEBLUR_CHROMIUM)", allow_module_level=True
    )

FACE_BOX = (150, 70, 330, 250)  # x0, y0, x1, y1 of the pasted face on the 480 x 320 canvas


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    from facedeblur.serve.app import build_app, launch

    model = make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")
    app = build_app(model=str(model), device="cpu")
    port = _free_port()
    launch(app, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def photo(utkface_val, tmp_path_factory):
    """A real UTKFace face pasted on a larger synthetic canvas, as a lossless PNG."""
    image = canvas(320, 480, seed=11)
    x0, y0, x1, _ = FACE_BOX
    place(image, cached_val_faces(utkface_val, 1)[0], x0, y0, x1 - x0)
    path = tmp_path_factory.mktemp("upload") / "portrait.png"
    write_image(path, image)
    return path


def test_upload_restore_download_in_chromium(demo_url, photo, tmp_path):
    from PIL import Image

    from _browser import restore_in_browser

    run = restore_in_browser(demo_url, photo, screenshot=tmp_path / "serve.png", timeout_s=45)

    assert run.external_requests == []  # the page needs nothing from the internet
    assert run.status == "portrait.png: 1 face restored -> portrait_restored.png"
    assert run.output_name == "portrait_restored.png"
    source = read_image(photo)
    result = np.asarray(Image.open(io.BytesIO(run.output)).convert("RGB"))
    assert result.shape == source.shape

    x0, y0, x1, y1 = FACE_BOX
    face = (slice(y0 + 30, y1 - 30), slice(x0 + 30, x1 - 30))
    assert np.abs(result[face].astype(int) - source[face].astype(int)).mean() > 1.0  # the face was restored
    background = np.ones(source.shape[:2], bool)
    background[y0 - 20 : y1 + 20, x0 - 20 : x1 + 20] = False
    assert np.array_equal(result[background], source[background])  # bit for bit outside the face

    shot = Image.open(run.screenshot)
    assert shot.width == 1280 and shot.height > 600


def test_video_tab_restores_and_offers_the_video(demo_url, utkface_val, tmp_path):
    from _browser import restore_video_in_browser
    from facedeblur.video import probe_video, read_frames, write_video

    image = canvas(240, 320, seed=12)
    place(image, cached_val_faces(utkface_val, 1)[0], 85, 45, 150)
    write_video(tmp_path / "clip.mp4", [image] * 4, fps=8)

    run = restore_video_in_browser(demo_url, tmp_path / "clip.mp4", timeout_s=45)

    assert run.external_requests == []
    assert run.status.startswith("clip.mp4: 4 frames (320x240, 8.00 fps), faces restored in 4,")
    assert run.output_name == "clip_restored.mp4"
    (tmp_path / "out.mp4").write_bytes(run.output)
    assert probe_video(tmp_path / "out.mp4").frames == 4
    before, after = next(read_frames(tmp_path / "clip.mp4")), next(read_frames(tmp_path / "out.mp4"))
    face = (slice(80, 160), slice(120, 200))
    assert np.abs(after[face].astype(int) - before[face].astype(int)).mean() > 1.0
