"""Faces smaller and larger than the model's face size: found, restored, pasted back without seams or lost detail."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import canvas, place
from _restore_helpers import cached_val_faces
from facedeblur.face.align import template
from facedeblur.restore import Restorer


class _Model:
    """A FaceModel at 128 px that applies ``change`` to the batch."""

    name = "toy"
    face_size = 128
    template = template(128)
    metadata = None
    device = "cpu"

    def __init__(self, change):
        self.change = change
        self.seen: list[np.ndarray] = []

    def __call__(self, batch):
        self.seen.append(batch)
        return np.clip(self.change(batch), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def photos(utkface_val):
    """A photo with one small face (box ~31 px) and one with a large face (box ~350 px)."""
    faces = cached_val_faces(utkface_val, 2)
    small = canvas(240, 320, seed=7)
    small_box = place(small, faces[0], 140, 90, 36)
    large = canvas(520, 520, seed=8)
    large_box = place(large, faces[1], 60, 60, 400)
    return (small, small_box), (large, large_box)


def _inside(face, box):
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return box[0] < cx < box[2] and box[1] < cy < box[3]


def test_small_faces_are_found_upscaled_to_the_model_and_an_identity_model_changes_nothing(photos):
    for image, box in photos:
        model = _Model(lambda batch: batch)
        result = Restorer(model).restore(image)
        assert len(result.faces) == 1 and _inside(result.faces[0], box)
        assert model.seen[0].shape == (1, 3, 128, 128)  # every face reaches the model at its size
        assert result.search["passes"][0]["scale"] > 1  # the default search enlarged the photo
        # the pasted change is zero: no blur from the round trip through 128 px, no halo, no seam
        assert np.array_equal(result.image, image)


def test_small_face_change_is_pasted_without_seams(photos):
    image, box = photos[0][0] // 2, photos[0][1]  # darkened: the +0.2 below never clips, change = 0.2 x mask
    result = Restorer(_Model(lambda batch: batch + 0.2)).restore(image)
    assert len(result.faces) == 1
    change = result.image.astype(np.float64) - image.astype(np.float64)
    assert change.max() >= 40  # the face got brighter (0.2 = 51 levels in the middle of the mask)
    x0, y0, x1, y1 = box
    pad = (x1 - x0) // 2
    outside = np.ones(image.shape[:2], bool)
    outside[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    assert np.abs(change[outside]).max() == 0  # nothing leaks out of the face region
    # the mask ramps over several pixels even on a 31 px face: no neighbouring pixels jump by the full change
    steps = max(np.abs(np.diff(change, axis=0)).max(), np.abs(np.diff(change, axis=1)).max())
    assert steps < 0.6 * change.max()


def test_large_faces_keep_their_own_detail(photos):
    import cv2

    image = photos[1][0]
    result = Restorer(_Model(lambda batch: batch * 0.8 + 0.1)).restore(image)
    assert len(result.faces) == 1
    out, src = result.image.astype(np.float32), image.astype(np.float32)
    change = out - src
    assert np.abs(change).max() > 10
    # the photo's detail at its own resolution survives: the change is smooth (the model's 128 px
    # resolution), so the high frequencies of the output are the input's
    high = np.abs(cv2.Laplacian(src, cv2.CV_32F)).mean()
    high_change = np.abs(cv2.Laplacian(change, cv2.CV_32F)).mean()
    assert high_change < 0.15 * high
    naive = cv2.resize(cv2.resize(src, (128, 128), interpolation=cv2.INTER_AREA), src.shape[1::-1])
    assert np.abs(cv2.Laplacian(naive, cv2.CV_32F)).mean() < 0.7 * high  # what pasting the crop would lose


def test_a_small_face_in_a_big_photo_is_found_zoomed_and_restored_in_place(utkface_val):
    """The zoomed search (proposal pass plus crops) feeds restore like a plain pass: same paste, no leak."""
    face = cached_val_faces(utkface_val, 1)[0]
    image = canvas(1080, 1920, seed=9) // 2
    box = place(image, face, 1300, 700, 32)  # a ~28 px face: below what the proposal pass is sure of
    unchanged = Restorer(_Model(lambda batch: batch)).restore(image)
    assert unchanged.search["passes"][0]["zoom"] > unchanged.search["passes"][0]["scale"]
    assert unchanged.search["crops"] >= 1
    assert len(unchanged.faces) == 1 and _inside(unchanged.faces[0], box)
    assert np.array_equal(unchanged.image, image)
    brighter = Restorer(_Model(lambda batch: batch + 0.2)).restore(image)
    change = brighter.image.astype(np.float64) - image.astype(np.float64)
    x0, y0, x1, y1 = box
    pad = (x1 - x0) // 2
    outside = np.ones(image.shape[:2], bool)
    outside[y0 - pad : y1 + pad, x0 - pad : x1 + pad] = False
    assert change.max() >= 40 and np.abs(change[outside]).max() == 0
