"""``facedeblur serve``: the web demo on this machine (Gradio; offline, no share links)."""

from __future__ import annotations

import argparse

from facedeblur.commands.detection_args import add_detection_arguments, detection_options


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="web demo: restore photos and videos in the browser",
        description=(
            "Start the web demo (needs the 'serve' extra: pip install 'facedeblur[serve]'). Upload photos or a "
            "video, pick a model and the fidelity weight, compare before and after, download the results. "
            "Runs fully offline; nothing is shared outside this machine."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    parser.add_argument(
        "--model",
        default=None,
        help="extra model listed first: bundled name, 'default' or a .safetensors path (bundled ones follow)",
    )
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda|mps (default: auto)")
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
    app = build_app(model=args.model, device=args.device, detection=detection)
    try:
        launch(app, host=args.host, port=args.port, block=True)
    except OSError as err:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({err})") from err
    return 0
