"""The public evaluation protocols, each written as a reproducible pairs folder.

A pairs folder holds ``blurred/NAME.png`` and ``gt/NAME.png`` with matching names, and optionally
``kernels/NAME.npy`` (the true blur kernel, float32 (K, K), for the non-blind baselines) and
``params/NAME.json`` (how the pair was made; its ``group`` key is what reports break results down by).
``protocol.json`` records the protocol name, its full config and the number of pairs, so a folder made with
the same config is reused and a different one is refused (see :func:`make_protocol`).

Protocols (all at 128 px, seeds fixed by the config):

1. ``mspl`` (MSPL-like, Lee et al. 2020 / DFPGnet): sharp UTKFace validation faces x camera-shake kernels of
   the 8 size classes 13, 15, ..., 27 px from :func:`facedeblur.degrade.kernels.kernel_bank`, blur with
   reflect-101 borders, Gaussian noise sigma 4/255, 8-bit PNG. MSPL uses 80 faces x 8 sizes x 10 kernels;
   the default here is 40 faces x 8 sizes x 1 kernel (320 pairs) so a CPU evaluates it in minutes.
   Face ``i`` meets kernel ``(i + K) mod kernels_per_size`` of size class ``K``, so kernels are used equally.
2. ``frames`` (Chrysos & Zafeiriou): real motion blur by averaging 7, 9 and 11 consecutive video frames
   in linear light (:mod:`facedeblur.degrade.frames`); the middle frame is the ground truth. Windows
   without motion or with too much of it are rejected by optical flow and PSNR. Both images are aligned
   to the face template with the landmarks of the sharp middle frame (same warp for both).
3. ``blind``: UTKFace validation faces degraded by the ``restore`` recipe (blur, downsampling, noise,
   JPEG; :class:`facedeblur.degrade.recipes.RestoreRecipe`). No kernel is written: after downsampling and
   JPEG a deconvolution oracle is meaningless.
4. ``mild`` (near-sharp faces, what a restorer must not damage): UTKFace validation faces, a third each with
   no blur, a small Gaussian (sigma 0.4-1.0 px) or a short linear motion (2-5 px), then noise of 1 level and
   JPEG at quality 90-95 like most camera photos. Gains here are small by nature; a loss means the model
   invents detail where the photo was already sharp.

Example:
    >>> cfg = MsplConfig(faces=2, kernel_sizes=(13,))
    >>> cfg.kernel_sizes
    (13,)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedeblur.images import to_uint8

LOGGER = logging.getLogger("facedeblur.eval")
PROTOCOL_FILE = "protocol.json"


@dataclass
class MsplConfig:
    """MSPL-like protocol.

    Attributes:
        faces: number of validation faces (0: all sharp ones).
        kernel_sizes: odd kernel size classes.
        kernels_per_size: camera-shake kernels drawn per size class (MSPL: 10).
        noise_sigma: Gaussian noise standard deviation in 8-bit levels (4 = 4/255).
        size: face side in pixels.
        seed: seed of the face choice, kernels and noise.
    """

    faces: int = 40
    kernel_sizes: tuple[int, ...] = (13, 15, 17, 19, 21, 23, 25, 27)
    kernels_per_size: int = 1
    noise_sigma: float = 4.0
    size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.faces < 0 or self.kernels_per_size < 1 or self.size < 32:
            raise ValueError("faces must be >= 0, kernels_per_size >= 1 and size >= 32")
        if not self.kernel_sizes or any(k < 3 or k % 2 == 0 or k >= self.size for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd, >= 3 and smaller than the face, got {self.kernel_sizes}")
        if self.noise_sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")


@dataclass
class FramesConfig:
    """Frame-averaging protocol on talking-head videos.

    Attributes:
        windows: window lengths (odd); every length is evaluated on every video.
        pairs_per_window: at most this many accepted windows per video and length, spread evenly.
        stride: frames between candidate window starts.
        max_frames: frames read per video (from ``start_frame`` on).
        start_frame: frames skipped at the start of each clip (0 for the protocol; training pairs are made
            from frames after the protocol's, e.g. ``start_frame=240``, so they never overlap it).
        min_motion: minimum mean optical-flow motion of a window, pixels per frame (of the face crop).
        psnr_range: accepted PSNR(average, middle frame), dB.
        size: face side in pixels.
        seed: seed (window choice).
    """

    windows: tuple[int, ...] = (7, 9, 11)
    pairs_per_window: int = 6
    stride: int = 4
    max_frames: int = 240
    min_motion: float = 0.5
    psnr_range: tuple[float, float] = (22.0, 38.0)
    size: int = 128
    seed: int = 0
    start_frame: int = 0

    def __post_init__(self) -> None:
        if self.start_frame < 0:
            raise ValueError(f"start_frame must be >= 0, got {self.start_frame}")
        if not self.windows or any(n < 3 or n % 2 == 0 for n in self.windows):
            raise ValueError(f"windows must be odd lengths >= 3, got {self.windows}")
        if self.pairs_per_window < 1 or self.stride < 1 or self.max_frames < max(self.windows):
            raise ValueError("pairs_per_window and stride must be >= 1 and max_frames >= the longest window")


@dataclass
class BlindConfig:
    """Blind restoration protocol with the ``restore`` degradation recipe.

    Attributes:
        faces: number of validation faces (0: all sharp ones).
        recipe: recipe name or YAML file (see :func:`facedeblur.degrade.recipes.load_recipe`).
        size: face side in pixels.
        seed: seed of the face choice and the degradations.
    """

    faces: int = 100
    recipe: str = "restore"
    size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.faces < 0 or self.size < 32:
            raise ValueError("faces must be >= 0 and size >= 32")


@dataclass
class MildConfig:
    """Near-sharp faces: the restorer must help a little or leave them alone.

    Attributes:
        faces: number of validation faces (0: all sharp ones); faces cycle through the three groups.
        gaussian_sigma: Gaussian standard deviation range, pixels (group ``gauss``).
        motion_length: linear motion length range, pixels (group ``motion``).
        noise_sigma: Gaussian noise, 8-bit levels.
        jpeg_quality: JPEG quality range (inclusive).
        size: face side in pixels.
        seed: seed of the face choice and the degradations.
    """

    faces: int = 90
    gaussian_sigma: tuple[float, float] = (0.4, 1.0)
    motion_length: tuple[float, float] = (2.0, 5.0)
    noise_sigma: float = 1.0
    jpeg_quality: tuple[int, int] = (90, 95)
    size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.faces < 0 or self.size < 32:
            raise ValueError("faces must be >= 0 and size >= 32")
        if not 0 < self.gaussian_sigma[0] <= self.gaussian_sigma[1]:
            raise ValueError(f"gaussian_sigma must be an increasing positive range, got {self.gaussian_sigma}")
        if not 0 < self.motion_length[0] <= self.motion_length[1]:
            raise ValueError(f"motion_length must be an increasing positive range, got {self.motion_length}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError(f"jpeg_quality must be an increasing range in [1, 100], got {self.jpeg_quality}")


PROTOCOLS: dict[str, type] = {"mspl": MsplConfig, "frames": FramesConfig, "blind": BlindConfig, "mild": MildConfig}
MILD_GROUPS = ("none", "gauss", "motion")


class PairWriter:
    """Writes pairs into a folder: blurred/, gt/, kernels/ and params/ (atomic files)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.count = 0
        for sub in ("blurred", "gt", "params"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def add(
        self, name: str, blurred: np.ndarray, gt: np.ndarray, params: dict, kernel: np.ndarray | None = None
    ) -> None:
        import io

        from facedeblur.images import write_bytes_atomic, write_image, write_text_atomic

        write_image(self.root / "blurred" / f"{name}.png", to_uint8(blurred))
        write_image(self.root / "gt" / f"{name}.png", to_uint8(gt))
        if kernel is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(kernel, np.float32))
            write_bytes_atomic(self.root / "kernels" / f"{name}.npy", buffer.getvalue())
        write_text_atomic(self.root / "params" / f"{name}.json", json.dumps(params, sort_keys=True))
        self.count += 1


def _face_stem(path: Path) -> str:
    return path.name.split(".")[0]


def _bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="pair", disable=not progress)


def make_mspl(source: str | Path, out: str | Path, config: MsplConfig = MsplConfig(), progress: bool = False) -> int:
    """Write the MSPL-like pairs from a folder of aligned faces (UTKFace val). Returns the pair count."""
    from facedeblur.degrade.kernels import kernel_bank
    from facedeblur.degrade.ops import blur_numpy
    from facedeblur.eval.faces import list_images, load_face, select_sharp_faces

    faces = select_sharp_faces(list_images(source), config.faces, config.seed, config.size)
    bank = kernel_bank(config.kernels_per_size, tuple(config.kernel_sizes), seed=config.seed)
    writer = PairWriter(out)
    with _bar(len(faces) * len(config.kernel_sizes), "mspl", progress) as bar:
        for i, path in enumerate(faces):
            gt = load_face(path, config.size)
            for k_size in config.kernel_sizes:
                j = (i + k_size) % config.kernels_per_size
                kernel = bank[f"size_{k_size}"][j]
                rng = np.random.default_rng([config.seed, i, k_size])
                blurred = blur_numpy(gt, kernel)
                blurred = blurred + rng.normal(0.0, config.noise_sigma / 255.0, blurred.shape).astype(np.float32)
                params = {
                    "protocol": "mspl",
                    "source": path.name,
                    "group": f"k{k_size}",
                    "kernel_size": k_size,
                    "kernel_index": j,
                    "noise_sigma": config.noise_sigma / 255.0,
                }
                writer.add(f"{_face_stem(path)}_k{k_size}_{j}", blurred, gt, params, kernel)
                bar.update(1)
    return writer.count


def make_blind(source: str | Path, out: str | Path, config: BlindConfig = BlindConfig(), progress: bool = False) -> int:
    """Write the blind-restoration pairs (``restore`` recipe) from aligned faces. Returns the pair count."""
    from facedeblur.degrade.recipes import degrade_numpy, load_recipe, params_to_json, prepare_target
    from facedeblur.eval.faces import list_images, load_face, select_sharp_faces

    recipe = load_recipe(config.recipe)
    faces = select_sharp_faces(list_images(source), config.faces, config.seed, config.size)
    writer = PairWriter(out)
    with _bar(len(faces), "blind", progress) as bar:
        for i, path in enumerate(faces):
            gt = load_face(path, config.size)
            lq, params = degrade_numpy(gt, recipe, np.random.default_rng([config.seed, i]))
            gt = prepare_target(gt, params)
            info = params_to_json(params)
            info.pop("kernel", None)
            info.update({"protocol": "blind", "source": path.name, "group": _blind_group(params)})
            writer.add(_face_stem(path), lq, gt, info)
            bar.update(1)
    return writer.count


def make_mild(source: str | Path, out: str | Path, config: MildConfig = MildConfig(), progress: bool = False) -> int:
    """Write the near-sharp pairs from a folder of aligned faces (UTKFace val). Returns the pair count."""
    from facedeblur.degrade.jpeg import jpeg_numpy
    from facedeblur.degrade.kernels import gaussian_kernel, motion_kernel
    from facedeblur.degrade.ops import blur_numpy
    from facedeblur.eval.faces import list_images, load_face, select_sharp_faces

    faces = select_sharp_faces(list_images(source), config.faces, config.seed, config.size)
    writer = PairWriter(out)
    with _bar(len(faces), "mild", progress) as bar:
        for i, path in enumerate(faces):
            gt = load_face(path, config.size)
            rng = np.random.default_rng([config.seed, i])
            group = MILD_GROUPS[i % len(MILD_GROUPS)]
            params: dict[str, Any] = {"protocol": "mild", "source": path.name, "group": group}
            kernel = None
            if group == "gauss":
                sigma = float(rng.uniform(*config.gaussian_sigma))
                kernel = gaussian_kernel(2 * int(np.ceil(3 * sigma)) + 1, sigma)
                params["sigma"] = sigma
            elif group == "motion":
                length, angle = float(rng.uniform(*config.motion_length)), float(rng.uniform(0, 180))
                kernel = motion_kernel(length, angle)
                params.update(length=length, angle=angle)
            blurred = gt if kernel is None else blur_numpy(gt, kernel)
            blurred = blurred + rng.normal(0.0, config.noise_sigma / 255.0, blurred.shape).astype(np.float32)
            quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
            blurred = jpeg_numpy(np.clip(blurred, 0.0, 1.0), quality)
            params.update(noise_sigma=config.noise_sigma / 255.0, jpeg_quality=quality)
            writer.add(f"{_face_stem(path)}_{group}", blurred, gt, params)
            bar.update(1)
    return writer.count


def _blind_group(params: dict) -> str:
    """Downsampling-factor class of a blind pair: x0.8-2, x2-4, x4-8 (what makes blind restoration hard)."""
    scale = float(params.get("scale", 1.0))
    return "x0.8-2" if scale < 2 else ("x2-4" if scale < 4 else "x4-8")


def _video_face_region(frame: np.ndarray) -> tuple[int, int, int, int] | None:
    from facedeblur.face.detect import detect_faces

    faces = detect_faces(frame)
    if not faces:
        return None
    x0, y0, x1, y1 = faces[0].box
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = side * 1.2  # generous: the head moves within the clip
    h, w = frame.shape[:2]
    return (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half)))


def make_frames(
    videos: str | Path, out: str | Path, config: FramesConfig = FramesConfig(), progress: bool = False
) -> int:
    """Write frame-averaging pairs from a folder of videos. Returns the pair count.

    Per video: the face found in the first frame sets a generous crop region for the clip; windows are
    judged on that region (:func:`facedeblur.degrade.frames.frame_windows`); for each accepted window chosen,
    the sharp middle frame's landmarks align both the average and the middle frame to the template.
    Videos with no face in the first frame are skipped with a warning.
    """
    from facedeblur.degrade.frames import WindowCriteria, frame_windows
    from facedeblur.face.align import align_face
    from facedeblur.face.detect import detect_faces
    from facedeblur.video import is_video_path, read_frames

    paths = sorted(p for p in Path(videos).iterdir() if p.is_file() and is_video_path(p))
    if not paths:
        raise ValueError(f"{videos}: no video files")
    writer = PairWriter(out)
    with _bar(len(paths) * len(config.windows) * config.pairs_per_window, "frames", progress) as bar:
        for path in paths:
            frames = []
            for number, frame in enumerate(read_frames(path)):
                if number < config.start_frame:
                    continue
                frames.append(frame)
                if len(frames) >= config.max_frames:
                    break
            region = _video_face_region(frames[0]) if frames else None
            if region is None:
                LOGGER.warning("%s: no face in the first frame; skipped", path)
                continue
            x0, y0, x1, y1 = region
            crops = [np.ascontiguousarray(f[y0:y1, x0:x1]) for f in frames]
            for n in config.windows:
                criteria = WindowCriteria(
                    frames=(n,),
                    stride=config.stride,
                    linear=True,
                    min_motion=config.min_motion,
                    psnr_range=tuple(config.psnr_range),
                    seed=config.seed,
                )
                accepted = [w for w in frame_windows(crops, criteria) if w.accepted]
                keep = _spread(len(accepted), config.pairs_per_window)
                for index in keep:
                    window = accepted[index]
                    sharp_u8 = to_uint8(window.sharp)
                    faces = detect_faces(sharp_u8)
                    if not faces:
                        continue
                    gt, matrix = align_face(window.sharp, faces[0].landmarks5, config.size)
                    blurred, _ = align_face(window.blurred, faces[0].landmarks5, config.size)
                    info = {"protocol": "frames", "source": path.name, "group": f"n{n}", **window.info()}
                    info["crop_region"] = [int(v) for v in region]
                    writer.add(f"{path.stem}_n{n}_f{window.start + n // 2:05d}", blurred, gt, info)
                    bar.update(1)
    return writer.count


def _spread(available: int, wanted: int) -> list[int]:
    """Indices of ``wanted`` items spread evenly over ``available`` (all when fewer)."""
    if available <= wanted:
        return list(range(available))
    return sorted({int(round(x)) for x in np.linspace(0, available - 1, wanted)})


MAKERS: dict[str, Callable[..., int]] = {
    "mspl": make_mspl,
    "frames": make_frames,
    "blind": make_blind,
    "mild": make_mild,
}


def protocol_config(name: str, overrides: list[str] | None = None):
    """The typed config of protocol ``name`` with ``key=value`` overrides applied.

    Raises:
        UserError: unknown protocol name.
    """
    from facedeblur.config import apply_overrides
    from facedeblur.errors import UserError

    if name not in PROTOCOLS:
        raise UserError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}")
    return apply_overrides(PROTOCOLS[name](), overrides or [])


def make_protocol(
    name: str, source: str | Path, out: str | Path, config: Any = None, progress: bool = False
) -> dict[str, Any]:
    """Write protocol ``name`` into ``out`` unless it already holds the same protocol and config.

    Args:
        name: ``mspl``, ``frames`` or ``blind``.
        source: folder of aligned faces (``mspl``, ``blind``: UTKFace val) or of videos (``frames``).
        out: pairs folder to write.
        config: the protocol's config dataclass; default its defaults.
        progress: show a progress bar.

    Returns:
        The ``protocol.json`` record: ``{"protocol", "config", "pairs", "source", "version"}``.

    Raises:
        UserError: ``out`` holds a different protocol or config, or ``source`` is missing.
    """
    from facedeblur import __version__
    from facedeblur.config import to_dict
    from facedeblur.errors import UserError
    from facedeblur.images import write_text_atomic

    config = protocol_config(name) if config is None else config
    if not isinstance(config, PROTOCOLS[name]):
        raise TypeError(f"expected a {PROTOCOLS[name].__name__} for protocol {name!r}, got {type(config).__name__}")
    wanted = {"protocol": name, "config": json.loads(json.dumps(to_dict(config)))}
    out = Path(out)
    record_path = out / PROTOCOL_FILE
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if {"protocol": record.get("protocol"), "config": record.get("config")} == wanted:
            return record
        raise UserError(
            f"{out} holds protocol {record.get('protocol')!r} with another config; choose another folder or delete it"
        )
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not an empty protocol folder; choose another folder")
    source = Path(source)
    if not source.is_dir():
        raise UserError(f"{source}: no such folder (the protocol's source data)")
    count = MAKERS[name](source, out, config, progress=progress)
    record = {**wanted, "pairs": count, "source": str(source), "version": __version__}
    write_text_atomic(record_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def default_source(name: str, shared_data: str | Path) -> Path:
    """Where a protocol's source data lives inside a ``shared/data`` folder."""
    shared_data = Path(shared_data)
    return shared_data / "videos" if name == "frames" else shared_data / "utkface" / "val"
