"""Read dlib's serialised DNN files (``.dat``) in pure Python: no compiler, no dlib.

dlib writes a network with ``serialize(net, out)``: a loss layer, then every layer nested inside the
next, each ``add_layer`` writing a version int, its whole subnetwork, its layer details (a version
string such as ``"con_4"`` followed by the layer's fields) and some training state (three bools and
two or three tensors, empty in released models). ``add_tag_layer`` and ``add_skip_layer`` write only a
version int and their subnetwork, so tag ids are not in the file: the reader returns the layers
bottom-up and the caller matches them against the architecture it expects.

Primitives (dlib/serialize.h, dlib/dnn/tensor.h):

- integers: one control byte (bit 7 = negative, low nibble = byte count) then little-endian bytes;
- bool: the character ``'1'`` or ``'0'``;
- string: its length as an integer, then the bytes;
- float/double: mantissa (int64) and exponent (int16) as integers, value = mantissa * 2**exponent;
- tensor: version int (2: raw little-endian float32 data; 1: one float per element), then num_samples,
  k, nr, nc; alias_tensor: version 1 then the four dimensions (it holds no data).

Example:
    >>> from facedeblur.face.model_files import dlib_model_path
    >>> net = read_dlib_network(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
    >>> net.loss.name, net.input.name, sum(layer.kind == "con" for layer in net.layers)
    ('loss_metric_2', 'input_rgb_image_sized', 29)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DlibFormatError", "DlibLayer", "DlibNetwork", "read_dlib_network", "parse_dlib_network"]


class DlibFormatError(ValueError):
    """The bytes are not a dlib DNN file this reader understands (message says where and why)."""


@dataclass
class DlibLayer:
    """One layer as stored in the file.

    Attributes:
        kind: ``"con"``, ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``, ``"add_prev"``,
            ``"fc"``, ``"tag"`` (a tag or skip layer: the file does not tell them apart), ``"input"``
            or ``"loss"``.
        name: the version string dlib wrote (``"con_4"``, ``"affine_"``...); ``""`` for tags.
        attrs: scalar fields (``num_filters``, ``stride_y``, ``padding_x``, ``mode``...).
        tensors: parameter arrays in dlib's layout (``filters`` (out, in, kh, kw), ``biases`` (out,),
            ``gamma``/``beta`` (k,), ``weights`` (num_inputs, num_outputs)).
    """

    kind: str
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A parsed network: its loss layer, its input layer and every other layer from the bottom up."""

    loss: DlibLayer
    input: DlibLayer
    layers: list[DlibLayer]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def fail(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{message} at byte {self.pos}")

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"file truncated (wanted {n} bytes)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def bool(self) -> bool:
        ch = self.take(1)[0]
        if ch not in (ord("0"), ord("1")):
            raise self.fail(f"bad bool byte 0x{ch:02x}")
        return ch == ord("1")

    def string(self, max_len: int = 1 << 16) -> str:
        n = self.int()
        if not 0 <= n <= max_len:
            raise self.fail(f"implausible string length {n}")
        raw = bytes(self.take(n))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail("non-ASCII string") from exc

    def peek_string(self) -> str | None:
        """Return the string at the cursor without consuming it, or None if there is none."""
        start = self.pos
        try:
            return self.string(max_len=256)
        except DlibFormatError:
            return None
        finally:
            self.pos = start

    def real(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        # dlib marks non-finite values with extreme exponents (float_details).
        if exponent == 32767:
            return math.inf if mantissa > 0 else -math.inf if mantissa < 0 else math.nan
        return math.ldexp(float(mantissa), exponent) if mantissa else 0.0

    def tensor(self) -> np.ndarray:
        version = self.int()
        shape = tuple(self.int() for _ in range(4))
        if any(d < 0 for d in shape):
            raise self.fail(f"negative tensor dimension {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        if version == 2:
            values = np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32)
        elif version == 1:
            values = np.array([self.real() for _ in range(count)], dtype=np.float32)
        else:
            raise self.fail(f"unknown tensor version {version}")
        return values.reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise self.fail(f"unknown alias_tensor version {version}")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


def _split(params: np.ndarray, aliases: list[tuple[str, tuple[int, int, int, int]]]) -> dict[str, np.ndarray]:
    """Cut a layer's flat parameter tensor into the alias tensors that view it, in order."""
    flat = params.reshape(-1)
    out: dict[str, np.ndarray] = {}
    offset = 0
    for name, shape in aliases:
        size = int(np.prod(shape))
        if size == 0:
            continue
        if offset + size > flat.size:
            raise DlibFormatError(f"alias {name} {shape} does not fit in {flat.size} parameters")
        out[name] = flat[offset : offset + size].reshape(shape).copy()
        offset += size
    if offset != flat.size:
        raise DlibFormatError(f"{flat.size - offset} parameters not covered by the layer's aliases")
    return out


def _pool(r: _Reader, kind: str, name: str) -> DlibLayer:
    keys = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    return DlibLayer(kind, name, {k: r.int() for k in keys})


def _details(r: _Reader) -> DlibLayer:
    """Parse one layer's details, dispatching on the version string dlib wrote first."""
    name = r.string()
    if name == "con_4":
        params = r.tensor()
        attrs = {k: r.int() for k in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")}
        filters, biases = r.alias(), r.alias()
        for k in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            attrs[k] = r.real()
        tensors = _split(params, [("filters", filters), ("biases", biases)])
        tensors["biases"] = tensors["biases"].reshape(-1)
        return DlibLayer("con", name, attrs, tensors)
    if name == "affine_":
        params = r.tensor()
        gamma, beta = r.alias(), r.alias()
        mode = r.int()
        tensors = {k: v.reshape(-1) for k, v in _split(params, [("gamma", gamma), ("beta", beta)]).items()}
        return DlibLayer("affine", name, {"mode": mode}, tensors)
    if name in ("bn_con2", "bn_fc2"):
        # A batch-norm layer saved from a training net: dlib's affine_ converts it on load, so do we.
        params = r.tensor()
        gamma, beta = r.alias(), r.alias()
        _means, _invstds = r.tensor(), r.tensor()
        running_means, running_vars = r.tensor().reshape(-1), r.tensor().reshape(-1)
        r.int(), r.int()  # num_updates, running_stats_window_size
        for _ in range(4):
            r.real()
        eps = r.real()
        split = _split(params, [("gamma", gamma), ("beta", beta)])
        g = split["gamma"].reshape(-1) / np.sqrt(running_vars + eps)
        b = split["beta"].reshape(-1) - g * running_means
        mode = 0 if name == "bn_con2" else 1
        return DlibLayer("affine", name, {"mode": mode}, {"gamma": g.astype(np.float32), "beta": b.astype(np.float32)})
    if name == "relu_":
        return DlibLayer("relu", name)
    if name == "add_prev_":
        return DlibLayer("add_prev", name)
    if name == "max_pool_2":
        return _pool(r, "max_pool", name)
    if name == "avg_pool_2":
        return _pool(r, "avg_pool", name)
    if name == "fc_2":
        attrs: dict[str, Any] = {"num_outputs": r.int(), "num_inputs": r.int()}
        params = r.tensor()
        weights, biases = r.alias(), r.alias()
        attrs["bias_mode"] = r.int()  # 0: with bias, 1: fc_no_bias
        for k in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            attrs[k] = r.real()
        tensors = _split(params, [("weights", weights), ("biases", biases)])
        tensors["weights"] = tensors["weights"].reshape(attrs["num_inputs"], attrs["num_outputs"])
        if "biases" in tensors:
            tensors["biases"] = tensors["biases"].reshape(-1)
        return DlibLayer("fc", name, attrs, tensors)
    raise r.fail(f"unsupported dlib layer {name!r}")


def _input_layer(r: _Reader) -> DlibLayer:
    name = r.string()
    if name in ("input_rgb_image", "input_rgb_image_sized"):
        attrs: dict[str, Any] = {"mean_rgb": (r.real(), r.real(), r.real())}
        if name == "input_rgb_image_sized":
            attrs["nr"], attrs["nc"] = r.int(), r.int()
        return DlibLayer("input", name, attrs)
    raise r.fail(f"unsupported dlib input layer {name!r}")


def _loss_layer(r: _Reader) -> DlibLayer:
    name = r.string()
    if name == "loss_metric_2":
        return DlibLayer("loss", name, {"margin": r.real(), "distance_threshold": r.real()})
    if name == "loss_metric_":
        return DlibLayer("loss", name)
    raise r.fail(f"unsupported dlib loss layer {name!r}")


def _training_state(r: _Reader, bottom_version: int | None) -> None:
    """Skip what add_layer stores after its details: three bools and empty training tensors."""
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()
    if bottom_version is not None and bottom_version >= 3:
        r.int()  # _sample_expansion_factor


def parse_dlib_network(data: bytes) -> DlibNetwork:
    """Parse the bytes of a dlib DNN ``.dat`` file.

    Args:
        data: the whole file.

    Returns:
        The loss layer, the input layer and the other layers bottom-up (input side first).

    Raises:
        DlibFormatError: the bytes are not a dlib network this reader understands.
    """
    r = _Reader(data)
    if r.int() != 1:
        raise r.fail("not a dlib network: expected add_loss_layer version 1")
    loss = _loss_layer(r)
    # Nesting prefix: one version int per layer from the top down, ending at the bottom add_layer,
    # which is followed by its input layer's name.
    stack: list[int] = []
    while True:
        version = r.int()
        peek = r.peek_string()
        if peek is not None and peek.startswith("input"):
            if version not in (2, 3):
                raise r.fail(f"unknown bottom add_layer version {version}")
            bottom_version = version
            break
        if version not in (1, 2):
            raise r.fail(f"unknown layer version {version}")
        stack.append(version)
        if len(stack) > 100_000:
            raise r.fail("runaway nesting")
    input_layer = _input_layer(r)
    layers = [_details(r)]
    _training_state(r, bottom_version)
    for version in reversed(stack):
        if version == 1:
            layers.append(DlibLayer("tag", ""))
        else:
            layers.append(_details(r))
            _training_state(r, None)
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} unexpected trailing bytes")
    return DlibNetwork(loss=loss, input=input_layer, layers=layers)


def read_dlib_network(path: str | Path) -> DlibNetwork:
    """Read and parse a dlib DNN ``.dat`` file (see :func:`parse_dlib_network`)."""
    path = Path(path)
    try:
        return parse_dlib_network(path.read_bytes())
    except DlibFormatError as exc:
        raise DlibFormatError(f"{path}: {exc}") from None
