"""Ray for scale: one task per video for mining, Ray Data with batched model actors for restoration.

Ray is imported only inside these functions: without ``--ray`` nothing here runs and the package never
imports Ray. ``address`` selects the cluster the way ``ray.init`` does: ``"auto"`` joins the cluster
this machine belongs to (or starts a local instance when there is none), ``"local"`` always starts a
local instance, anything else (``"ray://host:10001"``, ``"host:6379"``) connects to that cluster. When
Ray is already initialised (a driver script, the test suite) the existing instance is used.

Restoration runs the batch core's :func:`facedeblur.batch.restore_files.restore_file` in each actor,
wrapped by :func:`facedeblur.batch.run.run_one`, so ``restore --ray`` writes the same outputs,
comparisons, face crops and records as ``restore`` in one process.

Example:
    >>> init_ray  # doctest: +ELLIPSIS
    <function init_ray at ...>
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
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
    with _utf8_entrypoint():
        if address in (None, "local"):
            ray.init(**local)
        elif address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:
                ray.init(**local)
        else:
            ray.init(address=address, log_to_driver=False)


@contextlib.contextmanager
def _utf8_entrypoint() -> Iterator[None]:
    """While Ray starts: the command line it records, with bytes that are not UTF-8 as ``\\udcXX``.

    Ray encodes this process's command line strictly as UTF-8, so a file name that is not UTF-8 on
    the command line (``restore caf\\xe9.png --ray local``) stopped the whole run.
    """
    from ray._private import utils

    original = getattr(utils, "get_entrypoint_name", None)
    if original is None:  # another Ray version: nothing to mend
        yield
        return
    utils.get_entrypoint_name = lambda: original().encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        yield
    finally:
        utils.get_entrypoint_name = original


def mine_videos_with_ray(
    videos: Sequence[str | Path],
    out_dir: str | Path,
    config: Any,
    pairs: bool = False,
    address: str | None = "auto",
    problems: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """:func:`facedeblur.data.mining.mine_videos` as one Ray task per video (1 CPU each), same dataset.

    Every worker runs :func:`facedeblur.data.mining.mine_video_or_report` and writes its video's folder
    under ``out_dir`` (a path all workers can reach: a shared file system on a multi-node cluster). The
    dataset report is the same batch-core report, its records added as the tasks finish (so an
    interrupted run keeps what finished) and put in input order; each unusable video's line is printed.

    Args:
        videos: video files.
        out_dir: the dataset folder.
        config: a :class:`facedeblur.data.mining.MiningConfig`.
        pairs: also build frame-averaged pairs.
        address: Ray cluster (see :func:`init_ray`), recorded as the report's ``ray``.
        problems: ``(input, message)`` of inputs that are no videos, recorded as failures (already named).

    Returns:
        The dataset report written to ``out_dir/report.json`` (videos in the order of ``videos``).
    """
    import ray

    from facedeblur.batch.run import BatchResult, finish_batch, sayer
    from facedeblur.data.mining import mine_video_or_report, prepare_dataset
    from facedeblur.data.mining.report import COMMAND, open_report, video_record

    paths, names = prepare_dataset(videos, out_dir)
    report = open_report(Path(out_dir), config, pairs, address, problems)
    say = sayer(COMMAND)
    result = BatchResult()
    init_ray(address)
    task = ray.remote(num_cpus=1, max_retries=1)(mine_video_or_report)
    out = str(Path(out_dir).resolve())
    given = {task.remote(str(v.resolve()), out, config, name, pairs): v for v, name in zip(paths, names, strict=True)}
    pending = list(given)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            record = {**video_record(ray.get(done[0]), pairs), "input": str(given[done[0]])}
            report.add(record)
            if record["status"] == "failed":
                say(record["error"])
        report.reorder([str(v) for v in paths])
    except KeyboardInterrupt:
        result.stopped = f"interrupted; {len(pending)} video(s) not mined"
        raise
    finally:
        finish_batch(report, result, say)
    return result.report


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
    """A Ray Data batch actor: loads the :class:`facedeblur.restore.Restorer` once, restores job batches.

    Each batch has a column ``job`` (JSON of :class:`facedeblur.batch.restore_files.RestoreJob`, and for
    a chunk of a long video ``chunk``: its span and the file it writes); the result has one column
    ``record``, the JSON of each job's record as :func:`facedeblur.batch.run.run_one` makes it. A
    failing file is recorded and the batch goes on.
    """

    def __init__(
        self,
        model: str,
        restorer_kwargs: dict[str, Any],
        skip_existing: bool,
        debug: bool = False,
        video_options: dict[str, Any] | None = None,
    ) -> None:
        from facedeblur.restore import Restorer

        self.restorer = Restorer(model, **restorer_kwargs)
        self.skip_existing = skip_existing
        self.debug = debug
        self.video_options = dict(video_options or {})

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from facedeblur.batch.restore_files import RestoreJob, restore_file
        from facedeblur.batch.run import run_one

        records = []
        for text in batch["job"]:
            item = json.loads(str(text))
            chunk = item.pop("chunk", None)
            job = RestoreJob.from_dict(item)
            if chunk is not None:
                part = RestoreJob(job.input, chunk["part"], "video")
                video = {**self.video_options, "span": (chunk["start"], chunk["end"])}
                record = run_one(
                    job.input,
                    lambda part=part, video=video: restore_file(self.restorer, part, video=video),
                    debug=self.debug,
                )
                record["chunk"] = chunk
            elif self.skip_existing and Path(job.output).exists():
                record = {"input": job.input, "output": job.output, "status": "skipped", "seconds": 0.0}
            else:
                record = run_one(
                    job.input,
                    lambda job=job: restore_file(self.restorer, job, video=self.video_options),
                    debug=self.debug,
                )
            records.append(json.dumps(record))
        return {"record": records}


def chunk_video_job(job, chunks: int, min_chunk_seconds: float) -> list[dict[str, Any]]:
    """The key-frame-aligned chunks of a video job, each with the hidden file it writes (one chunk: [])."""
    from facedeblur.video import key_frame_times, plan_chunks, probe_video

    if chunks < 2 or job.kind != "video":
        return []
    try:
        info = probe_video(job.input)
        keys, end, _ = key_frame_times(job.input)
    except Exception:  # noqa: BLE001 - an unreadable video fails in its actor, with its message
        return []
    if info.duration and info.duration < 2 * min_chunk_seconds:
        return []
    chunks = min(chunks, max(1, int(info.duration // min_chunk_seconds)) if info.duration else chunks)
    plan = plan_chunks(keys, end, chunks)
    if len(plan) < 2:
        return []
    out = Path(job.output)
    return [
        {
            "index": c.index,
            "start": c.start_pts,
            "end": c.end_pts,
            "part": str(out.parent / f".{out.stem}.chunk{c.index:03d}{out.suffix}"),
        }
        for c in plan
    ]


def join_video_chunks(job, records: list[dict[str, Any]], debug: bool = False) -> dict[str, Any]:
    """One video's record from its chunks' records; the chunks joined into the output (no re-encoding);
    ``debug``: print the traceback of an unexpected error in the join."""
    from facedeblur.batch.run import run_one
    from facedeblur.video import join_chunks

    records = sorted(records, key=lambda r: r["chunk"]["index"])
    parts = [r["chunk"]["part"] for r in records]
    failed = [r for r in records if r["status"] != "ok"]
    try:
        if failed:
            return {k: v for k, v in failed[0].items() if k != "chunk"} | {"output": job.output}

        def join() -> dict[str, Any]:
            info = join_chunks(parts, job.output, job.input)
            return _merged_video_record(job, records, info)

        return run_one(job.input, join, debug=debug)
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)


def _merged_video_record(job, records: list[dict[str, Any]], info) -> dict[str, Any]:
    first = records[0]
    stages: dict[str, dict[str, float]] = {}
    for record in records:
        for name, stage in record.get("stages", {}).items():
            total = stages.setdefault(name, {"items": 0, "seconds": 0.0})
            total["items"] += stage["items"]
            total["seconds"] += stage["seconds"]
    for stage in stages.values():
        stage["fps"] = round(stage["items"] / stage["seconds"], 2) if stage["seconds"] > 0 else 0.0
        stage["seconds"] = round(stage["seconds"], 3)
    seconds = sum(float(r.get("seconds", 0.0)) for r in records)
    record = {
        "output": job.output,
        "kind": "video",
        "frames": info.frames,
        "size": first["size"],
        "fps": first["fps"],
        "audio": info.has_audio,
        "streams_copied": info.streams,
        "rotation": info.rotation,
        "codec": first.get("codec"),
        "faces": sum(int(r.get("faces", 0)) for r in records),
        "frames_with_faces": sum(int(r.get("frames_with_faces", 0)) for r in records),
        "frames_per_second": round(info.frames / max(seconds, 1e-9), 3),
        "stages": stages,
        "chunks": len(records),
        "worker_seconds": round(seconds, 3),
    }
    warnings = [w for r in records for w in r.get("warnings", []) if "no face found" not in w]
    if record["frames_with_faces"] == 0:
        warnings.append(f"{job.input}: no face found in any frame; written unchanged")
    if warnings:
        record["warnings"] = warnings
    return record


def restore_jobs_with_ray(
    jobs: Sequence[Any],
    model: str | Path = "default",
    *,
    address: str | None = "auto",
    restorer_kwargs: dict[str, Any] | None = None,
    skip_existing: bool = False,
    debug: bool = False,
    files_per_batch: int = 8,
    actors: int | None = None,
    video_options: dict[str, Any] | None = None,
    chunks: int | None = None,
    min_chunk_seconds: float = 10.0,
) -> Iterator[dict[str, Any]]:
    """Restore planned jobs with a pool of Ray Data model actors; yields each record as it is done.

    A video of at least ``2 * min_chunk_seconds`` is cut into key-frame-aligned chunks (one per
    actor, ``chunks`` at most), restored by several actors at once and joined without re-encoding
    (:func:`facedeblur.video.join_chunks`); its record says how many ``chunks``.

    Actors get one GPU each when the cluster has GPUs (``actors`` defaults to the number of GPUs),
    otherwise one CPU each (``actors`` defaults to half the cluster's CPUs, at least 1, so detection
    and decoding keep cores). Paths must be reachable by every worker (a shared file system on a
    multi-node cluster); they are made absolute here.

    Args:
        jobs: :class:`facedeblur.batch.restore_files.RestoreJob` s (from ``plan_restore``).
        model: bundled model name, ``"default"`` or a ``.safetensors`` path (read by every actor).
        address: Ray cluster (see :func:`init_ray`).
        restorer_kwargs: keyword arguments of :class:`facedeblur.restore.Restorer` (device, fidelity...).
        skip_existing: skip jobs whose output exists (resume).
        debug: actors print tracebacks of unexpected errors.
        files_per_batch: files handed to an actor at once.
        actors: size of the actor pool.
        video_options: codec, CRF and restore_video options of videos (see
            :func:`facedeblur.batch.restore_files.restore_file`).
        chunks: most chunks per video (default: the number of actors; 1: never cut).
        min_chunk_seconds: shortest chunk; shorter videos are restored whole by one actor.

    Yields:
        One record per job, in the order they finish, with the paths as the jobs name them.
    """
    import ray

    from facedeblur.batch.restore_files import RestoreJob

    restorer_kwargs = dict(restorer_kwargs or {})
    if Path(model).is_file():  # actors may run in another working folder
        model = Path(model).resolve()
    _check_model(model, restorer_kwargs.get("backend", "torch"))
    if not jobs:
        return
    init_ray(address)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if actors is None:
        actors = gpus if gpus else max(1, int(resources.get("CPU", 1)) // 2)
    actors = max(1, actors)
    planned = {}
    items = []
    chunked: dict[str, tuple[Any, list]] = {}
    for job in jobs:
        moved = RestoreJob.from_dict({k: (os.path.abspath(v) if v else v) for k, v in job.to_dict().items()})
        moved = RestoreJob(moved.input, moved.output, job.kind, moved.compare, moved.faces)
        planned[moved.input] = (job, moved)
        pieces = []
        if not (skip_existing and Path(moved.output).exists()):
            pieces = chunk_video_job(moved, actors if chunks is None else chunks, min_chunk_seconds)
        if pieces:
            chunked[moved.input] = (moved, [])
            items += [{"job": json.dumps({**moved.to_dict(), "chunk": piece})} for piece in pieces]
        else:
            items.append({"job": json.dumps(moved.to_dict())})
    actors = min(actors, len(items))
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), actors * 4)))
    results = dataset.map_batches(
        RestoreActor,
        fn_constructor_kwargs={
            "model": str(model),
            "restorer_kwargs": restorer_kwargs,
            "skip_existing": skip_existing,
            "debug": debug,
            "video_options": video_options,
        },
        batch_size=1 if chunked else files_per_batch,
        batch_format="numpy",
        concurrency=actors,
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1,
    )
    pending = {name: len([i for i in items if json.loads(i["job"])["input"] == name]) for name in chunked}
    for row in results.iter_rows():
        record = json.loads(str(row["record"]))
        if "chunk" in record:
            moved, done = chunked[record["input"]]
            done.append(record)
            if len(done) < pending[record["input"]]:
                continue
            record = join_video_chunks(moved, done, debug=debug)
        yield _spelled_as_planned(record, *planned[record["input"]])


def _spelled_as_planned(record: dict[str, Any], job, moved) -> dict[str, Any]:
    """A record an actor made from absolute paths, with the paths spelled as the planned job spells them."""
    names = {getattr(moved, k): getattr(job, k) for k in ("input", "output", "compare") if getattr(job, k)}
    out = {k: (names.get(v, v) if k in ("input", "output", "compare") else v) for k, v in record.items()}
    if "error" in out:
        out["error"] = str(out["error"]).replace(moved.input, job.input)
    if job.faces and "face_files" in out:
        there, here = Path(moved.faces).parent, Path(job.faces).parent
        out["face_files"] = [str(here / Path(f).relative_to(there)) for f in out["face_files"]]
    return out


def restore_folder_with_ray(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    model: str | Path = "default",
    *,
    address: str | None = "auto",
    aligned: bool = False,
    compare: bool = False,
    save_faces: bool = False,
    skip_existing: bool = False,
    files_per_batch: int = 8,
    actors: int | None = None,
    video_options: dict[str, Any] | None = None,
    chunks: int | None = None,
    min_chunk_seconds: float = 10.0,
    **restorer_kwargs: Any,
) -> list[dict[str, Any]]:
    """Restore files and folders with Ray Data, exactly as ``facedeblur restore --ray`` does (no report file).

    Inputs are expanded and every output planned by the batch core (an output that would overwrite an
    input or land in an input folder is refused before anything runs).

    Args:
        inputs: image/video files, folders (searched recursively; outputs keep the sub-folders), globs
            or ``@lists``.
        out_dir: output folder.
        model: bundled model name, ``"default"`` or a ``.safetensors`` path.
        address: Ray cluster (see :func:`init_ray`).
        aligned, compare, save_faces, skip_existing: as the command's options.
        files_per_batch, actors, video_options, chunks, min_chunk_seconds: see :func:`restore_jobs_with_ray`.
        restorer_kwargs: :class:`facedeblur.restore.Restorer` options (device, backend, fidelity,
            only_center_face, batch_size, and the detection options detector, min_face_size,
            detection_threshold, max_side, upsample).

    Returns:
        One record per file in input order (inputs that name no file: a failed record each).
    """
    from facedeblur.batch.inputs import expand_inputs
    from facedeblur.batch.paths import PathPolicy
    from facedeblur.batch.restore_files import plan_restore

    out = Path(out_dir)
    found = expand_inputs([str(i) for i in inputs])
    policy = PathPolicy([f.path for f in found.files], found.folders)
    policy.check_folder(out, "out_dir")
    jobs = plan_restore(found.files, out, policy, aligned=aligned, compare=compare, save_faces=save_faces)
    records = [{"input": item, "status": "failed", "error": message} for item, message in found.problems]
    done = {
        r["input"]: r
        for r in restore_jobs_with_ray(
            jobs,
            model,
            address=address,
            restorer_kwargs=restorer_kwargs,
            skip_existing=skip_existing,
            files_per_batch=files_per_batch,
            actors=actors,
            video_options=video_options,
            chunks=chunks,
            min_chunk_seconds=min_chunk_seconds,
        )
    }
    return records + [done[job.input] for job in jobs]
