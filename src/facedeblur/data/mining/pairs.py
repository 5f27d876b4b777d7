"""Real motion-blur pairs from a mined video: frame-averaged windows aligned on the middle frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.data.mining.config import MiningConfig
from facedeblur.data.mining.frames import read_frames_upto

PAIR_CHUNK_FRAMES = 60  # frames held at a time (plus a window's overlap) when building pairs


def _pair_box(landmarks5: np.ndarray, size: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The frame region an aligned ``size`` crop of this face covers (its corners mapped back), clipped."""
    from facedeblur.face.align import align_matrix, invert_affine, transform_points

    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) - 0.5
    points = transform_points(corners, invert_affine(align_matrix(landmarks5, size)))
    x0, y0 = (max(0, int(np.floor(v))) for v in points.min(0))
    x1, y1 = min(width, int(np.ceil(points[:, 0].max())) + 1), min(height, int(np.ceil(points[:, 1].max())) + 1)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def build_pairs(
    video: str | Path,
    out_dir: str | Path,
    name: str,
    accepted: dict[int, Any],
    config: MiningConfig = MiningConfig(),
) -> dict[str, Any]:
    """Frame-average windows of a mined video into aligned training pairs (real motion blur).

    Windows come from :func:`facedeblur.degrade.frames.frame_windows` (its motion and PSNR tests); a
    window is used only when its middle frame has a good landmark fitting. The frames are cropped to the
    region the middle frame's aligned crop covers (so the PSNR test sees what the pair shows), averaged,
    and the average and the middle frame warped with that alignment (the geometry the models train on)
    to ``config.size``. Frame indices of the middle frames are matched by object identity: the crop
    callback of ``frame_windows`` receives the middle frame itself. The video is decoded in chunks of
    :data:`PAIR_CHUNK_FRAMES` frames (plus a window's overlap), so memory stays bounded on long videos;
    window lengths are drawn per chunk (seeded by ``config.seed`` and the chunk's first frame).

    Args:
        video: the video file.
        out_dir: dataset folder; pairs go to ``out_dir/pairs/{blurred,gt,params}/<name>/``.
        name: the video's name in the dataset.
        accepted: frame index -> object with ``landmarks5``, ``landmarks68``: the frames with a good fitting
            (the movement test between mined frames does not apply to windows, which test motion themselves).
        config: pair window settings and crop size.

    Returns:
        Counts of windows by outcome and the number of pairs written.
    """
    from facedeblur.degrade.frames import WindowCriteria

    criteria = WindowCriteria(
        frames=tuple(config.pair_frames),
        stride=config.pair_stride,
        psnr_range=tuple(config.pair_psnr_range),
        seed=config.seed,
    )
    out = Path(out_dir) / "pairs"
    counts: dict[str, int] = {}
    written = 0
    longest = max(criteria.frames)
    chunk = criteria.stride * max(1, -(-PAIR_CHUNK_FRAMES // criteria.stride))  # window starts stay on the grid
    buffer: list[np.ndarray] = []
    first = 0  # video index of buffer[0]
    for frame in read_frames_upto(Path(video), config.max_frames):
        buffer.append(frame)
        if len(buffer) == chunk + longest - 1:
            written += _chunk_pairs(buffer, first, chunk, video, out, name, accepted, config, criteria, counts)
            buffer, first = buffer[chunk:], first + chunk
    if buffer:
        written += _chunk_pairs(buffer, first, len(buffer), video, out, name, accepted, config, criteria, counts)
    return {"windows": counts, "written": written}


def _chunk_pairs(
    frames: list[np.ndarray],
    first: int,
    starts: int,
    video: str | Path,
    out: Path,
    name: str,
    accepted: dict[int, Any],
    config: MiningConfig,
    criteria: Any,
    counts: dict[str, int],
) -> int:
    """Judge and write the windows starting in ``frames[:starts]`` (video frame index ``first`` onwards)."""
    from dataclasses import replace

    from facedeblur.data.writers import write_pair
    from facedeblur.degrade.frames import frame_windows
    from facedeblur.face.align import align_matrix, warp_image

    height, width = frames[0].shape[:2]
    boxes = {
        id(frames[i - first]): _pair_box(a.landmarks5, config.size, width, height)
        for i, a in accepted.items()
        if first <= i < first + len(frames)
    }

    def crop(middle: np.ndarray) -> tuple[int, int, int, int] | None:
        return boxes.get(id(middle))  # None: no good fitting in the middle frame ("no face")

    # window lengths are drawn from [seed, start in chunk]: vary the seed per chunk
    chunk_criteria = replace(criteria, seed=criteria.seed * 1_000_003 + first)
    written = 0
    for window in frame_windows(frames, chunk_criteria, crop):
        if window.start >= starts:
            break
        key = window.reason or "accepted"
        counts[key] = counts.get(key, 0) + 1
        if not window.accepted:
            continue
        middle = first + window.start + window.frames // 2
        x0, y0 = window.box[:2]
        matrix = align_matrix(accepted[middle].landmarks5, config.size)
        matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
        size = (config.size, config.size)
        lq = np.clip(warp_image(window.blurred, matrix, size), 0, 1)
        gt = np.clip(warp_image(window.sharp, matrix, size), 0, 1)
        info = window.info()
        info.update(start=first + window.start, middle=middle)
        record = {"video": Path(video).name, "linear": criteria.linear, **info}
        write_pair(out, f"{name}/{first + window.start:06d}_{window.frames:02d}", lq, gt, record)
        written += 1
    return written
