"""Convert dlib's face-recognition ``.dat`` to :class:`~facedeblur.face.identity.IdentityNet` weights, cached.

The ``.dat`` shipped by ``face-recognition-models`` is read by :mod:`facedeblur.face.dlib_format`
(pure Python), checked layer by layer against the architecture, each frozen batch norm (``affine``)
folded into the convolution before it, and the result cached as safetensors at
:func:`converted_weights_path` (``$FACEDEBLUR_CACHE`` or ``platformdirs.user_cache_dir("facedeblur")``,
then ``identity/``). The cache records the SHA-256 of the source file in its metadata; a cache whose
checksum or format version does not match, or that cannot be read, is rebuilt (atomically).

Example:
    >>> state = load_identity_state()
    >>> tuple(state["fc.weight"].shape)
    (128, 256)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from facedeblur.face.dlib_format import DlibFormatError, DlibLayer, read_dlib_network
from facedeblur.face.identity_net import _BLOCKS, DESCRIPTOR_DIM, DLIB_RECOGNITION_MODEL, IdentityNet

__all__ = ["cache_dir", "convert_dlib_recognition_model", "converted_weights_path", "load_identity_state"]

_FORMAT_VERSION = "1"


def _expect(layer: DlibLayer, kind: str, **attrs: int) -> DlibLayer:
    if layer.kind != kind:
        raise DlibFormatError(f"expected a {kind} layer, found {layer.kind} ({layer.name})")
    for key, value in attrs.items():
        if layer.attrs.get(key) != value:
            raise DlibFormatError(f"{layer.name}: expected {key}={value}, found {layer.attrs.get(key)}")
    return layer


def _fold(con: DlibLayer, affine: DlibLayer) -> tuple[Tensor, Tensor]:
    """Fold ``affine(con(x))`` into one convolution's weight and bias."""
    g, b = affine.tensors["gamma"], affine.tensors["beta"]
    weight = con.tensors["filters"] * g[:, None, None, None]
    bias = con.tensors["biases"] * g + b
    return torch.from_numpy(np.ascontiguousarray(weight)), torch.from_numpy(np.ascontiguousarray(bias))


def convert_dlib_recognition_model(source: str | Path) -> dict[str, Tensor]:
    """Read dlib's recognition ``.dat`` and return an :class:`IdentityNet` state dict.

    Every layer is checked against the architecture (kinds, filter counts, kernel sizes, strides,
    paddings), so a different network in the file fails loudly instead of loading garbage.

    Args:
        source: path of ``dlib_face_recognition_resnet_model_v1.dat``.

    Returns:
        float32 tensors keyed like ``IdentityNet().state_dict()``.

    Raises:
        DlibFormatError: the file is not this network.
    """
    net = read_dlib_network(source)
    if net.input.name != "input_rgb_image_sized" or (net.input.attrs["nr"], net.input.attrs["nc"]) != (150, 150):
        raise DlibFormatError(f"{source}: expected a 150x150 input_rgb_image_sized, found {net.input}")
    layers = iter(net.layers)
    state: dict[str, Tensor] = {"mean_rgb": torch.tensor(net.input.attrs["mean_rgb"], dtype=torch.float32)}
    state["mean_rgb"] = state["mean_rgb"].view(1, 3, 1, 1)

    def conv(prefix: str, filters: int, k: int, stride: int, pad: int) -> None:
        con = _expect(next(layers), "con", num_filters=filters, nr=k, nc=k, stride_y=stride, stride_x=stride)
        _expect(con, "con", padding_y=pad, padding_x=pad)
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = _fold(con, _expect(next(layers), "affine", mode=0))

    try:
        conv("stem", 32, 7, 2, 0)
        _expect(next(layers), "relu")
        _expect(next(layers), "max_pool", nr=3, nc=3, stride_y=2, stride_x=2, padding_y=0, padding_x=0)
        for i, (channels, down) in enumerate(_BLOCKS):
            _expect(next(layers), "tag")
            conv(f"blocks.{i}.conv1", channels, 3, 2 if down else 1, 0 if down else 1)
            _expect(next(layers), "relu")
            conv(f"blocks.{i}.conv2", channels, 3, 1, 1)
            if down:
                _expect(next(layers), "tag")  # tag2
                _expect(next(layers), "tag")  # skip1
                _expect(next(layers), "avg_pool", nr=2, nc=2, stride_y=2, stride_x=2, padding_y=0, padding_x=0)
            _expect(next(layers), "add_prev")
            _expect(next(layers), "relu")
        _expect(next(layers), "avg_pool", nr=0, nc=0, stride_y=1, stride_x=1)
        fc = _expect(next(layers), "fc", num_outputs=DESCRIPTOR_DIM, num_inputs=256, bias_mode=1)
    except StopIteration:
        raise DlibFormatError(f"{source}: the network ends early") from None
    if next(layers, None) is not None:
        raise DlibFormatError(f"{source}: more layers than dlib_face_recognition_resnet_model_v1 has")
    state["fc.weight"] = torch.from_numpy(np.ascontiguousarray(fc.tensors["weights"].T))
    return state


def cache_dir() -> Path:
    """The folder for converted weights: ``$FACEDEBLUR_CACHE`` or the platform's user cache folder."""
    override = os.environ.get("FACEDEBLUR_CACHE")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("facedeblur"))


def converted_weights_path() -> Path:
    """Where the converted identity network is cached."""
    return cache_dir() / "identity" / (Path(DLIB_RECOGNITION_MODEL).stem + ".safetensors")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_cache(path: Path, digest: str) -> dict[str, Tensor] | None:
    """The cached state dict if it is readable, complete and converted from the same source file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if meta.get("source_sha256") != digest or meta.get("format_version") != _FORMAT_VERSION:
                return None
            state = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - safe_open has no iterator
    except Exception:  # a truncated or garbled file: rebuild it
        return None
    expected = IdentityNet().state_dict()
    if set(state) != set(expected) or any(state[k].shape != v.shape for k, v in expected.items()):
        return None
    return state


def load_identity_state(source: str | Path | None = None, cache_path: str | Path | None = None) -> dict[str, Tensor]:
    """Converted weights, from the cache when it matches the source file, else converted and cached.

    Args:
        source: dlib's ``.dat``; default: the one shipped by ``face-recognition-models``.
        cache_path: the safetensors cache file; default :func:`converted_weights_path`.

    Returns:
        An :class:`IdentityNet` state dict (CPU float32 tensors).
    """
    if source is None:
        from facedeblur.face.model_files import dlib_model_path

        source = dlib_model_path(DLIB_RECOGNITION_MODEL)
    source = Path(source)
    cache = Path(cache_path) if cache_path is not None else converted_weights_path()
    digest = _sha256(source)
    if cache.is_file():
        state = _read_cache(cache, digest)
        if state is not None:
            return state
    state = convert_dlib_recognition_model(source)
    from safetensors.torch import save

    from facedeblur.images import write_bytes_atomic

    meta = {"source": source.name, "source_sha256": digest, "format_version": _FORMAT_VERSION}
    try:
        write_bytes_atomic(cache, save({k: v.contiguous() for k, v in state.items()}, metadata=meta))
    except OSError as exc:  # a read-only cache folder must not stop the network from loading
        warnings.warn(f"could not cache the converted identity network at {cache}: {exc}", stacklevel=2)
    return state
