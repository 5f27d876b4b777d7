"""The movement test: how far a face moved between two frames (median optical flow over its box)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def face_motion(previous: np.ndarray, current: np.ndarray, box: Sequence[float]) -> float:
    """Median optical-flow magnitude (pixels) inside ``box`` between two frames.

    Args:
        previous: (H, W, 3) uint8 frame.
        current: (H, W, 3) uint8 frame of the same size.
        box: (x0, y0, x1, y1) region (e.g. the union of the face boxes of both frames).

    Returns:
        Movement in full-resolution pixels (0 for an empty region).

    Example:
        >>> import numpy as np
        >>> a = np.zeros((64, 64, 3), np.uint8)
        >>> face_motion(a, a, (0, 0, 64, 64))
        0.0
    """
    from facedeblur.degrade.frames import pair_motion

    h, w = previous.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    crops = [np.ascontiguousarray(f[y0:y1, x0:x1]) for f in (previous, current)]
    return float(pair_motion(crops, "dis", percentile=50.0, max_side=128)[0])


def box_union(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    """The smallest box holding both (x0, y0, x1, y1) boxes."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
