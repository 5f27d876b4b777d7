"""Paste-back: untouched background, no seams, overlapping faces, borders, every pixel format."""

from __future__ import annotations

import numpy as np
import pytest

from _face_helpers import canvas, place, val_faces
from facedeblur.face.align import align_face, invert_affine, template, warp_image
from facedeblur.face.detect import detect_faces
from facedeblur.face.paste import crop_mask, paste_faces, paste_faces_pixels
from facedeblur.images import from_float_rgb, to_float_rgb


@pytest.fixture(scope="module")
def scene(utkface_val):
    """A 420 x 640 photo with two overlapping real faces and one touching the right border."""
    faces = val_faces(utkface_val, 3)
    image = canvas(420, 640, seed=3)
    place(image, faces[0], 30, 60, 260)
    place(image, faces[1], 230, 100, 240)  # overlaps the first face's crop region
    place(image, faces[2], 500, 150, 200)  # hangs off the right edge
    found = detect_faces(image, upsample=0)
    return image, found


def _landmarks(face_side: float, x: float, y: float) -> np.ndarray:
    return template(200) * face_side / 200 + np.float32([x, y])


def test_crop_mask_is_eroded_and_feathered():
    mask = crop_mask(100, erode=0.05, feather=0.1)
    assert mask.shape == (100, 100)
    assert (mask[:5] == 0).all() and (mask[:, -5:] == 0).all()
    assert mask[5:, 5:-5].max() > 0 and (mask[15:85, 15:85] == 1).all()
    assert np.abs(np.diff(mask, axis=0)).max() < 0.2  # a ramp, not a step
    # the zero border scales with the crop
    assert (crop_mask(400, 0.05, 0.1)[:20] == 0).all() and crop_mask(400, 0.05, 0.1)[21:, 21:-21].max() > 0
    with pytest.raises(ValueError):
        crop_mask(64, erode=0.3, feather=0.3)


def test_background_outside_masks_is_bit_identical(scene):
    image, found = scene
    rgb = image.astype(np.float32) / 255
    crops, matrices = [], []
    for face in found:
        crop, matrix = align_face(rgb, face.landmarks5, 128)
        crops.append(1.0 - crop)  # a very different "restoration"
        matrices.append(matrix)
    out, mask = paste_faces(rgb, crops, matrices, return_mask=True)
    assert out is not rgb and out.dtype == np.float32
    outside = mask == 0
    assert outside.mean() > 0.3 and (mask > 0).mean() > 0.1
    assert np.array_equal(out[outside], rgb[outside])
    assert not np.allclose(out[mask > 0.5], rgb[mask > 0.5])
    assert np.array_equal(rgb, image.astype(np.float32) / 255)  # input untouched


def test_pasting_the_unchanged_crops_leaves_no_seam(scene):
    image, found = scene
    rgb = image.astype(np.float32) / 255
    crops, matrices = zip(*(align_face(rgb, f.landmarks5, 512) for f in found), strict=True)
    out = paste_faces(rgb, list(crops), list(matrices))
    error = np.abs(out - rgb)
    assert error.mean() < 0.01 and np.percentile(error, 99) < 0.1  # resampling only
    # a restoration of another brightness fades in smoothly: no step anywhere
    light = paste_faces(rgb, [np.full_like(c, 0.8) for c in crops], list(matrices))
    dark, mask = paste_faces(rgb, [np.full_like(c, 0.3) for c in crops], list(matrices), return_mask=True)
    diff = (light - dark).mean(axis=2)  # = 0.5 x blend weight
    assert np.allclose(diff, 0.5 * mask, atol=1e-5)
    steps = max(np.abs(np.diff(diff, axis=0)).max(), np.abs(np.diff(diff, axis=1)).max())
    assert diff.max() > 0.45 and steps < 0.05
    assert max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max()) < 0.08


def test_overlapping_faces_blend_independently_of_order(scene):
    image, found = scene
    rgb = image.astype(np.float32) / 255
    pairs = [align_face(rgb, f.landmarks5, 128) for f in found]
    crops = [np.full_like(c, value) for (c, _), value in zip(pairs, (0.2, 0.9, 0.5), strict=True)]
    matrices = [m for _, m in pairs]
    forward = paste_faces(rgb, crops, matrices)
    backward = paste_faces(rgb, crops[::-1], matrices[::-1])
    assert np.allclose(forward, backward, atol=1e-6)
    _, masks = paste_faces(rgb, crops[:1], matrices[:1], return_mask=True)
    _, mask2 = paste_faces(rgb, crops[1:2], matrices[1:2], return_mask=True)
    assert ((masks > 0) & (mask2 > 0)).any(), "the scene's faces should overlap"


def test_face_touching_the_border_pastes_back(scene):
    image, found = scene
    rgb = image.astype(np.float32) / 255
    edge = max(found, key=lambda f: f.box[2])
    assert edge.box[2] > 600
    crop, matrix = align_face(rgb, edge.landmarks5, 128)
    out, mask = paste_faces(rgb, [np.zeros_like(crop)], [matrix], return_mask=True)
    assert mask[:, -1].max() > 0.99  # reaches the border at full strength
    assert np.array_equal(out[mask == 0], rgb[mask == 0])
    # a crop entirely outside the image changes nothing
    far = matrix.copy()
    far[:, 2] += 5000
    assert np.array_equal(paste_faces(rgb, [crop], [far]), rgb)


def test_crop_smaller_than_the_face_in_the_photo_pastes_smoothly():
    rgb = canvas(600, 600, seed=4).astype(np.float32) / 255
    crop, matrix = align_face(rgb, _landmarks(500, 50, 50), 64)  # 64 px crop of a 500 px face
    assert np.allclose(invert_affine(invert_affine(matrix)), matrix)
    out = paste_faces(rgb, [crop], [matrix])
    assert np.abs(out - rgb).max() < 0.1


@pytest.mark.parametrize(
    "channels, dtype",
    [(1, np.uint8), (3, np.uint8), (4, np.uint8), (2, np.uint16), (3, np.uint16), (4, np.uint16)],
)
def test_every_pixel_format_survives_the_round_trip(channels, dtype):
    rng = np.random.default_rng(channels)
    top = np.iinfo(dtype).max
    pixels = rng.integers(0, top + 1, (200, 260, channels), dtype=np.int64).astype(dtype)
    rgb, alpha, _ = to_float_rgb(pixels)
    crop, matrix = align_face(rgb, _landmarks(150, 40, 20), 128)
    out = paste_faces_pixels(pixels, [np.clip(crop * 0.5, 0, 1)], [matrix])
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    _, mask = paste_faces(rgb, [crop], [matrix], return_mask=True)
    assert np.array_equal(out[mask == 0], pixels[mask == 0])
    assert not np.array_equal(out[mask > 0.5], pixels[mask > 0.5])
    if alpha is not None:
        assert np.array_equal(out[..., -1], pixels[..., -1])  # alpha is never touched
    # converting to float and back without pasting is lossless too
    assert np.array_equal(from_float_rgb(*to_float_rgb(pixels)).reshape(pixels.shape), pixels) or channels in (1, 2)


def test_no_face_leaves_the_image_unchanged():
    pixels = np.random.default_rng(7).integers(0, 65536, (30, 40, 2)).astype(np.uint16)
    out = paste_faces_pixels(pixels, [], [])
    assert out is not pixels and np.array_equal(out, pixels) and out.dtype == np.uint16


def test_bad_arguments_are_rejected():
    rgb = np.zeros((50, 50, 3), np.float32)
    with pytest.raises(ValueError, match="crops but"):
        paste_faces(rgb, [np.zeros((8, 8, 3))], [])
    with pytest.raises(ValueError, match=r"\(S, S, 3\)"):
        paste_faces(rgb, [np.zeros((8, 9, 3))], [np.eye(2, 3)])
    with pytest.raises(ValueError, match="RGB"):
        paste_faces(np.zeros((50, 50)), [], [])


def test_a_still_face_reuses_its_warped_mask_and_pastes_the_same_pixels():
    from facedeblur.face import paste as paste_module
    from facedeblur.face.paste import paste_changes, warped_mask

    frame = np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    _, first = align_face(frame.astype(np.float32) / 255, _landmarks(70, 30, 20), 64)
    _, second = align_face(frame.astype(np.float32) / 255, _landmarks(60, 70, 40), 64)  # overlaps the first
    changes = [np.full((64, 64, 3), 0.1, np.float32), np.full((64, 64, 3), -0.05, np.float32)]
    paste_module._warped.clear()
    fresh = paste_changes(frame.copy(), changes, [first, second])
    assert len(paste_module._warped) == 2
    again = paste_changes(frame.copy(), changes, [first.copy(), second.copy()])  # equal matrices: cached masks
    assert np.array_equal(fresh, again) and len(paste_module._warped) == 2
    # the cached mask is exactly the warped crop mask, and nobody can change it
    to_region = invert_affine(first)
    mask = warped_mask(64, to_region, (50, 60))
    expected = np.clip(warp_image(crop_mask(64), to_region, (50, 60), border="constant"), 0.0, 1.0)
    assert warped_mask(64, to_region.copy(), (50, 60)) is mask and np.array_equal(mask, expected)
    with pytest.raises(ValueError):
        mask[0, 0] = 1.0
    # a moved face gets its own mask; the cache stays small
    for shift in range(2 * paste_module.MASK_CACHE):
        moved = first.copy()
        moved[0, 2] += shift
        paste_changes(frame.copy(), changes[:1], [moved])
    assert len(paste_module._warped) <= paste_module.MASK_CACHE
