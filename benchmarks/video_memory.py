"""Memory of a long video restore: resident memory sampled while a 1080p clip goes through restore_video.

A synthetic 1080p clip (a real UTKFace face moving over a textured background, ``--seconds`` long)
is written, then restored by ``Restorer.restore_video``; a thread samples the process's resident
memory (VmRSS) every 0.25 s. Bounded queues between the stages keep it flat however long the video:
the figure printed is the resident memory after 10 %, 50 % and 100 % of the frames. ``--fidelity 0``
skips the model (the frames still go through every stage) to keep the run short on a CPU.

Usage:
    python benchmarks/video_memory.py [--seconds 30] [--fidelity 0] [--faces ../shared/data/utkface/val]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path


def rss_mib() -> float:
    """This process's resident memory in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fidelity", type=float, default=0.0)
    parser.add_argument("--faces", type=Path, default=Path("../shared/data/utkface/val"))
    args = parser.parse_args(argv)

    import numpy as np

    from facedeblur.images import read_image
    from facedeblur.restore import Restorer
    from facedeblur.video import probe_video, write_video

    face = read_image(sorted(args.faces.glob("*.jpg"))[0])[:, :, :3]
    rng = np.random.default_rng(0)
    background = (rng.random((1080, 1920, 3)) * 60 + 90).astype(np.uint8)
    frames = int(args.seconds * 25)

    def clip():
        for i in range(frames):
            frame = background.copy()
            x = 800 + int(40 * np.sin(i / 25))
            big = np.kron(face, np.ones((2, 2, 1), np.uint8))  # 400 px face
            frame[300 : 300 + big.shape[0], x : x + big.shape[1]] = big
            yield frame

    work = Path(tempfile.mkdtemp())
    src = work / "long.mp4"
    write_video(src, clip(), fps=25)
    info = probe_video(src)
    restorer = Restorer("default", device="cpu", fidelity=args.fidelity)
    samples: list[tuple[int, float]] = []
    done = {"frames": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((done["frames"], rss_mib()))
            time.sleep(0.25)

    def count(n: int) -> None:
        done["frames"] += n

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    before = rss_mib()
    sampler.start()
    result = restorer.restore_video(src, work / "out.mp4", progress=count)
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - start

    def at(share: float) -> float:
        wanted = share * info.frames
        return max(r for f, r in samples if f <= wanted) if samples else float("nan")

    print(
        f"{info.width}x{info.height}, {info.frames} frames ({args.seconds:g} s), fidelity {args.fidelity:g}: "
        f"{seconds:.0f} s, {result.frames / seconds:.1f} frames/s"
    )
    print(
        f"resident memory (MiB): before {before:.0f}; after 10% of the frames {at(0.1):.0f}, 50% {at(0.5):.0f}, "
        f"100% {at(1.0):.0f}; peak {max(r for _, r in samples):.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
