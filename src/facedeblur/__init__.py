"""facedeblur: make blurry faces sharp again, offline, in photos and videos.

Heavy modules (torch, dlib, cv2) are imported lazily so that ``import facedeblur`` and
``facedeblur --help`` stay instant.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Restorer", "__version__"]


def __getattr__(name: str):
    if name == "Restorer":
        from facedeblur.restore import Restorer

        return Restorer
    raise AttributeError(f"module 'facedeblur' has no attribute {name!r}")
