"""Video quality figures: fine detail kept by the encoder, flicker in vs out, face-box PSNR on blurred clips.

For each dev clip (first ``--seconds``):

1. **Detail retained** (face region, share of the finest band reproduced, see
   :mod:`facedeblur.eval.video`): the clip re-encoded plainly at several H.264 CRFs, against the
   decoded input; and the default restore against the same restore written losslessly (what the
   encoder keeps of the restoration).
2. **Steady, frames protocol**: the clip's most moving stretch of the same length (within the first
   ``--search-seconds``), blurred by averaging 9 neighbouring frames in linear light (real motion
   blur; the sharp frames are the truth), written losslessly, restored (lossless output) without
   temporal smoothing (``off``), with the default smoothing and the model on every frame
   (``smoothed``), with the package's defaults but neither the alignment hold, the steady rounding
   nor the noise-scaled face averaging (``unsteady``: the defaults before they had them), and with
   the package's defaults (``default``: the model also skips faces that did not change, a still face
   keeps its alignment, pasted pixels do not toggle, noisy faces are averaged over time): face-box
   PSNR against the sharp frames and flicker, each against the blurred input's.
3. **Steady, real clip**: flicker of the restore (lossless output) in every configuration above,
   against the input's.

Usage:
    python benchmarks/quality/video_quality.py [../shared/data/videos] [--seconds 2] [--clips d3 d19] \
        [--crfs 17 14 12 10] [--weights 0.5 0.9 --smooth face] [--intervals 2 3] [--config 'nohold={"hold": 0}'] \
        [--no-steady]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _markers import DOCS, README, update_file  # noqa: E402  (shared with run_protocols.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path, nargs="?", default=Path("../shared/data/videos"))
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clips", nargs="*", help="clip stems (default: every clip in the folder)")
    parser.add_argument("--crfs", nargs="*", type=int, default=[17, 14, 12, 10])
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, help="model/codec threads (default: restore_video's)")
    parser.add_argument("--weights", nargs="*", type=float, default=[], help="more temporal weights to compare")
    parser.add_argument("--smooth", default="change", help="what --weights smooth: change, detail or face")
    parser.add_argument("--intervals", nargs="*", type=int, default=[], help="more model intervals to compare")
    parser.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="NAME=JSON",
        help="more configurations to compare: restore_video keyword arguments, e.g. nohold='{\"hold\": 0}'",
    )
    parser.add_argument("--no-steady", dest="steady", action="store_false", help="skip the frames protocol")
    parser.add_argument("--search-seconds", type=float, default=12.0, help="where to look for the most motion")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--update-docs",
        "--update-readme",
        dest="update_docs",
        action="store_true",
        help="rewrite the flicker table of docs/benchmarks.md (the video-steady block) and its mean row in "
        "README.md (the video-steady-summary block) from the figures",
    )
    parser.add_argument("--from-json", type=Path, help="no run: an earlier --json file's figures (for --update-docs)")
    args = parser.parse_args(argv)
    if args.from_json:
        figures = json.loads(args.from_json.read_text())
        return update_docs(figures) if args.update_docs else 0

    import numpy as np
    import torch

    from facedeblur.eval.video import BLUR_WINDOW, blurred_video, face_boxes, most_moving_span, read_clip, score_video
    from facedeblur.restore import Restorer
    from facedeblur.video import EncodeOptions, transcode_video, trim_video, write_video

    if args.threads:
        torch.set_num_threads(args.threads)
    restorer = Restorer(args.model, device="cpu")
    paths = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".avi"))
    if args.clips:
        paths = [p for p in paths if p.stem in args.clips]
    work = Path(tempfile.mkdtemp())
    figures: dict[str, dict] = {}
    lossless = EncodeOptions("lossless")
    # off: the model on every frame, no smoothing; smoothed: the default smoothing, the model on every
    # frame; default: the package's defaults (smoothing, and the model skipping faces that did not change)
    configs = {
        "off": {"temporal": 0.0, "model_interval": 1},
        "smoothed": {"model_interval": 1},
        "unsteady": {"hold": 0.0, "steady_levels": 0.0, "smooth": "change"},
        "default": {},
    }
    for w in args.weights:
        configs[f"{args.smooth}{w:g}"] = {"temporal": w, "smooth": args.smooth}  # the default model interval
    for interval in args.intervals:
        configs[f"every{interval}"] = {"model_interval": interval}
    for item in args.config:
        name, _, options = item.partition("=")
        configs[name] = json.loads(options)
    if args.threads:
        configs = {name: {**options, "threads": args.threads} for name, options in configs.items()}
    for path in paths:
        start = time.perf_counter()
        clip = work / f"{path.stem}{path.suffix}"
        info = trim_video(path, clip, args.seconds)
        original = read_clip(clip)
        boxes = face_boxes(original, info.fps)
        row: dict = {"size": f"{info.width}x{info.height}", "frames": len(original)}
        # 1. detail kept by plain re-encodes and by the default restore's encoder
        for crf in args.crfs:
            out = work / f"{path.stem}_crf{crf}{path.suffix}"
            transcode_video(clip, out, options=EncodeOptions("h264", crf=crf))
            row[f"reencode_crf{crf}_detail"] = score_video(read_clip(out), original, boxes).detail_retained
        default_out = work / f"{path.stem}_restored{path.suffix}"
        exact_out = work / f"{path.stem}_restored_lossless.mkv"
        restorer.restore_video(clip, default_out, **configs["default"])
        restorer.restore_video(clip, exact_out, encode=lossless, **configs["default"])
        restored, exact = read_clip(default_out), read_clip(exact_out)
        row["restore_encoder_detail"] = score_video(restored, exact, boxes).detail_retained
        real = score_video(exact, original, boxes)
        row["real_flicker_in"], row["real_flicker_out"] = real.flicker_in, real.flicker_out
        row["restore_detail_vs_input"] = real.detail_kept
        for name, options in configs.items():  # every other configuration's flicker on the real clip
            if name != "default":
                real_out = work / f"{path.stem}_restored_{name}.mkv"
                restorer.restore_video(clip, real_out, encode=lossless, **options)
                row[f"real_flicker_{name}"] = score_video(read_clip(real_out), original, boxes).flicker_out
        # 2. frames protocol: the clip's most moving stretch, blurred, lossless in and out
        if args.steady:
            full = read_clip(path, max_frames=int(args.search_seconds * info.fps))
            length = len(original) + BLUR_WINDOW - 1
            first = most_moving_span(full, length)
            pairs = list(blurred_video(full[first : first + length]))
            blurred, sharp = [b for b, _ in pairs], [s for _, s in pairs]
            sharp_boxes = face_boxes(sharp, info.fps)
            blurred_path = work / f"{path.stem}_blurred.mkv"
            write_video(blurred_path, blurred, fps=info.fps, options=lossless)
            row["frames_start"] = first + BLUR_WINDOW // 2
            for name, options in configs.items():
                out = work / f"{path.stem}_blurred_{name}.mkv"
                t0 = time.perf_counter()
                result = restorer.restore_video(blurred_path, out, encode=lossless, **options)
                seconds = time.perf_counter() - t0
                scores = score_video(read_clip(out), blurred, sharp_boxes, sharp=sharp)
                row[f"frames_{name}"] = {
                    **scores.to_dict(),
                    "model_faces": result.model_faces,
                    "seconds": round(seconds, 2),
                }
        figures[path.stem] = row
        print(f"{path.stem} ({row['size']}, {row['frames']} frames, {time.perf_counter() - start:.0f} s):")
        print(
            "  detail kept by a plain H.264 re-encode: "
            + ", ".join(f"CRF {crf} {row[f'reencode_crf{crf}_detail']:.1%}" for crf in args.crfs)
        )
        print(
            f"  detail of the restoration kept by the default encoder: {row['restore_encoder_detail']:.1%}; "
            f"restored detail vs input {row['restore_detail_vs_input']:.2f}x"
        )
        print(
            f"  flicker, real clip: input {row['real_flicker_in']:.3f}, restored {row['real_flicker_out']:.3f} "
            f"(without smoothing {row['real_flicker_off']:.3f})"
        )
        for name in configs:
            real = row["real_flicker_out" if name == "default" else f"real_flicker_{name}"]
            if not args.steady:
                print(f"  {name}: real clip flicker {real:.3f}")
                continue
            s = row[f"frames_{name}"]
            print(
                f"  {name}: real clip flicker {real:.3f}; frames protocol: PSNR {s['psnr_in']:.2f} -> "
                f"{s['psnr_out']:.2f} dB, flicker {s['flicker_in']:.3f} -> {s['flicker_out']:.3f}, model on "
                f"{s['model_faces']} faces, {s['seconds']} s"
            )

    def mean(key, sub=None):
        values = [r[key][sub] if sub else r[key] for r in figures.values()]
        return float(np.mean(values))

    print("\nmeans over", ", ".join(figures))
    for crf in args.crfs:
        print(f"  plain re-encode CRF {crf}: detail kept {mean(f'reencode_crf{crf}_detail'):.1%}")
    print(f"  default restore: encoder keeps {mean('restore_encoder_detail'):.1%} of the restoration's detail")
    print(
        f"  real clips flicker: input {mean('real_flicker_in'):.3f}, restored {mean('real_flicker_out'):.3f} "
        f"(without smoothing {mean('real_flicker_off'):.3f})"
    )
    for name in configs:
        key = "real_flicker_out" if name == "default" else f"real_flicker_{name}"
        print(f"  real clips {name}: flicker {mean(key):.3f}")
    for name in configs if args.steady else []:
        print(
            f"  frames protocol {name}: PSNR {mean(f'frames_{name}', 'psnr_in'):.2f} -> "
            f"{mean(f'frames_{name}', 'psnr_out'):.2f} dB, flicker {mean(f'frames_{name}', 'flicker_in'):.3f} -> "
            f"{mean(f'frames_{name}', 'flicker_out'):.3f}, model faces {mean(f'frames_{name}', 'model_faces'):.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return update_docs(figures) if args.update_docs else 0


def steady_table(figures: dict) -> str:
    """The flicker table of docs/benchmarks.md: per clip, real-clip flicker and frames-protocol PSNR and flicker.

    Columns: the input, ``off`` (the model on every frame, nothing smoothed or held: what the smoothing
    is measured against) and ``default``.
    """
    lines = [
        "| clip | real: flicker in | unsmoothed | default | default vs in | frames: PSNR in | unsmoothed | default "
        "| flicker in | unsmoothed | default |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = _steady_rows(figures)
    for clip, values in rows.items():
        lines.append(f"| {clip} | " + " | ".join(_cell(i, v) for i, v in enumerate(values)) + " |")
    means = _steady_means(rows)
    lines.append("| **mean** | " + " | ".join(f"**{_cell(i, v)}**" for i, v in enumerate(means)) + " |")
    return "\n".join(lines)


def steady_summary(figures: dict) -> str:
    """The README's flicker headline: the mean row of :func:`steady_table`, in words.

    Args:
        figures: the figures (or an earlier ``--json`` file's).

    Returns:
        One line: real-clip flicker in -> default, and the frames protocol's face-box PSNR in -> default.
    """
    real_in, _, real_out, change, psnr_in, _, psnr_out = (
        _cell(i, v) for i, v in enumerate(_steady_means(_steady_rows(figures))[:7])
    )
    return (
        f"Flicker on the {len(figures)} dev clips (mean, 8-bit levels): input {real_in}, restored {real_out} "
        f"({change}); face-box PSNR on their blurred stretches (frames protocol as video): {psnr_in} dB in, "
        f"{psnr_out} dB restored."
    )


def _steady_rows(figures: dict) -> dict[str, list[float]]:
    """Per clip, the flicker table's ten figures (see :func:`steady_table`)."""

    def real(row: dict, name: str) -> float:
        return row["real_flicker_out" if name == "default" else f"real_flicker_{name}"]

    rows = {}
    for clip, row in figures.items():
        frames_off, frames_d = row["frames_off"], row["frames_default"]
        rows[clip] = [
            row["real_flicker_in"],
            real(row, "off"),
            real(row, "default"),
            real(row, "default") / row["real_flicker_in"] - 1,
            frames_d["psnr_in"],
            frames_off["psnr_out"],
            frames_d["psnr_out"],
            frames_d["flicker_in"],
            frames_off["flicker_out"],
            frames_d["flicker_out"],
        ]
    return rows


def _steady_means(rows: dict[str, list[float]]) -> list[float]:
    """The mean of each column; the change column is that of the mean flickers, not the mean of the changes."""
    import numpy as np

    means = np.mean(np.array(list(rows.values())), axis=0)
    means[3] = means[2] / means[0] - 1
    return [float(v) for v in means]


def _cell(i: int, value: float) -> str:
    if i == 3:
        return f"{value:+.1%}".replace("%", " %")
    return f"{value:.2f}" if i in (4, 5, 6) else f"{value:.3f}"


def update_docs(figures: dict) -> int:
    """Write the flicker table into docs/benchmarks.md and its mean into README.md; 2 when a block is missing."""
    return update_file(DOCS, {"video-steady": steady_table(figures)}) or update_file(
        README, {"video-steady-summary": steady_summary(figures)}
    )


if __name__ == "__main__":
    raise SystemExit(main())
