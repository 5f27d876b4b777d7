"""Video in and out with PyAV: probe, read, write, rewrite through threaded stages, trim, split and join.

One job per module:

- :mod:`~facedeblur.video.streams`: opening, probing, copying the other streams and the tags;
- :mod:`~facedeblur.video.decode`: frames upright with their timestamps, damage counted and reported;
- :mod:`~facedeblur.video.encode`: codec and quality (:class:`EncodeOptions`), writing frames;
- :mod:`~facedeblur.video.pipeline`: threads joined by bounded queues, rates per stage;
- :mod:`~facedeblur.video.transcode`: :func:`transcode_video`, the one way a video is rewritten;
- :mod:`~facedeblur.video.chunks`: trims, key-frame-aligned chunks and joins, all without re-encoding;
- :mod:`~facedeblur.video.track`, :mod:`~facedeblur.video.temporal`, :mod:`~facedeblur.video.faces`:
  the face stages of ``restore`` (key-frame detection with tracking, temporal smoothing of the
  model's change, batched restoration across frames).

Example:
    >>> import numpy as np, tempfile, os
    >>> from facedeblur.video import probe_video, transcode_video, write_video
    >>> folder = tempfile.mkdtemp()
    >>> src = os.path.join(folder, "in.mp4")
    >>> write_video(src, [np.zeros((16, 16, 3), np.uint8)] * 3, fps=25)
    3
    >>> probe_video(src).frames
    3
    >>> transcode_video(src, os.path.join(folder, "out.mp4"), lambda rgb, i: 255 - rgb).frames
    3
"""

import importlib
from typing import Any

# name -> module: loaded on first use, so ``facedeblur --help`` (which reads CODECS) stays instant.
_EXPORTS = {
    "VIDEO_EXTENSIONS": "facedeblur.batch.inputs",
    "is_video_path": "facedeblur.batch.inputs",
    "Chunk": "facedeblur.video.chunks",
    "join_chunks": "facedeblur.video.chunks",
    "key_frame_times": "facedeblur.video.chunks",
    "plan_chunks": "facedeblur.video.chunks",
    "trim_video": "facedeblur.video.chunks",
    "DecodeStats": "facedeblur.video.decode",
    "Frame": "facedeblur.video.decode",
    "read_frames": "facedeblur.video.decode",
    "CODECS": "facedeblur.video.encode",
    "DEFAULT_CRF": "facedeblur.video.encode",
    "EncodeOptions": "facedeblur.video.encode",
    "write_video": "facedeblur.video.encode",
    "Stage": "facedeblur.video.pipeline",
    "StageStats": "facedeblur.video.pipeline",
    "run_stages": "facedeblur.video.pipeline",
    "VideoInfo": "facedeblur.video.streams",
    "probe_video": "facedeblur.video.streams",
    "TranscodeResult": "facedeblur.video.transcode",
    "transcode_video": "facedeblur.video.transcode",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'facedeblur.video' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
