"""What every face-detector backend returns and promises, and the pool that lends detectors to threads.

A backend runs one detector on one working image (already scaled by :mod:`facedeblur.face.search`)
and returns :class:`RawFace` records in that image's pixels. Boxes follow one convention whatever the
detector: dlib's HOG box (brows to chin, about 0.87 of a UTKFace chip's side), so face sizes, the
``min_face_size`` filter, trackers and IoU checks mean the same thing for every detector.

Example:
    >>> import numpy as np
    >>> face = RawFace((0.0, 0.0, 10.0, 12.0), 0.9)
    >>> face.size
    12.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, eq=False)
class RawFace:
    """One detection in working-image pixels.

    Attributes:
        box: (x0, y0, x1, y1), x1/y1 exclusive, in dlib's HOG box convention.
        score: the detector's confidence (its own scale; higher is surer).
        points: (5, 2) float32 landmarks the detector gives itself (CenterFace: image-left eye centre,
            image-right eye centre, nose tip, image-left and image-right mouth corner), or None.
    """

    box: tuple[float, float, float, float]
    score: float
    points: np.ndarray | None = None

    @property
    def size(self) -> float:
        """Larger side of the box, in pixels."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


@runtime_checkable
class DetectorBackend(Protocol):
    """A face detector as the search sees it.

    Attributes:
        name: the ``--detector`` name.
        min_face: smallest face (box side, px) it finds reliably in an image at its own scale; the search
            scales images so that the smallest face wanted becomes this large.
        max_face: largest face it finds reliably (``inf`` for detectors that scan an image pyramid).
        default_threshold: the score threshold used when none is given.
        seconds_per_megapixel: measured cost on one CPU core (plans the search's time bound).
        tile: preferred tile side in working pixels (big working images are cut into such tiles).
        proposal_threshold: a score low enough that almost every face reaches it at a scale too
            coarse to be sure of it (the search then checks such proposals zoomed, in small crops,
            with ``detect_batch(images, threshold)``); None: the backend is searched in plain passes.
    """

    name: str
    min_face: float
    max_face: float
    default_threshold: float
    seconds_per_megapixel: float
    tile: int
    proposal_threshold: float | None

    def detect(self, image: np.ndarray, threshold: float) -> list[RawFace]:
        """Faces in an (H, W, 3) uint8 RGB C-contiguous image whose score reaches ``threshold``."""
        ...


class Pool:
    """Lend objects that keep scratch state (dlib detectors, OpenCV nets) to one thread at a time.

    A new object is made only when every existing one is in use, so one thread reuses one object.

    Example:
        >>> pool = Pool(lambda: object())
        >>> with pool.borrow() as first:
        ...     pass
        >>> with pool.borrow() as second:
        ...     second is first
        True
    """

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._idle: list[object] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator:
        with self._lock:
            item = self._idle.pop() if self._idle else None
        if item is None:
            item = self._factory()
        try:
            yield item
        finally:
            with self._lock:
                self._idle.append(item)
