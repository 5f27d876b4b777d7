"""Memory of a long video restore: resident memory sampled while a 1080p clip goes through restore_video.

The 1080p clip is either a real talking-head clip (``--clip``) scaled to 1920x1080 and looped back
and forth (no cut at the joins) until it is ``--seconds`` long, or, without ``--clip``, a synthetic
one (a real UTKFace face moving over a textured background). It is written once (x264 ultrafast; kept
with ``--keep PATH`` for later runs), then restored by ``Restorer.restore_video`` with the default
model (``--fidelity 0`` skips the model: every other stage still runs); a thread samples the process's
resident memory (VmRSS) every 0.25 s. Bounded queues between the stages keep it flat however long the
video: a line with the frames done, the rate and the resident memory is printed (flushed) every
``--every`` % of the frames, so a run stopped early still says what it measured, and at the end the
resident memory after 10 %, 50 % and 100 % of the frames.

Usage:
    python benchmarks/speed/video_memory.py [--seconds 600] [--clip ../shared/data/videos/d13.mp4] \\
        [--keep /tmp/long1080.mp4] [--fidelity 1] [--every 5] [--faces ../shared/data/utkface/val]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

WIDTH, HEIGHT, FPS = 1920, 1080, 25


def rss_mib() -> float:
    """This process's resident memory in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def looped_clip(clip: Path, frames: int):
    """``frames`` 1080p frames of ``clip``: scaled (letterboxed) to 1920x1080, played forwards then backwards."""
    import cv2
    import numpy as np

    from facedeblur.video import read_frames

    source = list(read_frames(clip))
    height, width = source[0].shape[:2]
    scale = min(WIDTH / width, HEIGHT / height)
    size = (int(round(width * scale)) // 2 * 2, int(round(height * scale)) // 2 * 2)
    x0, y0 = (WIDTH - size[0]) // 2, (HEIGHT - size[1]) // 2
    scaled = []
    for rgb in source:
        frame = np.full((HEIGHT, WIDTH, 3), 16, np.uint8)
        frame[y0 : y0 + size[1], x0 : x0 + size[0]] = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
        scaled.append(frame)
    order = list(range(len(scaled))) + list(range(len(scaled) - 2, 0, -1))
    for i in range(frames):
        yield scaled[order[i % len(order)]]


def synthetic_clip(faces: Path, frames: int):
    """A real face moving over a textured background, 1080p."""
    import numpy as np

    from facedeblur.images import read_image

    face = read_image(sorted(faces.glob("*.jpg"))[0])[:, :, :3]
    rng = np.random.default_rng(0)
    background = (rng.random((HEIGHT, WIDTH, 3)) * 60 + 90).astype(np.uint8)
    big = np.kron(face, np.ones((2, 2, 1), np.uint8))  # 400 px face
    for i in range(frames):
        frame = background.copy()
        x = 800 + int(40 * np.sin(i / FPS))
        frame[300 : 300 + big.shape[0], x : x + big.shape[1]] = big
        yield frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the 1080p clip")
    parser.add_argument("--clip", type=Path, help="a real clip to scale and loop (default: a synthetic one)")
    parser.add_argument("--keep", type=Path, help="write the 1080p clip here, or reuse it when it exists")
    parser.add_argument("--fidelity", type=float, default=1.0, help="0 skips the model")
    parser.add_argument("--every", type=float, default=5.0, help="print a line every this many %% of the frames")
    parser.add_argument("--faces", type=Path, default=Path("../shared/data/utkface/val"))
    args = parser.parse_args(argv)

    from facedeblur.restore import Restorer
    from facedeblur.video import EncodeOptions, probe_video, write_video

    work = Path(tempfile.mkdtemp())
    src = args.keep or work / "long.mp4"
    frames = int(args.seconds * FPS)
    if not src.exists():
        start = time.perf_counter()
        clip = looped_clip(args.clip, frames) if args.clip else synthetic_clip(args.faces, frames)
        write_video(src, clip, fps=FPS, options=EncodeOptions(crf=18, preset="ultrafast"))
        print(f"wrote {src} in {time.perf_counter() - start:.0f} s", flush=True)
    info = probe_video(src)
    restorer = Restorer("default", device="cpu", fidelity=args.fidelity)
    samples: list[tuple[int, float]] = []
    done = {"frames": 0, "next": args.every / 100}
    stop = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((done["frames"], rss_mib()))
            time.sleep(0.25)

    def count(n: int) -> None:
        done["frames"] += n
        if done["frames"] >= done["next"] * info.frames:
            done["next"] += args.every / 100
            seconds = time.perf_counter() - start
            print(
                f"{done['frames']} / {info.frames} frames ({100 * done['frames'] / info.frames:.0f} %), "
                f"{seconds:.0f} s, {done['frames'] / seconds:.2f} frames/s, resident {rss_mib():.0f} MiB",
                flush=True,
            )

    sampler = threading.Thread(target=sample, daemon=True)
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
        f"{info.width}x{info.height}, {info.frames} frames ({info.frames / FPS:g} s), fidelity {args.fidelity:g}: "
        f"{seconds:.0f} s, {result.frames / seconds:.1f} frames/s; model on {result.model_faces} of "
        f"{sum(result.faces_per_frame)} faces"
    )
    print(
        f"resident memory (MiB): before {before:.0f}; after 10% of the frames {at(0.1):.0f}, 50% {at(0.5):.0f}, "
        f"100% {at(1.0):.0f}; peak {max(r for _, r in samples):.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
