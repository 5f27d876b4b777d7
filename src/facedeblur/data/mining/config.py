"""The mining framework's settings: thresholds, crop size, pair windows (YAML-loadable)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MiningConfig:
    """Settings of the mining framework (YAML-loadable with :func:`facedeblur.config.load_yaml`).

    Attributes:
        size: side of the aligned crops (and of the pairs).
        full_frames: also write the accepted full frames.
        detector: a key of :data:`facedeblur.face.detectors.BACKENDS` (``"hog"``, ``"cnn"``, ``"centerface"``).
        max_side: the search works on each frame at most this large (longer side; talking-head faces
            are large); 0: no cap (see :mod:`facedeblur.face.search`).
        upsample: the search's finest scale is 2 ** upsample (0: full resolution, before ``max_side``).
        min_face_size: ignore detections smaller than this (pixels, larger box side).
        detection_threshold: minimum detector score (None: the detector's default).
        iou_threshold: tracker and detector agree on a frame when their boxes reach this IoU.
        min_tracked_fraction: keep a video only if they agree in at least this fraction of frames.
        fitting_threshold: minimum SVM margin of a good landmark fitting.
        classifier: fitting classifier ``.npz`` (None: the shipped one).
        min_motion: pixels (full resolution, median over the face) a frame must have moved since the
            last accepted frame.
        max_motion: drop a video whose accepted frames move on average more than this many pixels per
            frame (cuts, shaking cameras).
        min_frames: drop a video with fewer accepted frames.
        max_frames: read at most this many frames per video (None: all).
        pair_frames: window lengths of ``pairs`` (odd).
        pair_stride: frames between consecutive pair windows.
        pair_psnr_range: accepted PSNR(average, middle frame) range of a pair window, in dB.
        seed: seed of the pair window lengths.
    """

    size: int = 128
    full_frames: bool = False
    detector: str = "hog"
    max_side: int = 640
    upsample: int = 0
    min_face_size: float = 40.0
    detection_threshold: float | None = None
    iou_threshold: float = 0.5
    min_tracked_fraction: float = 0.5
    fitting_threshold: float = 0.0
    classifier: str | None = None
    min_motion: float = 1.0
    max_motion: float = 25.0
    min_frames: int = 3
    max_frames: int | None = None
    pair_frames: tuple[int, ...] = (7, 9, 11)
    pair_stride: int = 5
    pair_psnr_range: tuple[float, float] = (22.0, 35.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {self.size}")
        from facedeblur.face.detectors import BACKENDS

        if self.detector not in BACKENDS:
            raise ValueError(f"detector must be one of {', '.join(BACKENDS)}, got {self.detector!r}")
        if not 0 < self.iou_threshold <= 1 or not 0 <= self.min_tracked_fraction <= 1:
            raise ValueError("iou_threshold must be in (0, 1] and min_tracked_fraction in [0, 1]")
        if self.min_motion < 0 or self.max_motion <= self.min_motion:
            raise ValueError(f"need 0 <= min_motion < max_motion, got {self.min_motion} and {self.max_motion}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {self.max_frames}")
