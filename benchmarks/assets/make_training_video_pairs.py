"""The default restorer's real motion pairs: frame averages of the dev videos' frames after the frames protocol's.

    python benchmarks/assets/make_training_video_pairs.py ../shared/data/videos runs/video-pairs-train

The frames protocol reads each clip's first 240 frames; these pairs start at frame 240, so no test window is
trained on (only the two longer clips, d13 and d3, and a few frames of d19 have frames after 240). Windows
of 5-13 frames, every 2nd start, up to 40 pairs per window length and clip (the campaign's folder holds 39).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path, help="folder of the development videos")
    parser.add_argument("out", type=Path, help="pairs folder to write (blurred/, gt/, params/)")
    args = parser.parse_args()

    from facedeblur.eval.protocols import FramesConfig, make_frames

    config = FramesConfig(windows=(5, 7, 9, 11, 13), pairs_per_window=40, stride=2, max_frames=400, start_frame=240)
    count = make_frames(args.videos, args.out, config, progress=True)
    print(f"wrote {count} pairs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
