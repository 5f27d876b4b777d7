"""Turn a training checkpoint (or a bundled model) into a shippable weights file with its metadata.

``facedeblur export`` uses :func:`load_source` (checkpoint path or bundled model name -> model and
:class:`~facedeblur.models.hub.WeightsMetadata`) and then a writer per format; ``safetensors`` is
:func:`facedeblur.models.hub.save_weights`. Other formats plug in as further writers in
``facedeblur.commands.export``.

Example:
    >>> describe_training({"data": {"train": "faces/", "recipe": "deblur", "min_sharpness": None,
    ...                             "sharpness_metric": "crete", "size": 128}}, 10, 16)
    'faces/ (128 px), deblur recipe, 10 steps x 16 faces'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facedeblur.errors import UserError

UTKFACE_LICENSE = "UTKFace: non-commercial research only"


def describe_training(recipe: dict[str, Any], steps: int, batch_size: int) -> str:
    """A one-line description of what a run trained on, from its recipe dict."""
    data = recipe["data"]
    text = f"{data['train']} ({data['size']} px), {data['recipe']} recipe"
    if data.get("min_sharpness") is not None:
        text += f", {data['sharpness_metric']} sharpness >= {data['min_sharpness']}"
    return f"{text}, {steps} steps x {batch_size} faces"


def metadata_from_checkpoint(
    state: dict[str, Any],
    name: str,
    data_license: str | None = None,
    metrics: dict[str, float] | None = None,
    notes: str = "",
):
    """:class:`WeightsMetadata` for a checkpoint's generator.

    Args:
        state: a checkpoint dict (:func:`facedeblur.train.checkpoint.load_checkpoint`).
        name: model name for ``--model``.
        data_license: licence of the training data; by default UTKFace's when the faces came from UTKFace,
            else ``unknown (set --data-license)``.
        metrics: validation figures to record; by default the checkpoint's latest validation PSNR/SSIM.
        notes: free text.
    """
    from facedeblur.face.align import template
    from facedeblur.models.hub import WeightsMetadata

    export = state["export"]
    recipe = state["recipe"]
    size = int(export["face_size"])
    if data_license is None:
        from_utkface = "utkface" in recipe["data"]["train"].lower()
        data_license = UTKFACE_LICENSE if from_utkface else "unknown (set --data-license)"
    if metrics is None:
        val = state.get("val") or {}
        metrics = {k: round(float(v), 4) for k, v in val.items() if k in ("psnr", "ssim", "psnr_input", "ssim_input")}
    batch = recipe["engine"]["batch_size"] * state.get("world_size", 1)
    return WeightsMetadata(
        name=name,
        architecture=export["architecture"],
        config=dict(export["config"]),
        face_size=size,
        template=[[round(float(v), 4) for v in point] for point in template(size)],
        training_data=describe_training(recipe, state["step"], batch),
        data_license=data_license,
        trained_on=export.get("trained_on", "cpu"),
        metrics=metrics,
        notes=notes,
    )


def load_source(source: str, name: str | None = None, data_license: str | None = None, metrics=None, notes=""):
    """Model and metadata to export from a training checkpoint path or a bundled model name / weights file.

    Args:
        source: ``*.ckpt`` written by ``facedeblur train``, a bundled model name, or a ``.safetensors`` file.
        name: model name to record (default: the checkpoint file's run folder name, or the source's name).
        data_license, metrics, notes: see :func:`metadata_from_checkpoint` (checkpoints only; a weights file
            keeps its metadata, except ``name``, ``metrics`` and ``notes`` when given).

    Returns:
        ``(model, metadata)``; the model is the EMA generator when the run kept one, in eval mode.

    Raises:
        UserError: the source is neither a checkpoint nor a known model.
    """
    import dataclasses

    path = Path(source)
    if path.suffix == ".ckpt" or (path.is_file() and path.suffix != ".safetensors"):
        from facedeblur.models.registry import build_model
        from facedeblur.train.checkpoint import generator_weights, load_checkpoint

        state = load_checkpoint(path)
        default_name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
        meta = metadata_from_checkpoint(state, name or default_name, data_license, metrics, notes)
        model = build_model(meta.architecture, **meta.config)
        model.load_state_dict(generator_weights(state), strict=True)
        return model.eval(), meta

    from facedeblur.models.hub import load_weights, resolve_model

    model, meta = load_weights(resolve_model(source))
    changes = {"name": name, "metrics": metrics, "notes": notes or None}
    meta = dataclasses.replace(meta, **{k: v for k, v in changes.items() if v is not None})
    if data_license is not None:
        raise UserError("--data-license applies to checkpoints; a weights file keeps its recorded licence")
    return model, meta
