"""Export restoration models to ONNX and TorchScript, checked against PyTorch before writing.

Both formats take what every model in :mod:`facedeblur.models.registry` takes: a float32 batch
``(N, 3, S, S)`` of aligned RGB faces in [0, 1], any N (dynamic batch axis), and return the
restored batch, not clamped (the runtime clamps, as :class:`facedeblur.restore.TorchFaceModel`
does). The model's :class:`~facedeblur.models.hub.WeightsMetadata` (name, architecture, face size,
alignment template, training data, licence, metrics) travels inside the file: in the ONNX
``metadata_props`` (key ``facedeblur``, plus ``face_size``, ``template`` and ``model_name`` for
other tools), and as the TorchScript extra file ``facedeblur.json``. So an ONNX Runtime deployment
(:mod:`facedeblur.deploy.onnx_backend`) needs neither torch nor the weights file.

Before anything is written, the export is run on random faces at batch 1 and 3 and compared with
the PyTorch model; a difference above ``tolerance`` (1e-3 by default) is an error.

The ONNX file comes from ``torch.onnx.export``'s TorchScript-based exporter (``dynamo=False``,
opset 17): the dynamo exporter stops on PSFR-GAN's data-dependent one-hot parsing step. Spectral
normalisation (PSFR-GAN) is baked into plain weights first, as it is computed in eval mode.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from facedeblur.models.hub import load_weights, resolve_model
    >>> model, meta = load_weights(resolve_model("default"))
    >>> tmp = tempfile.TemporaryDirectory()
    >>> export_model(model, meta, Path(tmp.name) / "default.onnx", "onnx").max_abs_diff < 1e-3
    True
    >>> tmp.cleanup()
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facedeblur.deploy.onnx_backend import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, SOURCE_SHA256_KEY
from facedeblur.errors import UserError

FORMATS = ("onnx", "torchscript")
ONNX_OPSET = 17
TORCHSCRIPT_METADATA_FILE = "facedeblur.json"
PARITY_TOLERANCE = 1e-3
CHECK_BATCH_SIZES = (1, 3)


class ExportParityError(UserError):
    """The exported model's outputs differ from PyTorch's by more than the tolerance."""


@dataclass
class ExportReport:
    """What :func:`export_model` wrote and how closely it matches PyTorch.

    Attributes:
        path: the file written.
        format: ``onnx`` or ``torchscript``.
        max_abs_diff: largest absolute difference from the PyTorch model over the checked batches.
        batch_sizes: batch sizes run through the export (dynamic batch axis check).
        size_bytes: file size.
    """

    path: Path
    format: str
    max_abs_diff: float
    batch_sizes: tuple[int, ...]
    size_bytes: int


class _Restore(nn.Module):
    """``forward(lq) -> restored`` only (hides extra arguments such as ``return_prior``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.eval()  # the exporters restore the wrapper's mode afterwards: it must be eval, as the model's

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        return self.model(lq)


def prepare_for_export(model: nn.Module) -> nn.Module:
    """A frozen eval-mode copy of ``model`` with spectral norm (and any parametrization) baked in.

    Args:
        model: a restoration network.

    Returns:
        A deep copy on CPU, in eval mode, without gradients, whose weights are plain tensors holding
        what the parametrizations computed in eval mode; ``model`` itself is not changed.

    Example:
        >>> from torch.nn.utils.parametrizations import spectral_norm
        >>> conv = spectral_norm(nn.Conv2d(3, 3, 3)).eval()
        >>> plain = prepare_for_export(conv)
        >>> x = torch.rand(1, 3, 8, 8)
        >>> torch.nn.utils.parametrize.is_parametrized(plain), torch.allclose(plain(x), conv(x))
        (False, True)
    """
    from torch.nn.utils import parametrize

    copied = copy.deepcopy(model).cpu().float().eval()
    for module in copied.modules():
        if parametrize.is_parametrized(module):
            # Not parametrize.remove_parametrizations: it edits the parametrized class, which the
            # deep copy shares with ``model``, and would break the original.
            with torch.no_grad():
                values = {name: getattr(module, name).detach().clone() for name in module.parametrizations}
            module.__class__ = module.__class__.__bases__[0]
            del module.parametrizations
            for name, value in values.items():
                setattr(module, name, nn.Parameter(value, requires_grad=False))
        for hook in list(module._forward_pre_hooks.values()):  # legacy torch.nn.utils.spectral_norm
            if type(hook).__name__ == "SpectralNorm":
                torch.nn.utils.remove_spectral_norm(module, getattr(hook, "name", "weight"))
    return copied.requires_grad_(False)


def antialias_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """The (out_size, in_size) matrix of PyTorch's anti-aliased bilinear resize along one axis.

    ``F.interpolate(x, mode="bilinear", antialias=True)`` is separable, so on a (H, W) image it
    equals ``A_h @ x @ A_w.T``; ONNX's ``Resize(antialias=1)`` filters differently.

    Example:
        >>> x = torch.rand(1, 1, 8, 6)
        >>> y = torch.nn.functional.interpolate(x, size=(4, 3), mode="bilinear", antialias=True)
        >>> torch.allclose(antialias_matrix(8, 4) @ x @ antialias_matrix(6, 3).T, y, atol=1e-6)
        True
    """
    import torch.nn.functional as F

    # Unit images, two columns wide (the anti-aliased kernel mishandles width-1 images in torch 2.13).
    basis = torch.eye(in_size, dtype=torch.float64).reshape(in_size, 1, in_size, 1).repeat(1, 1, 1, 2)
    columns = F.interpolate(basis, size=(out_size, 2), mode="bilinear", align_corners=False, antialias=True)
    return columns[:, 0, :, 0].T.contiguous().float()


def _antialias_bilinear_symbolic(g, input, output_size, align_corners, scale_factors):
    """ONNX for ``aten::_upsample_bilinear2d_aa`` (static spatial sizes): two MatMuls by constant matrices."""
    from torch.onnx import symbolic_helper

    sizes = symbolic_helper._get_tensor_sizes(input)
    if sizes is None or len(sizes) != 4 or sizes[2] is None or sizes[3] is None:
        raise RuntimeError("anti-aliased resize: the input's height and width must be static to export")
    out = symbolic_helper._maybe_get_const(output_size, "is")
    if symbolic_helper._is_value(out) or out is None:
        scales = symbolic_helper._maybe_get_const(scale_factors, "fs")
        out = [int(sizes[2] * scales[0]), int(sizes[3] * scales[1])]
    rows = g.op("Constant", value_t=antialias_matrix(int(sizes[2]), int(out[0])))
    cols_t = g.op("Constant", value_t=antialias_matrix(int(sizes[3]), int(out[1])).T.contiguous())
    return g.op("MatMul", g.op("MatMul", rows, input), cols_t)


def _register_onnx_symbolics(opset: int) -> None:
    torch.onnx.register_custom_op_symbolic("aten::_upsample_bilinear2d_aa", _antialias_bilinear_symbolic, opset)


def onnx_properties(meta, source_sha256: str | None = None) -> dict[str, str]:
    """The ``metadata_props`` written into an ONNX export (all values are strings)."""
    props = {
        METADATA_KEY: meta.to_json(),
        "model_name": meta.name,
        "architecture": meta.architecture,
        "face_size": str(int(meta.face_size)),
        "template": json.dumps(meta.template),
        "input": f"{INPUT_NAME}: float32 (N, 3, {meta.face_size}, {meta.face_size}) aligned RGB faces in [0, 1]",
        "output": f"{OUTPUT_NAME}: float32 (N, 3, {meta.face_size}, {meta.face_size}) RGB, clamp to [0, 1]",
        "data_license": meta.data_license,
    }
    if source_sha256:
        props[SOURCE_SHA256_KEY] = source_sha256
    return props


def onnx_bytes(model: nn.Module, meta, opset: int = ONNX_OPSET, source_sha256: str | None = None) -> bytes:
    """Serialise a prepared model (:func:`prepare_for_export`) to ONNX with a dynamic batch axis.

    Args:
        model: eval-mode model without parametrizations.
        meta: its :class:`~facedeblur.models.hub.WeightsMetadata` (stored in ``metadata_props``).
        opset: ONNX opset (>= 17).
        source_sha256: sha256 of the weights file it came from (lets the cache spot stale exports).

    Returns:
        The ``.onnx`` file's bytes.
    """
    import onnx

    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    size = int(meta.face_size)
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    _register_onnx_symbolics(opset)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # tracer warnings about Python-side shape checks are expected
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Restore(model),
            (example,),
            buffer,
            dynamo=False,
            training=torch.onnx.TrainingMode.EVAL,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.producer_name = "facedeblur"
    proto.doc_string = f"facedeblur {meta.name} ({meta.architecture}); restores aligned {size} px faces"
    for key, value in onnx_properties(meta, source_sha256).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def torchscript_bytes(model: nn.Module, meta) -> bytes:
    """Trace a prepared model (:func:`prepare_for_export`) to TorchScript, metadata as an extra file."""
    size = int(meta.face_size)
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_Restore(model), example, check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={TORCHSCRIPT_METADATA_FILE: meta.to_json()})
    return buffer.getvalue()


def load_torchscript(source: str | Path | bytes, device: str = "cpu"):
    """Load a TorchScript export and its metadata.

    Returns:
        ``(module, WeightsMetadata)``.

    Example:
        >>> from facedeblur.models.hub import load_weights, resolve_model
        >>> module, meta = load_torchscript(torchscript_bytes(*load_weights(resolve_model("default"))))
        >>> meta.name, tuple(module(torch.rand(1, 3, meta.face_size, meta.face_size)).shape)
        ('default', (1, 3, 128, 128))
    """
    from facedeblur.models.hub import WeightsMetadata

    extra = {TORCHSCRIPT_METADATA_FILE: ""}
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    module = torch.jit.load(handle, map_location=device, _extra_files=extra)
    if not extra[TORCHSCRIPT_METADATA_FILE]:
        raise UserError(f"{source if not isinstance(source, bytes) else 'TorchScript'}: no facedeblur metadata")
    return module.eval(), WeightsMetadata.from_json(extra[TORCHSCRIPT_METADATA_FILE], str(source)[:200])


def check_faces(size: int, batch_sizes=CHECK_BATCH_SIZES, seed: int = 0) -> list[np.ndarray]:
    """Deterministic float32 test batches in [0, 1]: smooth random "images" with some noise on top."""
    rng = np.random.default_rng(seed)
    batches = []
    for n in batch_sizes:
        coarse = rng.random((n, 3, 8, 8), dtype=np.float32)
        smooth = np.kron(coarse, np.ones((1, 1, size // 8 + 1, size // 8 + 1), np.float32))[..., :size, :size]
        noisy = 0.8 * smooth + 0.2 * rng.random((n, 3, size, size), dtype=np.float32)
        batches.append(np.ascontiguousarray(noisy.clip(0, 1), dtype=np.float32))
    return batches


def _run_onnx(data: bytes, batch: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def parity(model: nn.Module, data: bytes, fmt: str, size: int, batch_sizes=CHECK_BATCH_SIZES) -> float:
    """Largest absolute difference between ``model`` and its export ``data`` over :func:`check_faces`."""
    worst = 0.0
    loaded = load_torchscript(data)[0] if fmt == "torchscript" else None
    session_data = data if fmt == "onnx" else None
    for batch in check_faces(size, batch_sizes):
        with torch.no_grad():
            reference = model(torch.from_numpy(batch)).numpy()
            if loaded is not None:
                exported = loaded(torch.from_numpy(batch)).numpy()
            else:
                exported = _run_onnx(session_data, batch)
        if exported.shape != reference.shape:
            raise ExportParityError(f"export returned shape {exported.shape} for a batch of {reference.shape}")
        worst = max(worst, float(np.abs(exported - reference).max()))
    return worst


def export_model(
    model: nn.Module,
    meta,
    output: str | Path,
    fmt: str = "onnx",
    *,
    opset: int = ONNX_OPSET,
    tolerance: float = PARITY_TOLERANCE,
    source_sha256: str | None = None,
) -> ExportReport:
    """Export ``model`` to ``output`` as ONNX or TorchScript, after checking it against PyTorch.

    Args:
        model: the restoration network (left unchanged).
        meta: its :class:`~facedeblur.models.hub.WeightsMetadata`.
        output: file to write (atomically; nothing is written when the check fails).
        fmt: ``"onnx"`` or ``"torchscript"``.
        opset: ONNX opset (>= 17).
        tolerance: largest allowed absolute difference from PyTorch on faces in [0, 1].
        source_sha256: sha256 of the source weights file, recorded in ONNX exports.

    Returns:
        An :class:`ExportReport`.

    Raises:
        ValueError: unknown format.
        ExportParityError: the export differs from PyTorch by more than ``tolerance``.
    """
    from facedeblur.images import write_bytes_atomic

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    prepared = prepare_for_export(model)
    if fmt == "onnx":
        data = onnx_bytes(prepared, meta, opset=opset, source_sha256=source_sha256)
    else:
        data = torchscript_bytes(prepared, meta)
    reference = copy.deepcopy(model).cpu().float().eval()
    diff = parity(reference, data, fmt, int(meta.face_size))
    if not diff <= tolerance:
        raise ExportParityError(
            f"{meta.name}: the {fmt} export differs from PyTorch by {diff:.3g} (max abs) > {tolerance:g}; "
            f"nothing written to {output}"
        )
    output = Path(output)
    write_bytes_atomic(output, data)
    return ExportReport(output, fmt, diff, tuple(CHECK_BATCH_SIZES), len(data))


def export_for_cli(model: nn.Module, meta, output: str | Path, fmt: str, source: str) -> ExportReport:
    """``facedeblur export SOURCE --format onnx|torchscript``: export, check, and print the parity figure.

    ``source`` (bundled name, ``default``, weights file or checkpoint) is hashed when it is a weights
    file, so the onnxruntime backend can tell a cached export of a bundled model is stale.
    """
    from facedeblur.deploy.onnx_backend import file_sha256
    from facedeblur.models.hub import resolve_model

    try:
        source_sha256 = file_sha256(resolve_model(source))
    except UserError:  # a training checkpoint: nothing bundled to compare with later
        source_sha256 = None
    report = export_model(model, meta, output, fmt, source_sha256=source_sha256)
    sizes = " and ".join(str(n) for n in report.batch_sizes)
    print(f"{fmt} export matches PyTorch: max abs difference {report.max_abs_diff:.2e} on batches of {sizes} faces")
    return report
