"""Ray for scale: one task per video for mining, Ray Data with batched model actors for restoration.

Ray is imported only inside these functions: without ``--ray`` nothing here runs and the package never
imports Ray. ``address`` selects the cluster the way ``ray.init`` does: ``"auto"`` joins the cluster
this machine belongs to (or starts a local instance when there is none), ``"local"`` always starts a
local instance, anything else (``"ray://host:10001"``, ``"host:6379"``) connects to that cluster. When
Ray is already initialised (a driver script, the test suite) the existing instance is used.

Example:
    >>> from pathlib import Path
    >>> restore_jobs([Path("a.jpg"), (Path("b.png"), Path("x/b.png"))], Path("out"))[1]
    (PosixPath('b.png'), PosixPath('x/b.png'))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def init_ray(address: str | None = "auto", num_cpus: int | None = None) -> None:
    """Connect to a Ray cluster, or start a local instance (see the module docstring for ``address``).

    Args:
        address: ``"auto"``, ``"local"`` (or None) or a cluster address.
        num_cpus: CPUs of a local instance (None: all of this machine's).
    """
    try:
        import ray
    except ImportError as err:
        from facedeblur.errors import UserError

        raise UserError("--ray needs Ray: pip install 'facedeblur[ray]'") from err
    if ray.is_initialized():
        return
    local = {"num_cpus": num_cpus, "include_dashboard": False, "log_to_driver": False}
    if address in (None, "local"):
        ray.init(**local)
    elif address == "auto":
        try:
            ray.init(address="auto", log_to_driver=False)
        except ConnectionError:
            ray.init(**local)
    else:
        ray.init(address=address, log_to_driver=False)


def mine_videos_with_ray(
    videos: Sequence[str | Path],
    names: Sequence[str],
    out_dir: str | Path,
    config: Any,
    pairs: bool = False,
    address: str | None = "auto",
) -> list[dict[str, Any]]:
    """Run :func:`facedeblur.data.mining.mine_video_or_report` as one Ray task per video (1 CPU each).

    Every worker writes its video's folder under ``out_dir`` (a path all workers can reach: a shared
    file system on a multi-node cluster); the reports come back in the order of ``videos``.

    Args:
        videos: video files.
        names: the videos' folder names in the dataset (see :func:`facedeblur.data.mining.unique_names`).
        out_dir: the dataset folder.
        config: a :class:`facedeblur.data.mining.MiningConfig`.
        pairs: also build frame-averaged pairs.
        address: Ray cluster (see :func:`init_ray`).

    Returns:
        The per-video reports.
    """
    import ray

    from facedeblur.data.mining import mine_video_or_report

    init_ray(address)
    task = ray.remote(num_cpus=1, max_retries=1)(mine_video_or_report)
    out = str(Path(out_dir).resolve())
    refs = [
        task.remote(str(Path(v).resolve()), out, config, name, pairs) for v, name in zip(videos, names, strict=True)
    ]
    return list(ray.get(refs))


def restore_jobs(inputs: Sequence[Any], out_dir: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs from files, folders (images inside, recursively) and ready (src, dst) pairs."""
    from facedeblur.images import is_image_path

    jobs: list[tuple[Path, Path]] = []
    for item in inputs:
        if isinstance(item, tuple):
            jobs.append((Path(item[0]), Path(item[1])))
        elif Path(item).is_dir():
            root = Path(item)
            for path in sorted(p for p in root.rglob("*") if p.is_file() and is_image_path(p)):
                jobs.append((path, out_dir / path.relative_to(root)))
        else:
            jobs.append((Path(item), out_dir / Path(item).name))
    return jobs


def _check_model(model: str | Path, backend: str) -> None:
    """Load the model once here, so a wrong name fails with one clear message before any actor starts."""
    from facedeblur.errors import UserError
    from facedeblur.restore import load_face_model

    try:
        load_face_model(model, device="cpu", backend=backend)
    except UserError:
        raise
    except Exception as err:
        raise UserError(f"--model {model}: {err}") from err


class RestoreActor:
    """A Ray Data batch actor: loads the :class:`facedeblur.restore.Restorer` once, restores file batches.

    Each batch is a dict of arrays ``input`` and ``output`` (paths); the result has one row per file:
    ``input``, ``output``, ``status`` (ok|skipped|failed), ``error``, ``faces``, ``seconds``. A failing
    file is recorded and the batch goes on.
    """

    def __init__(self, model: str, restorer_kwargs: dict[str, Any], aligned: bool, skip_existing: bool) -> None:
        from facedeblur.restore import Restorer

        self.restorer = Restorer(model, **restorer_kwargs)
        self.aligned = aligned
        self.skip_existing = skip_existing

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from facedeblur.images import read_image, write_image

        rows: dict[str, list] = {k: [] for k in ("input", "output", "status", "error", "faces", "seconds")}
        for src, dst in zip(batch["input"], batch["output"], strict=True):
            start = time.perf_counter()
            status, error, faces = "ok", "", 0
            try:
                if self.skip_existing and Path(dst).exists():
                    status = "skipped"
                elif Path(src).suffix.lower() in (".mp4", ".mov", ".avi", ".mkv") and not self.aligned:
                    faces = int(sum(self.restorer.restore_video(src, dst).faces_per_frame))
                else:
                    pixels = read_image(src)
                    if self.aligned:
                        write_image(dst, self.restorer.restore_aligned(pixels))
                        faces = 1
                    else:
                        result = self.restorer.restore(pixels)
                        write_image(dst, result.image)
                        faces = len(result.faces)
            except Exception as err:  # one bad file never stops the batch; the report says why
                status = "failed"
                text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                error = text if str(src) in text else f"{src}: {text}"
            rows["input"].append(str(src))
            rows["output"].append(str(dst))
            rows["status"].append(status)
            rows["error"].append(error)
            rows["faces"].append(faces)
            rows["seconds"].append(round(time.perf_counter() - start, 4))
        return rows


def restore_folder_with_ray(
    inputs: Sequence[Any],
    out_dir: str | Path,
    model: str | Path = "default",
    *,
    address: str | None = "auto",
    device: str = "auto",
    backend: str = "torch",
    fidelity: float = 1.0,
    only_center_face: bool = False,
    min_face_size: float = 16,
    detector: str = "hog",
    batch_size: int = 8,
    aligned: bool = False,
    skip_existing: bool = False,
    files_per_batch: int = 8,
    actors: int | None = None,
) -> list[dict[str, Any]]:
    """Restore many files with Ray Data: a pool of model actors, each restoring batches of files.

    Actors get one GPU each when the cluster has GPUs (``actors`` defaults to the number of GPUs),
    otherwise one CPU each (``actors`` defaults to half the cluster's CPUs, at least 1, so detection
    and decoding keep cores). Every file is restored exactly as
    :meth:`facedeblur.restore.Restorer.restore` (or ``restore_aligned`` / ``restore_video``) would in
    this process.

    Args:
        inputs: image files, folders (images inside, recursively; outputs keep the sub-folders) or
            ready ``(input, output)`` path pairs.
        out_dir: output folder (outputs of plain files keep their names).
        model: bundled model name, ``"default"`` or a ``.safetensors`` path (read by every actor).
        address: Ray cluster (see :func:`init_ray`).
        device: Restorer device (``auto`` picks the actor's GPU when it has one).
        backend: runtime of the network (see :class:`facedeblur.restore.Restorer`).
        fidelity, only_center_face, min_face_size, detector, batch_size: as for the Restorer.
        aligned: inputs are aligned face crops.
        skip_existing: skip inputs whose output exists (resume).
        files_per_batch: files handed to an actor at once.
        actors: size of the actor pool.

    Returns:
        One record per file, in input order: ``input``, ``output``, ``status``, ``error``, ``faces``,
        ``seconds``.
    """
    import ray

    out = Path(out_dir)
    jobs = restore_jobs(inputs, out)
    if Path(model).is_file():  # actors may run in another working folder
        model = Path(model).resolve()
    _check_model(model, backend)
    if not jobs:
        return []
    init_ray(address)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if actors is None:
        actors = gpus if gpus else max(1, int(resources.get("CPU", 1)) // 2)
    actors = max(1, min(actors, len(jobs)))
    for _, dst in jobs:
        dst.parent.mkdir(parents=True, exist_ok=True)
    restorer_kwargs = {
        "device": device,
        "backend": backend,
        "fidelity": fidelity,
        "only_center_face": only_center_face,
        "min_face_size": min_face_size,
        "detector": detector,
        "batch_size": batch_size,
    }
    items = [{"input": str(src.resolve()), "output": str(dst.resolve())} for src, dst in jobs]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), actors * 4)))
    results = dataset.map_batches(
        RestoreActor,
        fn_constructor_kwargs={
            "model": str(model),
            "restorer_kwargs": restorer_kwargs,
            "aligned": aligned,
            "skip_existing": skip_existing,
        },
        batch_size=files_per_batch,
        batch_format="numpy",
        concurrency=actors,
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1,
    ).take_all()
    by_input = {row["input"]: row for row in results}
    records = []
    for item, (src, _) in zip(items, jobs, strict=True):
        row = by_input[item["input"]]
        record = {
            "input": str(src),
            "output": str(row["output"]),
            "status": str(row["status"]),
            "faces": int(row["faces"]),
            "seconds": float(row["seconds"]),
        }
        if row["error"]:
            record["error"] = str(row["error"])
        records.append(record)
    return records
