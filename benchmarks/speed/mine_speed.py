"""Mining speed on CPU: run the mining framework over a folder of videos and print frames/s and stages.

The figures are total frames read / wall time (and / CPU time of this process, which stays meaningful
on a busy machine) of ``facedeblur.data.mining.mine_videos`` (detection on every frame, CSRT tracking,
68 landmarks, the fitting SVM, optical flow, writing crops), in this process; ``--ray`` also runs it
as one Ray task per video on a local instance of ``--ray-cpus`` CPUs.

Usage:
    python benchmarks/speed/mine_speed.py [VIDEOS_DIR] [--out DIR] [--ray] [--ray-cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "videos")
    parser.add_argument("--out", type=Path, default=None, help="dataset folder (default: a temporary one)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ray", action="store_true", help="also time one Ray task per video on a local instance")
    parser.add_argument("--ray-cpus", type=int, default=2)
    args = parser.parse_args()

    import cv2

    from facedeblur.commands.mine import find_videos
    from facedeblur.data.mining import MiningConfig, format_summary, mine_videos

    videos = [f.path for f in find_videos([str(args.videos)]).files]
    out = args.out or Path(tempfile.mkdtemp(prefix="mine-speed-"))
    config = MiningConfig(size=args.size)
    print(
        f"{len(videos)} videos from {args.videos}; CPU: {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores, OpenCV threads {cv2.getNumThreads()}"
    )
    cpu_start = time.process_time()
    report = mine_videos(videos, out / "in-process", config, progress=False)
    cpu_seconds = time.process_time() - cpu_start
    print(format_summary(report))
    summary = report["summary"]
    frames = summary["frames"]
    stages = ", ".join(f"{k} {1000 * v / frames:.1f}" for k, v in summary["stage_cpu_seconds"].items())
    print(
        f"in-process: {summary['frames_per_second']:.2f} frames/s wall,"
        f" {frames / cpu_seconds:.2f} frames per CPU-second"
        f" ({cpu_seconds:.1f} CPU-s for {frames} frames); CPU ms per frame by stage: {stages}"
    )
    if args.ray:
        import ray

        from facedeblur.distributed.ray_jobs import mine_videos_with_ray

        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
        ray_summary = mine_videos_with_ray(videos, out / "ray", config, address="local")["summary"]
        print(f"Ray, {args.ray_cpus} local workers: {ray_summary['frames_per_second']:.2f} frames/s (incl. start-up)")
    record = {"frames": frames, "frames_per_second": summary["frames_per_second"], "cpu_seconds": round(cpu_seconds, 2)}
    print(json.dumps({**record, "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
