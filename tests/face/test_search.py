"""The automatic face search: planning (scales, tiles, time bound), tiling and merging, real faces in big photos."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import canvas, place, val_faces
from facedeblur.face.detectors import BACKENDS, get_backend
from facedeblur.face.detectors.base import RawFace
from facedeblur.face.search import (
    CROP_SIDE,
    SearchOptions,
    _zoom_crop,
    face_shaped,
    merge_faces,
    plan_search,
    search_faces,
    tile_cores,
)


@pytest.fixture(scope="module")
def faces(utkface_val):
    return val_faces(utkface_val, 3)


@pytest.mark.parametrize("length,tile,overlap", [(1000, 400, 100), (5000, 2048, 512), (2049, 2048, 400), (37, 64, 16)])
def test_tile_cores_partition_the_axis_and_hold_every_small_face_whole(length, tile, overlap):
    spans = tile_cores(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert spans[0][2] == 0 and spans[-1][3] == length
    for (_, a1, _, c1), (b0, _, d0, _) in zip(spans, spans[1:], strict=False):
        assert c1 == d0  # cores touch: every centre belongs to exactly one tile
        assert a1 - b0 >= overlap  # neighbours share at least the overlap
    for start, end, core0, core1 in spans:
        assert end - start <= tile
        # a face of side <= overlap centred anywhere in the core lies inside the tile
        for centre in (core0, core1 - 1e-6):
            assert start <= max(0, centre - overlap / 2) and min(length, centre + overlap / 2) <= end


def test_merge_keeps_the_best_of_overlapping_and_contained_boxes():
    a = RawFace((0, 0, 100, 100), 0.9)
    same = RawFace((8, 6, 106, 104), 0.95)  # IoU ~0.8 with a: the better score wins
    inner = RawFace((10, 10, 70, 70), 0.5)  # wholly inside a: a partial view of the same face
    neighbour = RawFace((90, 0, 190, 100), 0.6)  # touches a: a different face
    kept = merge_faces([a, inner, neighbour, same])
    assert kept == [same, neighbour]
    assert merge_faces([]) == []


def test_merge_drops_a_mislocalised_coarse_box_that_holds_most_of_a_face():
    # from a held-out 8k photo of benchmarks/quality/face_recall.py: a blurred 80 px face found at 0.87,
    # and a coarse pass's 127 px box up and to the right of it at 0.30 (IoU 0.20; 65% of the face inside)
    face = RawFace((4915, 1011, 4989, 1085), 0.87)
    ghost = RawFace((4913, 931, 5040, 1059), 0.30)
    assert merge_faces([ghost, face]) == [face]
    # two faces whose boxes overlap by a third of the smaller one stay two faces
    near = RawFace((4964, 1011, 5038, 1085), 0.6)
    assert merge_faces([near, face]) == [face, near]


def test_plan_scales_from_the_smallest_face_wanted():
    hog = get_backend("hog")
    plan = plan_search(600, 800, SearchOptions("hog", min_face_size=40))
    assert plan.passes[0].scale == pytest.approx(hog.min_face / 40)
    assert plan.smallest_face == pytest.approx(40) and plan.limited_by is None
    cf = get_backend("centerface")
    # a big photo searched for big faces only is downscaled
    plan = plan_search(4320, 7680, SearchOptions("centerface", min_face_size=160))
    assert plan.passes[0].scale == pytest.approx(cf.min_face / 160)
    # passes continue until the largest face the image can hold is covered
    for small in (SearchOptions("centerface"), SearchOptions("hog"), SearchOptions("centerface", min_face_size=10)):
        plan = plan_search(2160, 3840, small)
        assert plan.passes[-1].faces[1] >= 2160
        for first, second in zip(plan.passes, plan.passes[1:], strict=False):
            assert second.faces[0] <= first.faces[1]  # no face size falls between two passes
            assert second.scale < first.scale


def test_big_working_images_are_tiled_and_expert_options_are_reported():
    plan = plan_search(4320, 7680, SearchOptions("centerface", min_face_size=24))
    finest = plan.passes[0]
    assert finest.tiles > 1 and finest.tile == get_backend("centerface").tile
    assert plan.to_dict()["passes"][0]["tiles"] == finest.tiles
    capped = plan_search(4320, 7680, SearchOptions("centerface", max_side=1920))
    assert capped.passes[0].width == 1920 and capped.limited_by == "max side"
    assert capped.smallest_face > 24
    fixed = plan_search(300, 400, SearchOptions("hog", upsample=1))
    assert fixed.passes[0].scale == 2.0 and fixed.limited_by == "upsample"
    assert plan_search(300, 400, SearchOptions("hog", upsample=0)).passes[0].scale == 1.0


def test_the_time_limit_lowers_the_finest_scale():
    free = plan_search(4320, 7680, SearchOptions("hog", min_face_size=24, time_limit=1000))
    bounded = plan_search(4320, 7680, SearchOptions("hog", min_face_size=24, time_limit=5))
    assert bounded.limited_by == "time limit" and free.limited_by is None
    assert bounded.passes[0].scale < free.passes[0].scale
    assert bounded.planned_seconds <= 5 * 1.05
    assert bounded.smallest_face > 24


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="detector must be one of"):
        SearchOptions("dpm")
    with pytest.raises(ValueError, match="min_face_size"):
        SearchOptions(min_face_size=0)
    with pytest.raises(ValueError, match="upsample"):
        SearchOptions(upsample=5)
    with pytest.raises(ValueError, match="max_side"):
        SearchOptions(max_side=-1)
    assert set(BACKENDS) == {"centerface", "hog", "cnn"}


def test_doubtful_detections_must_be_shaped_like_a_face(faces):
    # real faces found by CenterFace have their eyes 0.38-0.55 of the box apart, whatever their score
    image = canvas(600, 900, seed=5)
    for i, face in enumerate(faces):
        place(image, face, 100 + 250 * i, 200, 96)
    found, report = search_faces(image, SearchOptions("centerface", min_face_size=24))
    assert len(found) == len(faces) and report.implausible == 0
    for face in found:
        assert 0.38 <= np.linalg.norm(face.points[0] - face.points[1]) / face.size <= 0.55
    # a false positive of a held-out 8k photo: background texture at 0.31, eyes 0.32 of its 52 px box apart
    points = np.array([[17.0, 20.0], [33.7, 20.0], [25.0, 30.0], [18.0, 40.0], [32.0, 40.0]], np.float32)
    texture = RawFace((0.0, 0.0, 52.0, 52.0), 0.31, points)
    assert not face_shaped(texture)
    assert face_shaped(RawFace(texture.box, 0.45, points))  # a sure detection is not second-guessed
    assert face_shaped(RawFace(texture.box, 0.31))  # nor one without landmarks (HOG, MMOD)


def test_tiled_search_finds_small_faces_in_a_big_photo_once_each(faces):
    image = canvas(2000, 4200, seed=3)
    options = SearchOptions("centerface", min_face_size=20)  # the proposal pass at 0.8 x: two tiles
    plan = plan_search(*image.shape[:2], options)
    assert plan.passes[0].tiles == 2 and plan.passes[0].zoom == pytest.approx(1.6)
    # where the two tiles of the finest pass meet, in original pixels
    seam = tile_cores(plan.passes[0].width, plan.passes[0].tile, int(min(get_backend("centerface").tile / 4, 400)))
    boundary = seam[0][3] / plan.passes[0].scale
    boxes = [
        place(image, faces[0], int(boundary) - 30, 300, 64),  # straddles the seam between the tiles
        place(image, faces[1], 400, 1200, 56),
        place(image, faces[2], 3500, 1500, 72),
        place(image, faces[0], 2600, 900, 400),  # a big face: the coarse pass
    ]
    found, report = search_faces(image, options)
    assert report.found == len(found) == 4
    for box in boxes:
        matches = [f for f in found if _iou(f.box, box) > 0.3]
        assert len(matches) == 1, box
        assert matches[0].points is not None and matches[0].points.shape == (5, 2)
    assert report.seconds > 0 and report.passes[0].tiles == 2


def test_big_photos_propose_at_a_coarse_scale_and_check_small_faces_zoomed(faces):
    plan = plan_search(1080, 1920, SearchOptions())
    first = plan.passes[0]
    assert first.zoom == pytest.approx(32 / 24) and first.scale == pytest.approx(first.zoom / 2)
    assert plan.smallest_face == pytest.approx(24) and first.faces[0] == pytest.approx(24)
    # small photos, dlib backends and expert scales search plainly
    assert plan_search(480, 640, SearchOptions()).passes[0].zoom == 0
    assert plan_search(1080, 1920, SearchOptions("hog")).passes[0].zoom == 0
    assert plan_search(1080, 1920, SearchOptions(upsample=0)).passes[0].zoom == 0

    image = canvas(1080, 1920, seed=5)
    boxes = [
        place(image, faces[i % 3], 150 + 300 * i, 200 + 120 * (i % 4), side)
        for i, side in enumerate((30, 34, 38, 30, 120, 34))
    ]
    found, report = search_faces(image, SearchOptions())
    assert report.crops > 0 and report.to_dict()["crops"] == report.crops
    for box in boxes:
        matches = [f for f in found if _iou(f.box, box) > 0.3]
        assert len(matches) == 1, box
    assert len(found) == len(boxes)


def test_zoomed_search_finds_every_sharp_32_px_face_of_a_group_photo(utkface_val):
    # the target's smallest size: 24 real validation faces at 32 px (HOG box) in a 1080p photo, all
    # confirmed in zoomed crops (the proposal pass sees them at 21 px, below CenterFace's floor)
    people = val_faces(utkface_val, 24)
    image = canvas(1080, 1920, seed=7)
    chip = round(32 * 200 / 174.5)  # UTKFace chip side whose mean HOG box is 32 px
    boxes = [place(image, face, 120 + 280 * (i % 6), 130 + 240 * (i // 6), chip) for i, face in enumerate(people)]
    found, report = search_faces(image, SearchOptions())
    assert report.passes[0].zoom and report.crops >= len(boxes)
    hits = [sum(_iou(f.box, box) > 0.3 for f in found) for box in boxes]
    assert hits == [1] * len(boxes)
    assert len(found) == len(boxes)


def test_zoom_crops_map_back_to_the_original_pixels():
    image = np.zeros((130, 260, 3), np.uint8)
    image[116:120, 250:254] = 255  # a 4 px square centred at (251.5, 117.5), near the corner
    for zoom, centre in ((2.0, (240.0, 110.0)), (0.5, (230.0, 100.0)), (1.0, (255.0, 125.0))):
        crop, ox, oy, scale = _zoom_crop(image, *centre, zoom, CROP_SIDE)
        assert crop.shape == (CROP_SIDE, CROP_SIDE, 3) and scale == pytest.approx(zoom, rel=0.1)
        weight = crop[:, :, 0].astype(float)
        ys, xs = np.mgrid[0:CROP_SIDE, 0:CROP_SIDE]
        u, v = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
        assert (u + ox + 0.5) / scale - 0.5 == pytest.approx(251.5, abs=0.3)
        assert (v + oy + 0.5) / scale - 0.5 == pytest.approx(117.5, abs=0.3)


def test_upscaled_search_maps_boxes_back_exactly(faces):
    image = canvas(240, 320, seed=4)
    box = place(image, faces[1], 100, 60, 40)  # a 35 px HOG box: found only on the image enlarged
    found, report = search_faces(image, SearchOptions("hog", min_face_size=24))
    assert report.passes[0].scale > 3
    assert len(found) == 1
    chip_box = np.asarray([5.534, 1.094, 179.462, 176.468]) * 40 / 200 + (100, 60, 100, 60)  # template box_mean
    assert _iou(found[0].box, chip_box) > 0.5 and _iou(found[0].box, box) > 0.4


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
