"""The identity network: conversion cache, parity with dlib, features, gradients, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facedeblur.face import identity, identity_weights
from facedeblur.face.identity import (
    CHIP_SIZE,
    FEATURE_CHANNELS,
    IdentityNet,
    aligned_face_to_chip,
    descriptor_distance,
    feature_shapes,
    identity_from_aligned_face,
    load_identity_network,
)
from facedeblur.face.identity_weights import load_identity_state
from facedeblur.face.model_files import dlib_model_path

SOURCE = dlib_model_path(identity.DLIB_RECOGNITION_MODEL)


@pytest.fixture(scope="module")
def net() -> IdentityNet:
    return load_identity_network("cpu")


@pytest.fixture(scope="module")
def converted() -> dict[str, torch.Tensor]:
    return identity_weights.convert_dlib_recognition_model(SOURCE)


@pytest.fixture(scope="module")
def val_faces(utkface_val):
    """Four real faces: the 200 px image, dlib's 150 px chip and dlib's own descriptor of it."""
    dlib = pytest.importorskip("dlib")
    from facedeblur.images import read_image

    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
    recognizer = dlib.face_recognition_model_v1(str(SOURCE))
    faces = []
    for path in sorted(utkface_val.glob("*.jpg")):
        image = read_image(path)
        rects = detector(image, 0)
        if not rects:
            continue
        shape = sp5(image, rects[0])
        chip = dlib.get_face_chip(image, shape, CHIP_SIZE, 0.25)
        faces.append((image, chip, np.array(recognizer.compute_face_descriptor(chip))))
        if len(faces) == 4:
            break
    assert len(faces) == 4, "expected dlib to find faces in UTKFace val"
    return faces


def to_batch(images) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def test_conversion_is_cached_with_checksum(tmp_path, monkeypatch, converted):
    cache = tmp_path / "id.safetensors"
    calls = []

    def fake_convert(source):
        calls.append(source)
        return {k: v.clone() for k, v in converted.items()}

    monkeypatch.setattr(identity_weights, "convert_dlib_recognition_model", fake_convert)
    first = load_identity_state(SOURCE, cache)
    assert len(calls) == 1 and cache.is_file()
    from safetensors import safe_open

    with safe_open(str(cache), framework="pt") as fh:
        assert fh.metadata()["source_sha256"] == identity_weights._sha256(SOURCE)
    second = load_identity_state(SOURCE, cache)  # from the cache
    assert len(calls) == 1
    assert all(torch.equal(first[k], second[k]) for k in first)

    # A cache converted from another source file is rebuilt.
    from safetensors.torch import save_file

    save_file(second, str(cache), metadata={"source_sha256": "0" * 64, "format_version": "1"})
    load_identity_state(SOURCE, cache)
    assert len(calls) == 2

    # A corrupt cache is rebuilt too.
    cache.write_bytes(cache.read_bytes()[:1000])
    again = load_identity_state(SOURCE, cache)
    assert len(calls) == 3 and torch.equal(again["fc.weight"], first["fc.weight"])
    assert identity_weights._read_cache(cache, identity_weights._sha256(SOURCE)) is not None


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEDEBLUR_CACHE", str(tmp_path))
    assert identity_weights.converted_weights_path().parent.parent == tmp_path


def test_converted_weights_load_and_count(converted):
    model = IdentityNet()
    model.load_state_dict(converted)
    n = sum(p.numel() for p in model.parameters())
    assert 5_500_000 < n < 5_700_000
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 29


def test_network_is_shared_frozen_and_in_eval_mode(net):
    assert load_identity_network("cpu") is net
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_descriptors_match_dlib(net, val_faces):
    chips = to_batch([chip for _, chip, _ in val_faces])
    with torch.no_grad():
        ours = net(chips).numpy()
    theirs = np.stack([d for _, _, d in val_faces])
    assert np.abs(ours - theirs).max() < 1e-4


def test_aligned_face_descriptors_close_to_dlib_chips(net, val_faces):
    faces = torch.nn.functional.interpolate(to_batch([img for img, _, _ in val_faces]), size=(128, 128), mode="area")
    theirs = torch.from_numpy(np.stack([d for _, _, d in val_faces])).float()
    with torch.no_grad():
        ours = identity_from_aligned_face(faces, net)
    assert (1 - descriptor_distance(ours, theirs, "cosine")).min() > 0.97
    assert descriptor_distance(ours, theirs, "l2").max() < identity.SAME_PERSON_L2 / 2


def test_gradient_flows_to_input(net):
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    feats = net.features(aligned_face_to_chip(x))
    d = net.descriptor_from_features(feats)
    loss = descriptor_distance(d, torch.ones_like(d), "cosine").sum() + feats[2].pow(2).mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_feature_shapes(net):
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        native = net.features(x, resize=False)
        resized = net.features(x)
    assert [tuple(f.shape[1:]) for f in native] == feature_shapes(128)
    assert [tuple(f.shape[1:]) for f in resized] == feature_shapes(150)
    assert feature_shapes(150) == [(32, 72, 72), (32, 35, 35), (64, 17, 17), (128, 8, 8), (256, 4, 4), (256, 2, 2)]
    assert feature_shapes(128) == [(32, 61, 61), (32, 30, 30), (64, 15, 15), (128, 7, 7), (256, 3, 3), (256, 1, 1)]
    assert tuple(f.shape[1] for f in native) == FEATURE_CHANNELS
    assert all((f >= 0).all() for f in native)  # every feature map is taken after a ReLU
    torch.testing.assert_close(net.descriptor_from_features(resized), net(x))


def test_batch_consistency(net):
    x = torch.rand(2, 3, 150, 150)
    with torch.no_grad():
        batch = net(x)
        single = torch.cat([net(x[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)


def test_chip_resampling_identity_box():
    x = torch.rand(2, 3, 150, 150)
    torch.testing.assert_close(aligned_face_to_chip(x, (0.5, 0.5, 1.0)), x, atol=1e-4, rtol=0)


def test_descriptor_distance():
    a = torch.randn(4, 128)
    torch.testing.assert_close(descriptor_distance(a, a), torch.zeros(4), atol=1e-6, rtol=0)
    torch.testing.assert_close(descriptor_distance(a, -a), torch.full((4,), 2.0))
    torch.testing.assert_close(descriptor_distance(a, a + 1, "l2"), torch.full((4,), 128**0.5))
    with pytest.raises(ValueError, match="metric"):
        descriptor_distance(a, a, "manhattan")
    with pytest.raises(ValueError, match="128"):
        descriptor_distance(a[:, :10], a[:, :10])


def test_bad_inputs_are_explained(net):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.rand(1, 1, 150, 150))
    with pytest.raises(TypeError, match="floating"):
        net(torch.zeros(1, 3, 150, 150, dtype=torch.uint8))
    with pytest.raises(ValueError, match="at least 47"):
        net.features(torch.rand(1, 3, 32, 32), resize=False)
