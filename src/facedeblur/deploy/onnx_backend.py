"""ONNX Runtime backend of the restoration pipeline: exported ``.onnx`` models, no torch imported.

``Restorer(model, backend="onnxruntime")`` and ``facedeblur restore --backend onnxruntime`` run the
network through :class:`OnnxFaceModel`, a :class:`facedeblur.restore.FaceModel` over an
``onnxruntime.InferenceSession``. Everything it needs to align faces (face size, template, name) is
read from the ONNX file's ``metadata_props``, written by ``facedeblur export MODEL --format onnx``
(:mod:`facedeblur.deploy.export`).

``--model`` for this backend is a path to an ``.onnx`` file, or a bundled name / ``default``: that
name is looked up in the export cache, ``$FACEDEBLUR_CACHE/onnx/NAME.onnx`` (default cache folder:
``platformdirs.user_cache_dir("facedeblur")``); when it is missing or older than the bundled weights,
the error message gives the exact ``facedeblur export`` command that creates it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from facedeblur.deploy.export import export_model
    >>> from facedeblur.models.hub import load_weights, resolve_model
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "default.onnx"
    >>> _ = export_model(*load_weights(resolve_model("default")), path, "onnx")
    >>> model = OnnxFaceModel(path, device="cpu")
    >>> model(np.random.rand(2, 3, model.face_size, model.face_size).astype(np.float32)).shape
    (2, 3, 128, 128)
    >>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from facedeblur.errors import ModelMismatchError, UserError

METADATA_KEY = "facedeblur"  # metadata_props key holding the WeightsMetadata JSON (as in safetensors files)
SOURCE_SHA256_KEY = "facedeblur.source_sha256"  # sha256 of the .safetensors file the export was made from
INPUT_NAME = "lq"
OUTPUT_NAME = "restored"


def cache_dir() -> Path:
    """facedeblur's cache folder: ``$FACEDEBLUR_CACHE`` or the platform's user cache folder.

    Example:
        >>> import os
        >>> os.environ["FACEDEBLUR_CACHE"] = "/tmp/fdcache"
        >>> str(cache_dir())
        '/tmp/fdcache'
        >>> del os.environ["FACEDEBLUR_CACHE"]
    """
    override = os.environ.get("FACEDEBLUR_CACHE")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("facedeblur"))


def cached_onnx_path(name: str) -> Path:
    """Where the ONNX export of bundled model ``name`` is looked for: ``cache_dir()/onnx/NAME.onnx``."""
    return cache_dir() / "onnx" / f"{name}.onnx"


def export_command(name: str, output: str | Path) -> str:
    """The command line that writes the ONNX export of ``name`` to ``output``."""
    return f"facedeblur export {name} --format onnx -o {output}"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_onnx_properties(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (read through onnxruntime, no torch).

    Raises:
        UserError: no such file.
        ModelMismatchError: not an ONNX model onnxruntime can read.
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such ONNX file")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for corrupt files
        raise ModelMismatchError(f"{path}: not an ONNX model onnxruntime can load ({_first_line(err)})") from err
    return dict(session.get_modelmeta().custom_metadata_map)


def metadata_from_properties(props: dict[str, str], source: str = ""):
    """The :class:`~facedeblur.models.hub.WeightsMetadata` stored in an export's ``metadata_props``.

    Raises:
        ModelMismatchError: the file was not written by ``facedeblur export`` (no facedeblur metadata).
    """
    from facedeblur.models.hub import WeightsMetadata

    raw = props.get(METADATA_KEY)
    if raw is None:
        raise ModelMismatchError(
            f"{source}: no facedeblur metadata in this ONNX file; export models with "
            f"`facedeblur export MODEL --format onnx -o FILE`"
        )
    return WeightsMetadata.from_json(raw, source)


def resolve_onnx_model(model: str | Path | None) -> Path:
    """Turn ``--model`` for the onnxruntime backend into an ``.onnx`` file.

    Args:
        model: an ``.onnx`` path, or ``None`` / ``"default"`` / a bundled model name (looked up in the
            export cache, see :func:`cached_onnx_path`).

    Returns:
        The ``.onnx`` path.

    Raises:
        UserError: the file does not exist, a ``.safetensors`` file was given, the name is unknown, or
            the cached export is missing or stale; the message says which command fixes it.
    """
    from facedeblur.models.hub import DEFAULT_MODEL, bundled_models

    text = str(model) if model not in (None, "") else "default"
    name = DEFAULT_MODEL if text == "default" else text
    path = Path(name)
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise UserError(f"{path}: no such ONNX file")
        return path
    if path.suffix.lower() == ".safetensors":
        if not path.is_file():
            raise UserError(f"{path}: no such weights file")
        target = path.with_suffix(".onnx")
        raise UserError(
            f"{path}: the onnxruntime backend runs exported .onnx models; export it first: "
            f"{export_command(path, target)} (then --model {target})"
        )
    bundled = bundled_models()
    cached = cached_onnx_path(name)
    if name not in bundled:
        if cached.is_file():  # a user-exported model kept in the cache under its own name
            return cached
        known = ", ".join(sorted(bundled)) or "none bundled"
        raise UserError(f"unknown model {text!r} for the onnxruntime backend; known models: {known} (or an .onnx path)")
    if not cached.is_file():
        try:  # so that the command below can write there (export wants an existing folder)
            cached.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        raise UserError(
            f"no ONNX export of {name!r} yet; create it once with: {export_command(name, cached)}"
            " (or pass --model FILE.onnx)"
        )
    recorded = read_onnx_properties(cached).get(SOURCE_SHA256_KEY)
    if recorded is not None and recorded != file_sha256(bundled[name]):
        raise UserError(
            f"{cached}: exported from other {name!r} weights than the bundled ones; re-export with: "
            f"{export_command(name, cached)}"
        )
    return cached


def available_providers() -> list[str]:
    """onnxruntime's execution providers on this machine (e.g. ``['CPUExecutionProvider']``)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _providers_for(device: str) -> tuple[list[str], str]:
    base = (device or "auto").lower().split(":")[0]
    available = available_providers()
    if base == "cpu":
        return ["CPUExecutionProvider"], "cpu"
    if base in ("auto", "cuda"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda"
        if base == "cuda":
            raise UserError(
                "--device cuda: this onnxruntime has no CUDA provider (install onnxruntime-gpu, or use --device cpu)"
            )
        return ["CPUExecutionProvider"], "cpu"
    if base == "mps":
        if "CoreMLExecutionProvider" in available:
            return ["CoreMLExecutionProvider", "CPUExecutionProvider"], "mps"
        raise UserError("--device mps: this onnxruntime has no CoreML provider (use --device cpu)")
    raise UserError(f"unknown device {device!r}; use one of auto, cpu, cuda, mps")


class OnnxFaceModel:
    """A :class:`facedeblur.restore.FaceModel` running an exported ``.onnx`` model with onnxruntime.

    Args:
        path: an ``.onnx`` file written by ``facedeblur export MODEL --format onnx``.
        device: ``auto`` (CUDA provider when onnxruntime has one, else CPU), ``cpu``, ``cuda`` or ``mps``
            (CoreML provider).
        batch_size: faces per session run (larger batches are split).
        threads: intra-op threads of the session (default: onnxruntime's choice).

    Raises:
        UserError: missing file or device.
        ModelMismatchError: not an ONNX file, or one without facedeblur metadata.

    Shape:
        ``__call__``: (N, 3, S, S) float32 RGB in [0, 1] -> (N, 3, S, S) float32 clamped to [0, 1].
    """

    def __init__(self, path: str | Path, device: str = "auto", batch_size: int = 8, threads: int | None = None) -> None:
        import onnxruntime as ort

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such ONNX file")
        providers, self.device = _providers_for(device)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for corrupt files
            raise ModelMismatchError(f"{path}: not an ONNX model onnxruntime can load ({_first_line(err)})") from err
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = metadata_from_properties(props, str(path))
        self.path = path
        self.name = self.metadata.name
        self.face_size = int(self.metadata.face_size)
        self.template = np.asarray(self.metadata.template, dtype=np.float32).reshape(5, 2)
        self.batch_size = int(batch_size)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, self.face_size, self.face_size]:
            shapes = [i.shape for i in inputs]
            raise ModelMismatchError(
                f"{path}: expected one (N, 3, {self.face_size}, {self.face_size}) input, got {shapes}"
            )
        self._input = inputs[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        from facedeblur.restore import _check_batch

        batch = _check_batch(batch, self.face_size)
        outputs = [
            self.session.run(None, {self._input: batch[start : start + self.batch_size]})[0]
            for start in range(0, len(batch), self.batch_size)
        ]
        if not outputs:
            return np.zeros_like(batch)
        return np.clip(np.concatenate(outputs).astype(np.float32, copy=False), 0.0, 1.0)


def load_onnx_face_model(path: str | Path, device: str = "auto", batch_size: int = 8) -> OnnxFaceModel:
    """The onnxruntime loader of :data:`facedeblur.restore.BACKENDS` (``path`` from :func:`resolve_onnx_model`)."""
    return OnnxFaceModel(path, device=device, batch_size=batch_size)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
