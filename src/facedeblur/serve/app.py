"""The web demo's Gradio app: photos (before/after slider, gallery, downloads) and a video tab.

Everything runs on the machine that serves it: analytics and version checks are off, no share link
is ever made, SSR (a Node server) is off, and the page loads only assets Gradio serves itself, so it
works without internet. The processing lives in :mod:`facedeblur.serve.backend`; this module only
wires it to components and turns its messages into Gradio notifications.

Example:
    >>> from facedeblur.serve.app import build_app, launch
    >>> app = build_app(device="cpu")
    >>> type(app).__name__
    'Blocks'

    ``launch(app, host="127.0.0.1", port=7860)`` then serves it until interrupted.
"""

# No ``from __future__ import annotations`` here: Gradio reads the handlers' annotations at run time
# (``gr.SelectData``) and does not resolve string annotations.
import os
from typing import Any

from facedeblur.batch.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from facedeblur.errors import UserError
from facedeblur.serve.backend import DemoBackend

# Set before gradio is imported: it reads these at import and launch time.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
}
PHOTO_TYPES = list(IMAGE_EXTENSIONS)
DEFAULT_CONCURRENCY = 2  # restorations run at once; more requests wait in the queue
DEFAULT_QUEUE_SIZE = 32  # requests waiting at most; beyond, a visitor is told the demo is busy
SESSION_CAPACITY = 500  # visitors whose page state is kept in memory (the oldest go first)
VIDEO_KINDS = ", ".join(e[1:] for e in VIDEO_EXTENSIONS)
MAX_UPLOAD = "500mb"

_INTRO = """# facedeblur
Make blurry faces sharp again. Upload photos (or a video on the second tab), choose a model and how
much of the restoration to blend in, and download the results. Everything runs on this machine;
nothing is uploaded anywhere else. Pixels outside the faces are left exactly as they were."""


def _offline_gradio():
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ[key] = value
    import gradio as gr

    return gr


def steady_malloc() -> bool:
    """Keep a long-running server's memory flat under glibc: large arrays always come from (and go
    back to) the system, and threads share two heaps instead of one each.

    Without it, glibc raises its mmap threshold after the first freed photo-sized array, later arrays
    land in per-thread heaps that never shrink, and resident memory creeps up request after request.
    Returns False where there is no glibc (macOS, Windows, musl): nothing to do there.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold, m_arena_max = -3, -8  # glibc's <malloc.h>
    return bool(mallopt(m_mmap_threshold, 1 << 20)) and bool(mallopt(m_arena_max, 2))


def build_app(
    model: str | None = None,
    device: str = "auto",
    backend: DemoBackend | None = None,
    detection: dict | None = None,
    experimental: bool = False,
):
    """Build the demo's :class:`gradio.Blocks` (not launched).

    Args:
        model: an extra model listed first (bundled name, ``"default"`` or a ``.safetensors`` path).
        device: ``auto|cpu|cuda|mps``.
        backend: a ready :class:`DemoBackend` (then ``model``, ``device`` and ``experimental`` are ignored).
        detection: face-detection keyword arguments for every Restorer (see :class:`DemoBackend`).
        experimental: also offer the bundled models marked experimental.

    Returns:
        The Blocks app; the backend is at ``app.facedeblur_backend``.

    Raises:
        UserError: unknown model, or no model at all.
    """
    backend = backend or DemoBackend(model=model, device=device, detection=detection, experimental=experimental)
    # Uploads and Gradio's copies of the results live in the backend's work folder, removed with it
    # (at exit, on Ctrl-C and SIGTERM alike); read when the Blocks and the server are made.
    os.environ["GRADIO_TEMP_DIR"] = str(backend.gradio_dir)
    gr = _offline_gradio()
    labels = list(backend.choices)

    with gr.Blocks(title="facedeblur", analytics_enabled=False, delete_cache=(600, 3600)) as app:
        gr.Markdown(_INTRO)
        with gr.Row():
            model_box = gr.Dropdown(
                labels, value=labels[0], label="Model", elem_id="model", info=f"runs on {backend.device}"
            )
            fidelity = gr.Slider(
                0.0,
                1.0,
                value=1.0,
                step=0.05,
                label="Fidelity weight",
                info="0 = input unchanged, 1 = full restoration (blended inside the face regions)",
                elem_id="fidelity",
            )
        with gr.Tabs():
            with gr.Tab("Photos", id="photos-tab"):
                pairs = gr.State([], time_to_live=3600)
                with gr.Row():
                    with gr.Column(scale=1):
                        photos = gr.File(
                            file_count="multiple", file_types=PHOTO_TYPES, label="Photos", elem_id="photos"
                        )
                        run_photos = gr.Button("Restore", variant="primary", elem_id="restore-photos")
                        status = gr.Textbox(label="Status", lines=3, interactive=False, elem_id="status")
                    with gr.Column(scale=2):
                        compare = gr.ImageSlider(
                            label="Before / after (drag the handle)",
                            type="numpy",
                            format="png",
                            interactive=False,
                            elem_id="compare",
                        )
                gallery = gr.Gallery(
                    label="Restored photos (click one to compare it above)",
                    columns=6,
                    fit_columns=False,
                    height=260,
                    preview=False,
                    object_fit="contain",
                    format="png",
                    interactive=False,
                    visible=False,  # shown once more than one photo was restored
                    elem_id="results",
                )
                downloads = gr.File(label="Download", file_count="multiple", interactive=False, elem_id="downloads")
            with gr.Tab("Video", id="video-tab"):
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(label=f"Video ({VIDEO_KINDS})", sources=["upload"], elem_id="video-in")
                        run_video = gr.Button("Restore video", variant="primary", elem_id="restore-video")
                        video_status = gr.Textbox(label="Status", lines=2, interactive=False, elem_id="video-status")
                    with gr.Column():
                        video_out = gr.Video(label="Restored", interactive=False, elem_id="video-out")
                        video_file = gr.File(label="Download", interactive=False, elem_id="video-download")
        gr.Markdown(
            "Faces are found with dlib, aligned, restored and pasted back with a feathered edge. "
            "Bundled weights are trained on UTKFace: non-commercial research use only."
        )

        def on_photos(files, choice, weight):
            try:
                batch = backend.restore_photos(files, choice, weight)
            except UserError as err:
                gr.Warning(str(err))
                return None, gr.update(value=[], visible=False), None, str(err), []
            for problem in batch.problems:
                gr.Warning(problem)
            done = batch.restored
            # The page state keeps file paths, never pixels: a visitor's session costs bytes, not megabytes.
            shown = [backend.preview_files(o) for o in done]
            return (
                shown[0] if shown else None,
                gr.update(
                    value=[(after, o.name) for o, (_, after) in zip(done, shown, strict=True)], visible=len(done) > 1
                ),
                batch.outputs or None,
                batch.status,
                shown,
            )

        def on_select(shown: list, evt: gr.SelectData):
            if not shown or evt.index is None or not 0 <= int(evt.index) < len(shown):
                return gr.skip()
            return shown[int(evt.index)]

        def on_video(path, choice, weight, progress=gr.Progress()):
            def report(done: int, total: int) -> None:
                progress((done, total), desc="frames", unit="frames")

            try:
                outcome = backend.restore_video(path, choice, weight, progress=report)
            except UserError as err:
                gr.Warning(str(err))
                return None, None, str(err)
            if outcome.output is None:
                gr.Warning(outcome.message)
                return None, None, outcome.message
            if "no face" in outcome.message:
                gr.Info(outcome.message)
            playable = outcome.output.suffix == ".mp4"
            return (str(outcome.output) if playable else None), str(outcome.output), outcome.message

        run_photos.click(
            on_photos,
            inputs=[photos, model_box, fidelity],
            outputs=[compare, gallery, downloads, status, pairs],
            api_name="restore_photos",
        )
        gallery.select(on_select, inputs=[pairs], outputs=[compare], api_name=False)
        run_video.click(
            on_video,
            inputs=[video_in, model_box, fidelity],
            outputs=[video_out, video_file, video_status],
            api_name="restore_video",
        )

    app.facedeblur_backend = backend
    return app


def launch(
    app,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> Any:
    """Serve ``app`` on ``host:port`` without share links, SSR or footer links to the internet.

    Requests go through one bounded queue: ``concurrency`` restorations run at once (they share the
    loaded models), up to ``queue_size`` more wait, and a request beyond that is refused with
    "the queue is full" instead of piling up memory.

    Args:
        app: from :func:`build_app`.
        host: interface to listen on (``0.0.0.0`` for every interface).
        port: TCP port.
        block: wait until interrupted (False returns right after the server is up, for tests).
        concurrency: restorations at once.
        queue_size: requests waiting at most.

    Returns:
        What :meth:`gradio.Blocks.launch` returns: ``(server app, local url, share url)``.
    """
    _offline_gradio()
    steady_malloc()
    backend = getattr(app, "facedeblur_backend", None)
    app.queue(default_concurrency_limit=int(concurrency), max_size=int(queue_size))
    return app.launch(
        server_name=host,
        server_port=int(port),
        share=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        inbrowser=False,
        quiet=not block,
        show_error=True,
        prevent_thread_lock=not block,
        max_file_size=MAX_UPLOAD,
        footer_links=["settings"],
        state_session_capacity=SESSION_CAPACITY,
        allowed_paths=[str(backend.work_dir)] if backend is not None else None,
    )
