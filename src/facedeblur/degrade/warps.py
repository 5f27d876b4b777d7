"""Synthetic frame averages: a face moved along a smooth, spatially varying motion and averaged over frames.

A video frame averaged over a few exposures (the frames protocol, ``degrade video``) is not blurred by one
kernel: the head turns and nods, the jaw and the eyes move on their own, so the blur varies across the
face. Real pairs of that kind are scarce (the dev videos), so :class:`facedeblur.degrade.recipes.PhotoRecipe`
can make them from any sharp face (``frames_probability``): a motion field is drawn per sample
(:func:`sample_motion_field`: a global translation, a small rotation and zoom about a random centre, and a
coarse random local field; each with a velocity and an acceleration term, so trajectories curve), the face is
sampled at ``N`` instants ``t`` in ``[-1/2, 1/2]`` along ``d(t) = t * v + t^2 * a``, and the frames are
averaged in linear light as :func:`facedeblur.degrade.frames.average_frames` does. The middle instant is
``t = 0``: the sharp face itself is the ground truth.

The field is stored on a coarse grid of control points (``(2, 2, G, G)``: velocity/acceleration, dx/dy, in
pixels of the image) and interpolated bilinearly to the image, which reproduces translation, rotation and
zoom exactly and keeps the parameters small enough to store in a pair's JSON.

Optionally a talking motion (:mod:`facedeblur.degrade.talking`: the jaw and lips, and the eyelids, moving
back and forth on their own, zero at ``t = 0``) is added to every frame's displacement.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> field = sample_motion_field(rng, 64, 64, span=4.0)
    >>> face = rng.random((64, 64, 3), dtype=np.float32)
    >>> blurred = average_warped_numpy(face, field, frames=7)
    >>> blurred.shape, bool(np.abs(blurred - face).mean() > 0.01)
    ((64, 64, 3), True)
"""

from __future__ import annotations

import numpy as np

from facedeblur.degrade.frames import linear_to_srgb, srgb_to_linear
from facedeblur.degrade.talking import talking_displacements

GRID = 4  # control points per side of the coarse motion field
LOCAL_SHARE = 0.35  # share of the span given to the local (non-rigid) part of the motion
ACCELERATION_SHARE = 0.3  # acceleration term relative to the velocity term


def _check_field(field: np.ndarray) -> np.ndarray:
    field = np.asarray(field, dtype=np.float32)
    if field.ndim != 4 or field.shape[:2] != (2, 2) or field.shape[2] < 2 or field.shape[3] < 2:
        raise ValueError(f"expected a motion field of shape (2, 2, G, G) with G >= 2, got {field.shape}")
    return field


def _check_frames(frames: int) -> int:
    if frames < 1 or frames % 2 == 0:
        raise ValueError(f"expected an odd number of frames >= 1, got {frames}")
    return int(frames)


def sample_motion_field(rng: np.random.Generator, height: int, width: int, span: float, grid: int = GRID) -> np.ndarray:
    """Draw one smooth, spatially varying motion for an image of ``height`` x ``width``.

    Args:
        rng: draws the motion.
        height: image height, pixels.
        width: image width, pixels.
        span: largest displacement between the first and the last frame (pixels, before the acceleration
            term), reached somewhere in the image.
        grid: control points per side.

    Returns:
        (2, 2, grid, grid) float32: velocity and acceleration (axis 0), dx and dy (axis 1), in pixels, at
        control points spread evenly over the image, corners included.

    Example:
        >>> import numpy as np
        >>> sample_motion_field(np.random.default_rng(0), 128, 128, span=6.0).shape
        (2, 2, 4, 4)
    """
    if span < 0:
        raise ValueError(f"span must be >= 0, got {span}")
    if grid < 2:
        raise ValueError(f"grid must be >= 2, got {grid}")
    ys, xs = np.meshgrid(np.linspace(0, height - 1, grid), np.linspace(0, width - 1, grid), indexing="ij")
    terms = []
    for share in (1.0, ACCELERATION_SHARE):
        centre = rng.uniform(0.25, 0.75, 2) * (width - 1, height - 1)
        angle = rng.normal(0.0, 1.0)  # rotation: dx = -w*y, dy = w*x about the centre
        zoom = rng.normal(0.0, 0.5)
        translation = rng.normal(0.0, 1.0, 2)
        rx, ry = (xs - centre[0]) / max(width, height), (ys - centre[1]) / max(width, height)
        dx = translation[0] - angle * ry + zoom * rx
        dy = translation[1] + angle * rx + zoom * ry
        rigid = np.stack([dx, dy])
        local = rng.normal(0.0, 1.0, (2, grid, grid))
        rigid = rigid / max(float(np.abs(rigid).max()), 1e-6) * (1.0 - LOCAL_SHARE)
        local = local / max(float(np.abs(local).max()), 1e-6) * LOCAL_SHARE
        terms.append((rigid + local) * span * share)
    return np.stack(terms).astype(np.float32)


def dense_field(field: np.ndarray, height: int, width: int) -> np.ndarray:
    """The control-point field interpolated bilinearly to every pixel: (2, 2, G, G) -> (2, 2, H, W) float32.

    Example:
        >>> import numpy as np
        >>> dense_field(np.ones((2, 2, 4, 4), np.float32), 8, 6).shape
        (2, 2, 8, 6)
    """
    import cv2

    field = _check_field(field)
    flat = field.reshape(4, *field.shape[2:]).transpose(1, 2, 0)
    grid = field.shape[2]
    # control points sit on the corners: align_corners-style interpolation through an exact affine map
    ys = np.linspace(0, grid - 1, height, dtype=np.float32)
    xs = np.linspace(0, grid - 1, width, dtype=np.float32)
    map_x, map_y = np.meshgrid(xs, ys)
    dense = cv2.remap(np.ascontiguousarray(flat), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return dense.transpose(2, 0, 1).reshape(2, 2, height, width).astype(np.float32)


def _instants(frames: int) -> np.ndarray:
    return (np.linspace(-0.5, 0.5, frames) if frames > 1 else np.zeros(1)).astype(np.float32)


def average_warped_numpy(image: np.ndarray, field: np.ndarray, frames: int, talking: dict | None = None) -> np.ndarray:
    """Average ``frames`` copies of ``image`` moved along ``field`` (linear light; the middle one unmoved).

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        field: (2, 2, G, G) motion from :func:`sample_motion_field`.
        frames: odd number of instants.
        talking: optional talking motion from :func:`facedeblur.degrade.talking.sample_talking`, added to
            every frame's displacement.

    Returns:
        (H, W, 3) float32 in [0, 1].

    Example:
        >>> import numpy as np
        >>> from facedeblur.degrade.talking import sample_talking
        >>> face = np.random.default_rng(0).random((128, 128, 3), dtype=np.float32)
        >>> still = np.zeros((2, 2, 4, 4), np.float32)
        >>> talking = sample_talking(np.random.default_rng(2), 128, 128, amplitude=(6.0, 6.0))
        >>> change = np.abs(average_warped_numpy(face, still, 9, talking) - face).mean(axis=(1, 2))
        >>> bool(change[85:110].mean() > 10 * change[:20].mean())  # the mouth ghosts, the forehead does not
        True
    """
    import cv2

    from facedeblur.degrade.ops import check_image

    x = check_image(image)
    frames = _check_frames(frames)
    h, w = x.shape[:2]
    velocity, acceleration = dense_field(field, h, w)
    extra = talking_displacements(talking, h, w, frames)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    linear = srgb_to_linear(x)
    total = np.zeros_like(linear)
    for t, more in zip(_instants(frames), extra, strict=True):
        d = t * velocity + t * t * acceleration + more
        map_x, map_y = (grid_x + d[0]).astype(np.float32), (grid_y + d[1]).astype(np.float32)
        total += cv2.remap(linear, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return linear_to_srgb(total / frames)


def average_warped_torch(batch, fields: list[np.ndarray], frames: list[int], talking: list[dict | None] | None = None):
    """Batched :func:`average_warped_numpy` on the batch's device.

    Args:
        batch: (B, 3, H, W) float in [0, 1].
        fields: B motion fields (2, 2, G, G).
        frames: B odd frame counts.
        talking: optional B talking motions (or None each); their displacement maps are made on the CPU by
            :func:`facedeblur.degrade.talking.talking_displacements`, the same as the numpy path's.

    Returns:
        (B, 3, H, W), same device and dtype.

    Example:
        >>> import numpy as np, torch
        >>> out = average_warped_torch(torch.rand(2, 3, 16, 16), [np.zeros((2, 2, 4, 4), np.float32)] * 2, [5, 7])
        >>> out.shape
        torch.Size([2, 3, 16, 16])
    """
    import torch
    import torch.nn.functional as F

    from facedeblur.degrade.ops import check_batch

    x = check_batch(batch)
    b, _, h, w = x.shape
    talking = [None] * b if talking is None else list(talking)
    if len(fields) != b or len(frames) != b or len(talking) != b:
        raise ValueError(
            f"expected {b} fields, frame counts and talking motions, "
            f"got {len(fields)}, {len(frames)} and {len(talking)}"
        )
    counts = [_check_frames(n) for n in frames]
    coarse = torch.from_numpy(np.stack([_check_field(f) for f in fields])).to(x.device)  # (B, 2, 2, G, G)
    dense = F.interpolate(coarse.flatten(1, 2), size=(h, w), mode="bilinear", align_corners=True)
    # displacements in grid_sample's normalised units, laid out as its grid: (B, 2 terms, H, W, 2)
    norm = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=x.device)
    dense = (dense.view(b, 2, 2, h, w).permute(0, 1, 3, 4, 2) * norm).contiguous()
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    base = torch.stack([xs, ys], -1).to(x.device)
    grids = []
    for i, count in enumerate(counts):
        t = torch.from_numpy(_instants(count)).to(x.device).view(-1, 1, 1, 1)
        grid = base + t * dense[i, 0] + t * t * dense[i, 1]
        if talking[i] is not None:
            extra = torch.from_numpy(talking_displacements(talking[i], h, w, count)).to(x.device)
            grid = grid + extra.permute(0, 2, 3, 1) * norm
        grids.append(grid)
    linear = torch.where(x <= 0.04045, x / 12.92, ((x.float() + 0.055) / 1.055) ** 2.4)
    index = torch.repeat_interleave(torch.arange(b, device=x.device), torch.tensor(counts, device=x.device))
    moved = F.grid_sample(linear[index], torch.cat(grids), mode="bilinear", padding_mode="border", align_corners=True)
    out = torch.zeros_like(linear).index_add_(0, index, moved) / torch.tensor(counts, device=x.device).view(b, 1, 1, 1)
    out = out.clamp(0, 1)
    srgb = torch.where(out <= 0.0031308, 12.92 * out, 1.055 * out.pow(1 / 2.4) - 0.055)
    return srgb.to(x.dtype)
