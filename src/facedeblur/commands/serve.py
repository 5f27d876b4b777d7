"""``facedeblur serve``: the web demo on this machine (Gradio; offline, no share links)."""

from __future__ import annotations

import argparse

from facedeblur.commands.detection_args import add_detection_arguments, detection_options
from facedeblur.commands.grammar import add_command, add_device_argument, add_model_argument


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "serve",
        help="web demo: restore photos and videos in the browser",
        description=(
            "Start the web demo (needs the 'serve' extra: pip install 'facedeblur[serve]'). Upload photos or a "
            "video, pick a model and the fidelity weight, compare before and after, download the results. "
            "Runs fully offline; nothing is shared outside this machine."
        ),
        examples=[
            ("serve", "http://127.0.0.1:7860 on this machine"),
            ("serve --host 0.0.0.0 --port 8080 --device cuda", "on the network, on a GPU"),
            ("serve --model my.safetensors --experimental", "your model first, and the experimental ones"),
        ],
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    add_model_argument(parser, default=None, extra=", listed first; the bundled ones follow")
    parser.add_argument("--experimental", action="store_true", help="also offer the bundled models marked experimental")
    add_device_argument(parser)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="restorations that run at once; more requests wait in the queue (default 2)",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=32,
        help="requests that may wait; beyond, visitors are told the demo is busy (default 32)",
    )
    add_detection_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from facedeblur.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    detection = detection_options(args)
    try:
        from facedeblur.serve.app import build_app, launch
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] == "gradio":
            raise UserError("the web demo needs gradio: pip install 'facedeblur[serve]'") from err
        raise
    if args.concurrency < 1 or args.queue_size < 1:
        raise UserError("--concurrency and --queue-size must be >= 1")
    app = build_app(model=args.model, device=args.device, detection=detection, experimental=args.experimental)
    backend = app.facedeblur_backend
    try:
        launch(
            app, host=args.host, port=args.port, block=True, concurrency=args.concurrency, queue_size=args.queue_size
        )
    except OSError as err:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({err})") from err
    finally:  # Ctrl-C and SIGTERM end here too: the uploads and results go
        app.close()
        backend.close()
    return 0
