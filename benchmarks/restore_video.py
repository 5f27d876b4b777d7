"""Video restoration speed on CPU (frames/s end to end) and how much face tracking removes landmark jitter.

The first ``--seconds`` of a talking-head clip (audio kept) are restored with ``Restorer.restore_video``,
exactly what ``facedeblur restore clip.mp4 -o OUT`` does per video once the model is loaded. The clip
is copied without re-encoding first so only the restore is timed. Then the largest face's five
landmarks are compared frame by frame, raw detections against the tracker's smoothed ones: jitter is
the mean absolute second difference over frames, in % of the face size.

Usage:
    python benchmarks/restore_video.py ../shared/data/videos/d19.mp4 [--seconds 3] [--model default] \
        [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def landmark_jitter(clip: Path, fps: float) -> tuple[float, float, float]:
    """Jitter of the largest face's landmarks, raw detections vs :class:`FaceTracker` output.

    Jitter = mean |second difference over frames| of the five landmarks, in % of the face size; also
    returns the mean distance between smoothed and raw landmarks (lag + removed noise), same unit.
    """
    import numpy as np

    from facedeblur.face.detect import detect_faces
    from facedeblur.face.tracking import FaceTracker
    from facedeblur.video import read_frames

    tracker = FaceTracker(fps=fps)
    raw, smooth, sizes = [], [], []
    for frame in read_frames(clip):
        faces = detect_faces(frame, upsample=0)[:1]
        tracked = tracker.update([f.box for f in faces], [f.landmarks5 for f in faces], [f.score for f in faces])
        if not faces or not tracked or tracked[0].missed:
            continue
        raw.append(faces[0].landmarks5.astype(float))
        smooth.append(tracked[0].landmarks5)
        sizes.append(faces[0].size)
    raw_a, smooth_a, size = np.stack(raw), np.stack(smooth), float(np.mean(sizes))

    def jitter(x):
        return float(np.abs(np.diff(x, 2, axis=0)).mean() / size * 100)

    return jitter(raw_a), jitter(smooth_a), float(np.abs(smooth_a - raw_a).mean() / size * 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=Path("../shared/data/videos/d19.mp4"))
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the clip restored")
    parser.add_argument("--model", default="default", help="bundled name, 'default' or a .safetensors path")
    parser.add_argument("--device", default="cpu", help="auto|cpu|cuda|mps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)

    import torch

    from facedeblur.restore import Restorer
    from facedeblur.video import probe_video, trim_video

    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp())
    clip = workdir / f"clip{args.video.suffix}"
    info = trim_video(args.video, clip, args.seconds)
    restorer = Restorer(args.model, device=args.device)
    print(
        f"cpu cores: {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}; clip {args.video.name}: {info.width}x{info.height}, "
        f"{info.fps:g} fps, {info.frames} frames, audio {info.has_audio}"
    )
    t0 = time.perf_counter()
    result = restorer.restore_video(clip, workdir / f"out{args.video.suffix}")
    seconds = time.perf_counter() - t0
    out = probe_video(workdir / f"out{args.video.suffix}")
    rate = result.frames / seconds
    print(
        f"restored {result.frames} frames ({sum(result.faces_per_frame)} faces) in {seconds:.2f} s: "
        f"{rate:.2f} frames/s on {restorer.device}; output {out.width}x{out.height}, {out.frames} frames, "
        f"audio {out.has_audio}"
    )
    raw, smoothed, offset = landmark_jitter(clip, info.fps)
    print(
        f"landmark jitter (mean |2nd difference|, % of face size): raw {raw:.3f}, smoothed {smoothed:.3f} "
        f"({raw / max(smoothed, 1e-9):.1f}x less); smoothed-raw offset {offset:.3f} %"
    )
    print("\nREADME rows:")
    print(
        f"| restore video {info.width}x{info.height}, 1 face, {restorer.model.name}, {restorer.device} | "
        f"{rate:.2f} frames/s | | `python benchmarks/restore_video.py --seconds {args.seconds:g}` |"
    )
    print(
        f"| landmark jitter, {args.video.name} (% of face size per frame^2) | raw {raw:.3f} -> smoothed {smoothed:.3f} "
        f"| offset {offset:.3f} % | `python benchmarks/restore_video.py --seconds {args.seconds:g}` |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
