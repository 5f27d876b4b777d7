"""The web demo (``facedeblur serve``): a Gradio app around :class:`facedeblur.Restorer`.

:mod:`facedeblur.serve.backend` holds the processing (no Gradio needed), :mod:`facedeblur.serve.app`
builds and launches the Gradio Blocks app. Gradio is imported only when an app is built.
"""

from __future__ import annotations

__all__ = ["build_app", "launch"]


def __getattr__(name: str):
    if name in __all__:
        from facedeblur.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'facedeblur.serve' has no attribute {name!r}")
