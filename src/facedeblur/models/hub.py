"""Saving, loading and listing model weights (safetensors + JSON metadata), bundled ones included.

A weights file is a safetensors file whose metadata holds one key, ``facedeblur``, with a JSON
:class:`WeightsMetadata`. Bundled weights live in ``facedeblur/weights/<name>.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facedeblur.errors import ModelMismatchError, UserError

FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "default"  # what `--model default` means: weights/default.safetensors, the campaign's restorer
# Architectures bundled as parts of other models (psfrgan runs parsenet inside), not face restorers.
COMPONENT_ARCHITECTURES: tuple[str, ...] = ("parsenet",)


@dataclass
class WeightsMetadata:
    """What a weights file says about itself; loading checks it before building anything.

    Attributes:
        name: model name users pass to ``--model`` (e.g. ``chrysos``).
        architecture: key of :data:`facedeblur.models.registry.ARCHITECTURES`.
        config: keyword arguments for the architecture's builder.
        face_size: side of the square aligned face the model takes, in pixels.
        template: the five canonical landmarks (x, y) at ``face_size`` the faces were aligned to.
        training_data: what it was trained on.
        data_license: licence of the training data, inherited by the weights.
        trained_on: ``"gpu"`` or ``"cpu"`` (CPU-trained models are short runs; say so to users).
        metrics: validation figures, e.g. ``{"psnr": 27.1, "ssim": 0.88}``.
        notes: free text shown by ``facedeblur models``.
    """

    name: str
    architecture: str
    config: dict[str, Any]
    face_size: int
    template: list[list[float]]
    training_data: str
    data_license: str
    trained_on: str
    metrics: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "") -> WeightsMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelMismatchError(f"{source}: metadata is not valid JSON ({err})") from err
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        missing = sorted(k for k in known if k not in data and k not in ("metrics", "notes", "format_version"))
        if unknown or missing:
            raise ModelMismatchError(f"{source}: metadata keys unknown {unknown} / missing {missing}")
        meta = cls(**data)
        if meta.format_version != FORMAT_VERSION:
            raise ModelMismatchError(
                f"{source}: weights format {meta.format_version}, this facedeblur reads {FORMAT_VERSION}"
            )
        return meta


def save_weights(model, path: str | Path, metadata: WeightsMetadata) -> None:
    """Write ``model``'s state dict and ``metadata`` to a safetensors file (atomically)."""
    from safetensors.torch import save

    from facedeblur.images import write_bytes_atomic

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(path, save(state, metadata={"facedeblur": metadata.to_json()}))


def read_metadata(path: str | Path) -> WeightsMetadata:
    """Read only the metadata of a weights file (no tensors loaded)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("facedeblur")
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise ModelMismatchError(f"{path}: not a safetensors weights file ({err})") from err
    if raw is None:
        raise ModelMismatchError(f"{path}: no facedeblur metadata; export it with `facedeblur export`")
    return WeightsMetadata.from_json(raw, str(path))


def load_weights(path: str | Path, architecture: str | None = None, device: str = "cpu"):
    """Build the model a weights file describes and load its tensors.

    Args:
        path: a ``.safetensors`` file written by :func:`save_weights`.
        architecture: if given, refuse files of another architecture.
        device: torch device for the returned model.

    Returns:
        ``(model, metadata)`` with the model in eval mode.

    Raises:
        ModelMismatchError: metadata missing, of another architecture, or tensors that do not fit.
    """
    from safetensors.torch import load_file

    from facedeblur.models.registry import build_model

    meta = read_metadata(path)
    if architecture is not None and meta.architecture != architecture:
        raise ModelMismatchError(f"{path}: holds a {meta.architecture!r} model, expected {architecture!r}")
    try:
        model = build_model(meta.architecture, **meta.config)
    except (KeyError, TypeError) as err:
        raise ModelMismatchError(f"{path}: metadata does not describe a buildable model ({err})") from err
    state = load_file(str(path), device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ModelMismatchError(f"{path}: tensors do not match the {meta.architecture} config: {first}") from err
    return model.to(device).eval(), meta


def bundled_models() -> dict[str, Path]:
    """Names of the bundled models mapped to their weight files."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


def is_experimental(meta: WeightsMetadata) -> bool:
    """True when a model does not beat its own input on its recorded figures.

    The MSPL-like benchmark's ``mspl_psnr`` against ``mspl_psnr_input`` decides when the metadata has
    them, else the validation ``psnr`` against ``psnr_input``; a model without either pair is not
    judged. Such models are listed as experimental and left out of the web demo's default choices.

    Example:
        >>> meta = WeightsMetadata("m", "chrysos", {}, 128, [], "", "", "cpu", {"psnr": 24.9, "psnr_input": 28.7})
        >>> is_experimental(meta)
        True
    """
    for key in ("mspl_psnr", "psnr"):
        psnr, baseline = meta.metrics.get(key), meta.metrics.get(f"{key}_input")
        if psnr is not None and baseline is not None:
            return float(psnr) <= float(baseline)
    return False


@dataclass(frozen=True)
class ModelEntry:
    """One bundled model as listings show it (read from its metadata header, no tensors, no torch)."""

    name: str
    architecture: str | None
    component: bool = False
    experimental: bool = False
    error: str | None = None


def bundled_catalogue() -> list[ModelEntry]:
    """Every bundled model with what its metadata says: architecture, component, experimental.

    Reads only the JSON header of each safetensors file (standard library), so parsers can list
    models in their ``--help`` without importing torch. The default model comes first.
    """
    entries = []
    for name, path in bundled_models().items():
        try:
            meta = _header_metadata(path)
        except ModelMismatchError as err:
            entries.append(ModelEntry(name, None, error=str(err)))
            continue
        component = meta.architecture in COMPONENT_ARCHITECTURES
        entries.append(ModelEntry(name, meta.architecture, component, not component and is_experimental(meta)))
    return sorted(entries, key=lambda e: (e.name != DEFAULT_MODEL, e.name))


def _header_metadata(path: Path) -> WeightsMetadata:
    """The :class:`WeightsMetadata` of a safetensors file from its header (8-byte length + JSON)."""
    import struct

    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(fh.read(length))
        raw = header["__metadata__"]["facedeblur"]
    except (OSError, ValueError, KeyError, TypeError, struct.error) as err:
        raise ModelMismatchError(f"{path}: not a facedeblur safetensors weights file ({err})") from err
    return WeightsMetadata.from_json(raw, str(path))


def resolve_model(name_or_path: str | None) -> Path:
    """Turn ``--model`` (None, ``default``, a bundled name or a path) into a weights file.

    Raises:
        UserError: unknown name; the message lists the bundled models.
    """
    name = DEFAULT_MODEL if name_or_path in (None, "", "default") else name_or_path
    bundled = bundled_models()
    if name in bundled:
        return bundled[name]
    path = Path(name)
    if path.suffix == ".safetensors" and path.is_file():
        return path
    known = ", ".join(sorted(bundled)) or "none bundled"
    raise UserError(f"unknown model {name_or_path!r}; known models: {known} (or a path to a .safetensors file)")
