"""Run a video's stages in threads joined by bounded queues: decoding and encoding overlap the model.

:func:`run_stages` takes a source of items (decoded frames), a chain of :class:`Stage` s and a sink
(the encoder). Every stage runs in its own thread and hands its items on through a queue of at most
``depth`` items, so a long video needs constant memory, the order of items is kept, and stages
that release the GIL (FFmpeg's codecs, PyTorch, OpenCV) run at the same time on different cores.
A stage with ``batch > 1`` receives lists of up to ``batch`` items: all that are waiting, without
waiting for more, so batching never stalls the stream. An error in any stage stops every thread and
is raised again in the caller; each stage's busy time gives its own rate (:class:`StageStats`).

Example:
    >>> out = []
    >>> stats = run_stages(iter(range(5)), [Stage("double", lambda x: 2 * x)], out.append)
    >>> out, stats["double"].items
    ([0, 2, 4, 6, 8], 5)
    >>> out = []
    >>> _ = run_stages(iter(range(5)), [Stage("sum", lambda xs: [sum(xs)] * len(xs), batch=5)], out.append)
    >>> len(out)
    5
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_END = object()  # end of the stream, passed along the queues
POLL = 0.1  # seconds a blocked thread waits before checking whether the run was stopped


@dataclass
class Stage:
    """One step of a pipeline.

    Attributes:
        name: its name in the statistics.
        fn: ``fn(item) -> item``; with ``batch > 1``, ``fn(list of items) -> list of as many items``.
        batch: the most items ``fn`` gets at once (1: one at a time).
    """

    name: str
    fn: Callable[[Any], Any]
    batch: int = 1


@dataclass
class StageStats:
    """Items a stage handled and seconds it was busy (not waiting for its neighbours)."""

    items: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Items per busy second: how fast this stage alone could go."""
        return self.items / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, float]:
        return {"items": self.items, "seconds": round(self.seconds, 3), "fps": round(min(self.rate, 1e9), 2)}


class _Stopped(Exception):
    pass


class _Run:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def fail(self, err: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = err
        self.stop.set()

    def put(self, q: queue.Queue, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue) -> Any:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=POLL)
            except queue.Empty:
                continue


def run_stages(
    source: Iterator[Any],
    stages: list[Stage],
    sink: Callable[[Any], None],
    *,
    depth: int = 8,
    source_name: str = "decode",
    sink_name: str = "encode",
) -> dict[str, StageStats]:
    """Pull items from ``source`` through ``stages`` into ``sink``, every step in its own thread.

    Args:
        source: yields the items (its time counts as the ``source_name`` stage).
        stages: the steps, in order.
        sink: takes each final item, in order.
        depth: items each queue holds at most (memory stays constant whatever the video's length).
        source_name, sink_name: names of the first and last steps in the statistics.

    Returns:
        Statistics per step name, in order (source, stages, sink).

    Raises:
        Whatever a step raised (the first error; the other threads are stopped).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    run = _Run()
    stats = {source_name: StageStats(), **{s.name: StageStats() for s in stages}, sink_name: StageStats()}
    if len(stats) != len(stages) + 2:
        raise ValueError("stage names must differ from each other and from the source and sink")
    queues = [queue.Queue(maxsize=max(depth, s.batch)) for s in stages] + [queue.Queue(maxsize=depth)]

    def produce() -> None:
        out = queues[0]
        record = stats[source_name]
        try:
            while True:
                start = time.perf_counter()
                try:
                    item = next(source)
                except StopIteration:
                    break
                record.seconds += time.perf_counter() - start
                record.items += 1
                run.put(out, item)
            run.put(out, _END)
        except _Stopped:
            pass
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            run.fail(err)

    def work(stage: Stage, inbox: queue.Queue, out: queue.Queue) -> None:
        record = stats[stage.name]
        try:
            done = False
            while not done:
                items = [run.get(inbox)]
                while len(items) < stage.batch and items[-1] is not _END:
                    try:
                        items.append(inbox.get_nowait())
                    except queue.Empty:
                        break
                if items[-1] is _END:
                    items.pop()
                    done = True
                if items:
                    start = time.perf_counter()
                    if stage.batch > 1:
                        results = list(stage.fn(items))
                        if len(results) != len(items):
                            raise ValueError(f"stage {stage.name} returned {len(results)} items for {len(items)}")
                    else:
                        results = [stage.fn(items[0])]
                    record.seconds += time.perf_counter() - start
                    record.items += len(items)
                    for result in results:
                        run.put(out, result)
            run.put(out, _END)
        except _Stopped:
            pass
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            run.fail(err)

    def consume() -> None:
        record = stats[sink_name]
        try:
            while True:
                item = run.get(queues[-1])
                if item is _END:
                    return
                start = time.perf_counter()
                sink(item)
                record.seconds += time.perf_counter() - start
                record.items += 1
        except _Stopped:
            pass
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            run.fail(err)

    threads = [threading.Thread(target=produce, name=source_name, daemon=True)]
    for i, stage in enumerate(stages):
        threads.append(
            threading.Thread(target=work, args=(stage, queues[i], queues[i + 1]), name=stage.name, daemon=True)
        )
    threads.append(threading.Thread(target=consume, name=sink_name, daemon=True))
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=POLL)
    except BaseException:  # Ctrl-C in the caller: stop every thread, then let it through
        run.stop.set()
        for thread in threads:
            thread.join(timeout=5)
        raise
    if run.error is not None:
        raise run.error
    return stats
