"""The automatic face search: scales and tiles chosen from the image size and the smallest face wanted.

Every command that detects faces (``restore``, ``faces``, ``serve``, video restoration, mining) goes
through :func:`search_faces`. A detector finds faces from its ``min_face`` (box side in its working
image) up to its ``max_face``; to find faces down to ``min_face_size`` pixels of the original, the
finest pass works on the image scaled by ``min_face / min_face_size`` (upscaled when the detector's
floor is above the faces wanted, downscaled when it is below: a 4k photo searched by CenterFace for
24 px faces works at 2/3 size). Coarser passes follow until the largest face the image can hold is
covered. A working image larger than the detector's tile is cut into overlapping tiles; a detection
is kept only by the tile whose core (the tile less half the overlap on inner sides) holds its
centre, so every face no larger than the overlap is seen whole exactly once, and larger faces are
left to the next, coarser pass. Passes are merged by non-maximum suppression.

A big photo is not searched whole at the finest scale (a 1080p photo searched by CenterFace for 24 px
faces would be a 2560 x 1440 working image, about 0.7 s of one core). Backends with a
``proposal_threshold`` (CenterFace) search it zoomed instead: the first pass works at half the finest
scale and keeps, besides the faces it is sure of (score above the threshold, large enough for its
scale), every low-score peak as a proposal; each proposal is looked at again in a 64 px crop zoomed
so that the face is 40 px in it, all crops in a few batched network runs. Proposals at half the
finest scale hold 96-100% of the faces from 24 px, and the crops confirm them with
better scores than the whole pass gives (benchmarks/quality/face_recall.py), at a third of its time. Small
photos (finest working image up to 1.5 Mpx) and expert scales (``--upsample``, ``--max-side``) are
searched plainly.

The search is time bounded: its cost is planned from the detector's measured seconds per megapixel
(one core) before it runs, and when the plan exceeds ``time_limit`` the finest scale is lowered until
it fits (the smallest face it can then find is reported); a search that still runs past three times
the limit stops early and says so. What it did (passes, scales, tiles, planned and actual seconds,
the smallest face it could find) comes back in a :class:`SearchReport`.

Example:
    >>> plan = plan_search(1080, 1920, SearchOptions(detector="centerface", min_face_size=24))
    >>> [round(p.scale, 3) for p in plan.passes], round(plan.passes[0].zoom, 3), plan.passes[0].tiles
    ([0.667, 0.067], 1.333, 1)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from facedeblur.face.detectors import BACKENDS, DEFAULT_DETECTOR, get_backend
from facedeblur.face.detectors.base import RawFace

DEFAULT_MIN_FACE_SIZE = 24.0
DEFAULT_TIME_LIMIT = 20.0  # seconds of one core, planned
MAX_UPSCALE = 4.0  # the finest pass never enlarges the image more than this
MIN_WORKING_SIDE = 32  # a pass whose working image would be smaller is not run
PASS_OVERLAP = 1.25  # consecutive passes' face-size ranges overlap by this factor
MERGE_IOU = 0.4  # detections from different passes with at least this IoU are one face
# ... or when this share of the smaller box lies inside the larger one: a coarse pass sometimes boxes a face
# mislocalised and too large (half of the true box inside it, at a low score), which 0.75 let through as a
# false positive beside the face (benchmarks/quality/face_recall.py --photo-set held-out, 8k)
MERGE_CONTAINED = 0.5
STOP_FACTOR = 3.0  # a search running past this many times its time limit stops early
# The zoomed search (backends with a proposal threshold, when the finest working image is big):
CASCADE_FACTOR = 2.0  # the proposal pass works at the finest scale divided by this
CASCADE_MIN_PIXELS = 1.5e6  # finest working images up to this many pixels are searched whole instead
CROP_SIDE = 64  # a proposal is checked in a crop of this side (working px) ...
# ... zoomed so that the proposed face is this large in it: 40 px, not 34, a little above CenterFace's 32 px
# floor, confirms more small faces (sharp 32 px faces 97-98% -> 98.5-100% on the tuning and held-out photos)
CROP_FACE = 40.0
CROP_MARGIN = 2  # a face in a crop counts only when its box lies this far (px) inside the crop
# A detection scored below DOUBT_SCORE must also be shaped like a face: its eyes at least MIN_EYE_SHARE of the
# box apart. On 15,229 faces found in 28 held-out 8k photos (seeds 3 and 4) the eyes were 0.38-0.55 of the box
# (1st-99th percentile) and 6 were both doubtful and narrower than 0.37 (0.04 %), against 5 of the 8 false
# positives (background texture at scores 0.31-0.38, eyes 0.24-0.36 apart): checked on untouched seeds in
# docs/benchmarks.md (benchmarks/quality/face_recall.py). Detectors without landmarks are not checked.
DOUBT_SCORE = 0.4
MIN_EYE_SHARE = 0.37
CROP_BATCH = 64  # crops per network run
EXPECTED_CROPS = 30.0  # per megapixel of the original, for planning the time (a crowded group photo)


@dataclass(frozen=True)
class SearchOptions:
    """How to search (the ``--detector``, ``--min-face-size``, ``--max-side``, ``--upsample``, ``--threshold`` options).

    Attributes:
        detector: a key of :data:`facedeblur.face.detectors.BACKENDS`.
        min_face_size: the smallest face wanted (box side in original pixels); sets the finest scale.
        threshold: minimum detector score; None: the detector's default.
        max_side: the finest pass works on an image at most this large (longer side, px); None or 0: no cap.
        upsample: expert override of the finest scale: 2 ** upsample (0: full resolution, 1: doubled...);
            None: automatic from ``min_face_size``.
        time_limit: planned seconds (one core) the search may take; the finest scale drops to fit.
    """

    detector: str = DEFAULT_DETECTOR
    min_face_size: float = DEFAULT_MIN_FACE_SIZE
    threshold: float | None = None
    max_side: int | None = None
    upsample: int | None = None
    time_limit: float = DEFAULT_TIME_LIMIT

    def __post_init__(self) -> None:
        if self.detector not in BACKENDS:
            raise ValueError(f"detector must be one of {tuple(BACKENDS)}, got {self.detector!r}")
        if not self.min_face_size > 0:
            raise ValueError(f"min_face_size must be > 0 px, got {self.min_face_size}")
        if self.max_side is not None and self.max_side < 0:
            raise ValueError(f"max_side must be >= 0 (0: no cap), got {self.max_side}")
        if self.upsample is not None and not 0 <= int(self.upsample) <= 3:
            raise ValueError(
                f"upsample must be between 0 and 3 (the image is enlarged 2**upsample), got {self.upsample}"
            )
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit}")


@dataclass
class SearchPass:
    """One scale of the search.

    Attributes:
        scale: working image = scale x original (per axis).
        width, height: the working image's size.
        tiles: how many tiles it was cut into (1: whole).
        tile: tile side in working pixels (0: whole image).
        faces: (smallest, largest) face box side, original pixels, this pass is meant to find.
        zoom: 0 for a plain pass; else this pass proposes faces at a low score and checks those it
            cannot confirm at its own scale in small crops zoomed up to at most this scale.
    """

    scale: float
    width: int
    height: int
    tiles: int
    tile: int
    faces: tuple[float, float]
    zoom: float = 0.0


@dataclass
class SearchReport:
    """What a search did: JSON-ready with :meth:`to_dict` (``restore`` and ``faces`` write it per image)."""

    detector: str
    min_face_size: float
    threshold: float
    passes: list[SearchPass] = field(default_factory=list)
    smallest_face: float = 0.0  # the smallest face (px) the finest pass could find
    limited_by: str | None = None  # "time limit", "max side" or "upsample" when smallest_face > min_face_size
    planned_seconds: float = 0.0
    seconds: float = 0.0
    stopped_early: bool = False
    found: int = 0
    crops: int = 0  # proposals checked in zoomed crops
    implausible: int = 0  # doubtful detections dropped for not being shaped like a face (face_shaped)

    def to_dict(self) -> dict:
        out = asdict(self)
        for p in out["passes"]:
            p["scale"] = round(p["scale"], 4)
            p["zoom"] = round(p["zoom"], 4)
            p["faces"] = [round(v, 1) for v in p["faces"]]
        for key in ("smallest_face", "planned_seconds", "seconds"):
            out[key] = round(out[key], 3)
        return out


def plan_search(height: int, width: int, options: SearchOptions) -> SearchReport:
    """Choose the passes (scales and tiles) for an image of this size; nothing runs.

    Args:
        height, width: the image's size in pixels.
        options: see :class:`SearchOptions`.

    Returns:
        A :class:`SearchReport` with ``passes``, ``smallest_face``, ``limited_by`` and ``planned_seconds`` set.

    Example:
        >>> report = plan_search(491, 700, SearchOptions(detector="hog", min_face_size=40))
        >>> report.passes[0].scale, report.smallest_face
        (2.0, 40.0)
    """
    if height < 1 or width < 1:
        raise ValueError(f"the image has no pixels ({height} x {width})")
    backend = get_backend(options.detector)
    threshold = backend.default_threshold if options.threshold is None else float(options.threshold)
    report = SearchReport(options.detector, float(options.min_face_size), threshold)
    longest = max(height, width)
    cost = backend.seconds_per_megapixel * height * width / 1e6  # at scale 1, before tiling overlap

    scale = min(backend.min_face / options.min_face_size, MAX_UPSCALE)
    if options.upsample is not None:
        scale, report.limited_by = float(2 ** int(options.upsample)), "upsample"
    if options.max_side and longest * scale > options.max_side:
        scale, report.limited_by = options.max_side / longest, "max side"
    if cost * scale * scale > options.time_limit:
        scale, report.limited_by = math.sqrt(options.time_limit / cost), "time limit"
    scale = max(scale, MIN_WORKING_SIDE / longest)
    zoomed = (
        backend.proposal_threshold is not None
        and report.limited_by not in ("upsample", "max side")
        and height * width * scale * scale > CASCADE_MIN_PIXELS
    )
    passes, planned = _plan(height, width, scale, backend, zoomed)
    while planned > options.time_limit and longest * scale * 0.9 >= MIN_WORKING_SIDE:
        scale *= 0.9  # tiling overlap and the coarser passes: shrink until the whole plan fits
        report.limited_by = "time limit"
        passes, planned = _plan(height, width, scale, backend, zoomed)
    report.passes, report.planned_seconds = passes, planned
    report.smallest_face = backend.min_face / scale
    if report.smallest_face <= options.min_face_size * 1.0001:
        report.limited_by = None
    return report


def _plan(height: int, width: int, scale: float, backend, zoomed: bool) -> tuple[list[SearchPass], float]:
    """The passes for a finest scale: plain, or zoomed (a proposal pass below it, crops up to it)."""
    if not zoomed:
        return _passes(height, width, scale, backend)
    passes, planned = _passes(height, width, scale / CASCADE_FACTOR, backend)
    first = passes[0]
    first.zoom = scale
    first.faces = (backend.min_face / scale, first.faces[1])
    crops = EXPECTED_CROPS * height * width / 1e6
    planned += backend.seconds_per_megapixel * crops * CROP_SIDE * CROP_SIDE / 1e6
    return passes, planned


def _passes(height: int, width: int, scale: float, backend) -> tuple[list[SearchPass], float]:
    """The finest pass at ``scale`` and the coarser ones after it; with their planned seconds."""
    longest, shortest = max(height, width), min(height, width)
    largest_wanted = float(min(longest, shortest * 1.25))  # faces cut by the border reach a little past it
    passes: list[SearchPass] = []
    planned = 0.0
    while True:
        pass_ = _make_pass(height, width, scale, backend)
        passes.append(pass_)
        planned += backend.seconds_per_megapixel * _tiled_pixels(pass_, backend) / 1e6
        if pass_.faces[1] >= largest_wanted:
            break
        next_scale = backend.min_face * PASS_OVERLAP / pass_.faces[1]
        if next_scale >= scale or longest * next_scale < MIN_WORKING_SIDE:
            # the detector cannot look at a smaller image: the last pass covers what it can
            pass_.faces = (pass_.faces[0], max(pass_.faces[1], largest_wanted))
            break
        scale = next_scale
    return passes, planned


def _make_pass(height: int, width: int, scale: float, backend) -> SearchPass:
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    tile = backend.tile
    if max(w, h) <= tile * 1.25:
        largest = backend.max_face
        count, tile = 1, 0
    else:
        overlap = _overlap(backend)
        largest = min(backend.max_face, overlap)
        count = len(_tile_spans(w, tile, overlap)) * len(_tile_spans(h, tile, overlap))
    return SearchPass(scale, w, h, count, tile, (backend.min_face / scale, largest / scale))


def _overlap(backend) -> int:
    return int(min(backend.max_face, backend.tile / 4))


def _tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """The fewest equal tiles of at most ``tile`` px covering ``length`` with ``overlap`` px in common.

    Example:
        >>> _tile_spans(1000, 400, 100)
        [(0, 400), (300, 700), (600, 1000)]
        >>> _tile_spans(900, 400, 100)
        [(0, 367), (266, 633), (533, 900)]
        >>> _tile_spans(300, 400, 100)
        [(0, 300)]
    """
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    side = math.ceil((length + (count - 1) * overlap) / count)
    starts = [round(i * (length - side) / (count - 1)) for i in range(count)]
    return [(start, start + side) for start in starts]


def _tiled_pixels(pass_: SearchPass, backend) -> float:
    if pass_.tiles == 1:
        return pass_.width * pass_.height
    overlap = _overlap(backend)
    xs = _tile_spans(pass_.width, pass_.tile, overlap)
    ys = _tile_spans(pass_.height, pass_.tile, overlap)
    return sum(b - a for a, b in xs) * sum(b - a for a, b in ys)


def tile_cores(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles along one axis as (start, end, core_start, core_end): cores partition [0, length).

    A tile's core is the tile less half of each overlap shared with a neighbour; a face of side at most
    the overlap whose centre lies in the core lies wholly inside the tile.

    Example:
        >>> tile_cores(1000, 400, 100)
        [(0, 400, 0, 350), (300, 700, 350, 650), (600, 1000, 650, 1000)]
    """
    spans = _tile_spans(length, tile, overlap)
    out = []
    for i, (start, end) in enumerate(spans):
        core_start = 0 if i == 0 else (spans[i - 1][1] + start) // 2
        core_end = length if i == len(spans) - 1 else (end + spans[i + 1][0]) // 2
        out.append((start, end, core_start, core_end))
    return out


def search_faces(image: np.ndarray, options: SearchOptions | None = None) -> tuple[list[RawFace], SearchReport]:
    """Find every face the options ask for in a whole image.

    Args:
        image: (H, W, 3) uint8 RGB.
        options: see :class:`SearchOptions` (default: the default detector, faces from 24 px).

    Returns:
        (faces in original pixels, best score first, smaller than nothing: size filtering is the
        caller's; the :class:`SearchReport`).

    Example:
        >>> faces, report = search_faces(np.zeros((48, 64, 3), np.uint8), SearchOptions(detector="hog"))
        >>> faces, report.passes[0].scale
        ([], 3.3333333333333335)
    """
    options = options or SearchOptions()
    height, width = image.shape[:2]
    report = plan_search(height, width, options)
    backend = get_backend(options.detector)
    start = time.perf_counter()
    found: list[RawFace] = []
    stop = options.time_limit * STOP_FACTOR
    for pass_ in report.passes:
        if pass_.zoom:
            low = min(backend.proposal_threshold, report.threshold)
            proposals = list(_run_pass(image, pass_, backend, low, start, stop))
            sure = backend.min_face / pass_.scale  # faces this large are found at the pass's own scale
            kept = [f for f in proposals if f.score >= report.threshold and f.size >= sure]
            found += kept
            checked, report.crops, wanted = _check_proposals(
                image, proposals, kept, pass_, backend, report.threshold, start, stop
            )
            found += checked
            report.stopped_early = report.crops < wanted  # the time bound cut the crops short
        else:
            found += _run_pass(image, pass_, backend, report.threshold, start, stop)
        if time.perf_counter() - start > stop and pass_ is not report.passes[-1]:
            report.stopped_early = True
            break
    merged = merge_faces(found)
    faces = [f for f in merged if face_shaped(f)]
    report.implausible = len(merged) - len(faces)
    report.seconds = time.perf_counter() - start
    report.found = len(faces)
    return faces, report


def _run_pass(image: np.ndarray, pass_: SearchPass, backend, threshold: float, start: float, stop: float):
    import cv2

    height, width = image.shape[:2]
    sx, sy = pass_.width / width, pass_.height / height
    working = None
    if pass_.scale < 1:
        working = cv2.resize(image, (pass_.width, pass_.height), interpolation=cv2.INTER_AREA)
    elif pass_.width == width and pass_.height == height:
        working = image
    if pass_.tiles == 1:
        xs = [(0, pass_.width, 0, pass_.width)]
        ys = [(0, pass_.height, 0, pass_.height)]
    else:
        overlap = _overlap(backend)
        xs = tile_cores(pass_.width, pass_.tile, overlap)
        ys = tile_cores(pass_.height, pass_.tile, overlap)
    largest = pass_.faces[1] * pass_.scale
    for ty0, ty1, cy0, cy1 in ys:
        for tx0, tx1, cx0, cx1 in xs:
            if time.perf_counter() - start > stop:
                return
            if working is not None:
                tile = np.ascontiguousarray(working[ty0:ty1, tx0:tx1])
            else:
                tile = _upscaled_tile(image, sx, sy, tx0, ty0, tx1 - tx0, ty1 - ty0)
            for face in backend.detect(tile, threshold):
                x0, y0, x1, y1 = face.box
                cx, cy = tx0 + (x0 + x1) / 2, ty0 + (y0 + y1) / 2
                if not (cx0 <= cx < cx1 and cy0 <= cy < cy1):
                    continue  # a neighbouring tile sees this face whole
                if pass_.tiles > 1 and face.size > largest * PASS_OVERLAP:
                    continue  # maybe cut by the tile: a coarser pass sees it whole
                yield _to_original(face, tx0, ty0, sx, sy)


def _check_proposals(
    image: np.ndarray,
    proposals: list[RawFace],
    kept: list[RawFace],
    pass_: SearchPass,
    backend,
    threshold: float,
    start: float,
    stop: float,
) -> tuple[list[RawFace], int, int]:
    """Look again, zoomed, at every proposal the pass did not keep: (faces confirmed, crops run, crops wanted).

    Each crop is :data:`CROP_SIDE` px, zoomed so the proposed face is :data:`CROP_FACE` px in it (but
    at most :data:`MAX_UPSCALE`, and as if the face were at least the smallest wanted); proposals that
    share a crop are checked once. A face counts when its score reaches ``threshold`` and its box lies
    inside the crop (a face cut by the crop's edge is someone else's crop or the proposal pass's).
    """
    floor = backend.min_face / pass_.zoom  # the smallest face wanted
    sure = {id(f) for f in kept}
    crops: list[tuple[float, float, float]] = []  # centre x, centre y, zoom
    for face in proposals:
        if id(face) in sure:
            continue
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        if any(_inside(cx, cy, k.box) for k in kept if k.size > face.size):
            continue  # a part of a face already found
        zoom = min(MAX_UPSCALE, CROP_FACE / max(face.size, floor))
        reach = 0.15 * CROP_SIDE / zoom
        if any(abs(cx - x) < reach and abs(cy - y) < reach and 2 / 3 < zoom / z < 1.5 for x, y, z in crops):
            continue
        crops.append((cx, cy, zoom))
    found: list[RawFace] = []
    run = 0
    for first in range(0, len(crops), CROP_BATCH):
        if time.perf_counter() - start > stop:
            break
        run = min(len(crops), first + CROP_BATCH)
        batch = [_zoom_crop(image, cx, cy, zoom, CROP_SIDE) for cx, cy, zoom in crops[first : first + CROP_BATCH]]
        results = backend.detect_batch([b[0] for b in batch], threshold)
        for (_, ox, oy, scale), faces in zip(batch, results, strict=True):
            for face in faces:
                x0, y0, x1, y1 = face.box
                if min(x0, y0) < CROP_MARGIN or max(x1, y1) > CROP_SIDE - CROP_MARGIN:
                    continue
                found.append(_to_original(face, ox, oy, scale, scale))
    return found, run, len(crops)


def _inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= x < box[2] and box[1] <= y < box[3]


def _zoom_crop(image: np.ndarray, cx: float, cy: float, zoom: float, side: int):
    """A ``side`` px square of the image around (cx, cy) scaled by about ``zoom`` (edges replicated).

    Returns:
        (crop, ox, oy, scale) with crop pixel u <-> original (u + ox + 0.5) / scale - 0.5, so that
        :func:`_to_original` maps its detections back.
    """
    import cv2

    region = max(1, round(side / zoom))
    scale = side / region
    x0, y0 = round(cx - region / 2), round(cy - region / 2)
    height, width = image.shape[:2]
    xs, ys = np.clip(np.arange(x0, x0 + region), 0, width - 1), np.clip(np.arange(y0, y0 + region), 0, height - 1)
    if x0 >= 0 and y0 >= 0 and x0 + region <= width and y0 + region <= height:
        patch = image[y0 : y0 + region, x0 : x0 + region]
    else:
        patch = image[ys[:, None], xs[None, :]]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(patch, (side, side), interpolation=interpolation)
    return np.ascontiguousarray(crop), x0 * scale, y0 * scale, scale


def _upscaled_tile(image: np.ndarray, sx: float, sy: float, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Working pixels [x0, x0 + w) x [y0, y0 + h) of the image enlarged by (sx, sy), bilinear."""
    from facedeblur.face.align import warp_image

    # working pixel centre u <-> original centre (u + 0.5) / s - 0.5
    matrix = np.array([[sx, 0.0, 0.5 * sx - 0.5 - x0], [0.0, sy, 0.5 * sy - 0.5 - y0]])
    return np.ascontiguousarray(warp_image(image, matrix, (h, w), border="replicate"))


def _to_original(face: RawFace, ox: int, oy: int, sx: float, sy: float) -> RawFace:
    x0, y0, x1, y1 = face.box
    box = ((x0 + ox) / sx, (y0 + oy) / sy, (x1 + ox) / sx, (y1 + oy) / sy)
    points = None
    if face.points is not None:
        points = np.asarray(face.points, np.float64) + (ox, oy)
        points = ((points + 0.5) / (sx, sy) - 0.5).astype(np.float32)
    return RawFace(box, face.score, points)


def face_shaped(face: RawFace) -> bool:
    """Whether a detection is sure enough or shaped like a face: a score from :data:`DOUBT_SCORE`, or eyes
    at least :data:`MIN_EYE_SHARE` of the box apart (detections without landmarks pass).

    Example:
        >>> eyes = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
        >>> face_shaped(RawFace((0, 0, 100, 100), 0.35, eyes)), face_shaped(RawFace((0, 0, 100, 100), 0.35, eyes * 0.5))
        (True, False)
    """
    if face.points is None or face.score >= DOUBT_SCORE:
        return True
    points = np.asarray(face.points, np.float32)
    return float(np.linalg.norm(points[0] - points[1])) >= MIN_EYE_SHARE * face.size


def merge_faces(faces: list[RawFace], iou: float = MERGE_IOU, contained: float = MERGE_CONTAINED) -> list[RawFace]:
    """Non-maximum suppression across passes: one face per group of overlapping detections.

    Two detections are one face when their IoU reaches ``iou`` or when ``contained`` of the smaller box
    lies inside the larger; the one with the higher score is kept.

    Args:
        faces: detections in original pixels.

    Returns:
        The kept faces, best score first.

    Example:
        >>> a = RawFace((0, 0, 100, 100), 0.9)
        >>> b = RawFace((5, 5, 104, 104), 0.8)
        >>> c = RawFace((200, 0, 260, 60), 0.7)
        >>> [f.score for f in merge_faces([b, c, a])]
        [0.9, 0.7]
    """
    if not faces:
        return []
    boxes = np.array([f.box for f in faces], np.float64)
    scores = np.array([f.score for f in faces], np.float64)
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        smaller = np.minimum(areas[i], areas[rest])
        same = (inter >= iou * np.maximum(union, 1e-12)) | (inter >= contained * np.maximum(smaller, 1e-12))
        order = rest[~same]
    return [faces[i] for i in keep]
