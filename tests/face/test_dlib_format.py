"""dlib's DNN serialisation read in pure Python: primitives, a synthetic network, the real file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facedeblur.face.dlib_format import DlibFormatError, _Reader, parse_dlib_network, read_dlib_network

# ---- a minimal writer of dlib's format (dlib/serialize.h), to build files the reader must parse


def pack_int(value: int) -> bytes:
    neg = 0x80 if value < 0 else 0
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | neg]) + body


def pack_str(text: str) -> bytes:
    return pack_int(len(text)) + text.encode("ascii")


def pack_real(value: float) -> bytes:
    if value == 0:
        return pack_int(0) + pack_int(0)
    mantissa, exponent = math.frexp(value)
    return pack_int(int(mantissa * 2**53)) + pack_int(exponent - 53)


def pack_tensor(array: np.ndarray, version: int = 2) -> bytes:
    shape = list(array.shape) + [1] * (4 - array.ndim)
    head = pack_int(version) + b"".join(pack_int(d) for d in shape)
    if version == 2:
        return head + array.astype("<f4").tobytes()
    return head + b"".join(pack_real(float(v)) for v in array.reshape(-1))


def pack_alias(*shape: int) -> bytes:
    return pack_int(1) + b"".join(pack_int(d) for d in shape)


EMPTY = pack_tensor(np.zeros((0, 0, 0, 0), np.float32))
STATE = b"110" + EMPTY * 3


def test_primitives_round_trip():
    values = [0, 1, -1, 127, 128, 255, 256, -300, 2**40, -(2**62)]
    r = _Reader(b"".join(pack_int(v) for v in values) + pack_str("con_4") + b"10")
    assert [r.int() for _ in values] == values
    assert r.string() == "con_4"
    assert r.bool() is True and r.bool() is False
    for x in (0.0, 1.0, -2.5, 122.782, 1e-30):
        assert _Reader(pack_real(x)).real() == pytest.approx(x, rel=1e-15)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7
    np.testing.assert_array_equal(_Reader(pack_tensor(array)).tensor(), array)
    np.testing.assert_allclose(_Reader(pack_tensor(array, version=1)).tensor(), array, rtol=1e-7)


def test_bad_primitives_raise_with_position():
    with pytest.raises(DlibFormatError, match="truncated"):
        _Reader(b"\x02\x01").int()
    with pytest.raises(DlibFormatError, match="bool"):
        _Reader(b"x").bool()
    with pytest.raises(DlibFormatError, match="control byte"):
        _Reader(b"\x0f").int()


def synthetic_network(filters: np.ndarray, bias: np.ndarray, weights: np.ndarray) -> bytes:
    """loss_metric<fc_no_bias<relu<tag1<con<input_rgb_image_sized>>>>> as dlib writes it."""
    con = (
        pack_str("con_4")
        + pack_tensor(np.concatenate([filters.reshape(-1), bias]))
        + b"".join(pack_int(v) for v in (filters.shape[0], 3, 3, 1, 1, 1, 1))
        + pack_alias(*filters.shape)
        + pack_alias(1, filters.shape[0], 1, 1)
        + b"".join(pack_real(v) for v in (1.0, 1.0, 1.0, 0.0))
    )
    fc = (
        pack_str("fc_2")
        + pack_int(weights.shape[1])
        + pack_int(weights.shape[0])
        + pack_tensor(weights)
        + pack_alias(weights.shape[0], weights.shape[1], 1, 1)
        + pack_alias(0, 0, 0, 0)
        + pack_int(1)
        + b"".join(pack_real(v) for v in (1.0, 1.0, 1.0, 0.0))
    )
    return (
        pack_int(1)
        + pack_str("loss_metric_2")
        + pack_real(0.04)
        + pack_real(0.6)
        + pack_int(2)  # fc
        + pack_int(2)  # relu
        + pack_int(1)  # tag1
        + pack_int(3)  # con on the input layer
        + pack_str("input_rgb_image_sized")
        + b"".join(pack_real(v) for v in (122.782, 117.001, 104.298))
        + pack_int(150)
        + pack_int(150)
        + con
        + STATE
        + pack_int(1)  # _sample_expansion_factor
        + pack_str("relu_")
        + STATE
        + fc
        + STATE
    )


def test_synthetic_network_parses_exactly():
    rng = np.random.default_rng(0)
    filters = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    weights = rng.standard_normal((4, 8)).astype(np.float32)
    net = parse_dlib_network(synthetic_network(filters, bias, weights))
    assert net.loss.attrs["distance_threshold"] == pytest.approx(0.6)
    assert net.input.attrs["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298))
    assert [layer.kind for layer in net.layers] == ["con", "tag", "relu", "fc"]
    con, fc = net.layers[0], net.layers[3]
    np.testing.assert_array_equal(con.tensors["filters"], filters)
    np.testing.assert_array_equal(con.tensors["biases"], bias)
    assert (con.attrs["stride_y"], con.attrs["padding_x"]) == (1, 1)
    np.testing.assert_array_equal(fc.tensors["weights"], weights)
    assert fc.attrs["bias_mode"] == 1 and "biases" not in fc.tensors


def test_truncated_or_padded_network_is_rejected():
    data = synthetic_network(np.ones((2, 3, 3, 3), np.float32), np.ones(2, np.float32), np.ones((2, 5), np.float32))
    with pytest.raises(DlibFormatError, match="truncated"):
        parse_dlib_network(data[:-7])
    with pytest.raises(DlibFormatError, match="trailing"):
        parse_dlib_network(data + b"\x00")
    with pytest.raises(DlibFormatError):
        parse_dlib_network(b"not a dlib file at all")


def test_real_recognition_model_parses():
    from facedeblur.face.model_files import dlib_model_path

    net = read_dlib_network(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
    kinds = [layer.kind for layer in net.layers]
    assert net.loss.name == "loss_metric_2" and net.input.attrs["nr"] == 150
    assert (kinds.count("con"), kinds.count("affine"), kinds.count("add_prev"), kinds.count("avg_pool")) == (
        29,
        29,
        14,
        5,
    )
    n_params = sum(v.size for layer in net.layers for v in layer.tensors.values())
    assert 5_500_000 < n_params < 5_700_000
