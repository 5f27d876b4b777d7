"""Video restoration speed against a plain re-encode of the same clip, fps per stage, landmark jitter.

The first ``--seconds`` of a talking-head clip are copied out without re-encoding; then the clip is
re-encoded plainly (PyAV: decode -> encode with the same codec and CRF as the restored output, no RGB
conversion: what ``ffmpeg -i clip.mp4 -c:v libx264 -crf N out.mp4`` does) and restored with
``Restorer.restore_video`` (exactly what ``facedeblur restore clip.mp4 -o OUT`` does per video once the
model is loaded), alternately ``--repeats`` times, after one untimed run of each (the file cache and the
codecs warmed; the restore's first call also loads the detector and the landmark model, its time is
printed). The ratio is the median restore time over the
median plain re-encode of the same run, so a machine busy with other work slows both alike. Then the
largest face's five landmarks are compared frame by frame, raw detections against the tracker's
smoothed ones: jitter is the mean absolute second difference over frames, in % of the face size.

Usage:
    python benchmarks/speed/restore_video.py ../shared/data/videos/d19.mp4 [--seconds 3] [--model default] \\
        [--device cpu] [--threads 2] [--codec auto] [--crf N] [--model-interval N] [--backend onnxruntime] \
        [--repeats 3] [--no-jitter]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def plain_reencode(src: Path, dst: Path, options) -> float:
    """Seconds to decode and re-encode a video's frames with ``options`` (video stream only)."""
    import av

    from facedeblur.video.encode import add_video_stream
    from facedeblur.video.streams import frame_rate

    start = time.perf_counter()
    with av.open(str(src)) as source, av.open(str(dst), "w") as output:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        ctx = video.codec_context
        stream = add_video_stream(
            output, dst.suffix, ctx.width, ctx.height, frame_rate(video), video.time_base, options, source=video
        )
        for frame in source.decode(video):
            frame.pict_type = 0  # let the encoder choose frame types
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return time.perf_counter() - start


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
    parser.add_argument("--threads", type=int, default=2, help="model/codec threads (0: default)")
    parser.add_argument("--codec", default="auto", help="auto|h264|h265|lossless")
    parser.add_argument("--crf", type=int, default=None, help="CRF of both encodes (default: the package's)")
    parser.add_argument("--temporal", type=float, default=None, help="temporal smoothing weight (default 0.5)")
    parser.add_argument(
        "--model-interval", type=int, default=None, help="model on every Nth frame (default: the package's)"
    )
    parser.add_argument(
        "--backend", default="torch", choices=("torch", "onnxruntime"), help="onnxruntime: the model exported first"
    )
    parser.add_argument("--repeats", type=int, default=3, help="restores, each followed by a plain re-encode")
    parser.add_argument("--no-jitter", action="store_true", help="skip the landmark jitter figure")
    args = parser.parse_args(argv)

    import torch

    from facedeblur.restore import Restorer
    from facedeblur.video import EncodeOptions, probe_video, trim_video

    if args.threads:
        torch.set_num_threads(args.threads)
    options = EncodeOptions(args.codec, crf=args.crf)
    workdir = Path(tempfile.mkdtemp())
    clip = workdir / f"clip{args.video.suffix}"
    info = trim_video(args.video, clip, args.seconds)
    model = args.model
    if args.backend == "onnxruntime":
        from facedeblur.cli import main as cli

        model = str(workdir / "model.onnx")
        if cli(["export", args.model, "--format", "onnx", "-o", model]) != 0:
            raise SystemExit("the ONNX export failed")
    restorer = Restorer(model, device=args.device, backend=args.backend)
    print(
        f"cpu cores: {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}; clip {args.video.name}: {info.width}x{info.height}, "
        f"{info.fps:g} fps, {info.frames} frames, audio {info.has_audio}; codec {options.encoder(clip.suffix)} "
        f"{options.quality(clip.suffix)}"
    )

    def restore(dst: Path):
        return restorer.restore_video(
            clip,
            dst,
            encode=options,
            temporal=args.temporal,
            model_interval=args.model_interval,
            threads=args.threads or None,  # the model's, the decoder's and the encoder's
        )

    plain_reencode(clip, workdir / f"warm{args.video.suffix}", options)  # warm the file cache and codecs
    # ... and the restore alike: its first call also loads the detector and the landmark model and sets
    # up the network's kernels for each batch size, once per process (reported, not in the ratio)
    t0 = time.perf_counter()
    restore(workdir / f"warm-out{args.video.suffix}")
    first = time.perf_counter() - t0
    plain = [plain_reencode(clip, workdir / f"plain{args.video.suffix}", options)]
    out = workdir / f"out{args.video.suffix}"
    restores = []
    for _ in range(args.repeats):  # alternate, so a load that comes and goes hits both alike
        t0 = time.perf_counter()
        result = restore(out)
        restores.append(time.perf_counter() - t0)
        plain.append(plain_reencode(clip, workdir / f"plain{args.video.suffix}", options))
    reference = statistics.median(plain)
    seconds = statistics.median(restores)
    written = probe_video(out)
    rate = result.frames / seconds
    print(
        f"plain re-encode: median {reference:.2f} s ({', '.join(f'{p:.2f}' for p in plain)}), "
        f"{info.frames / reference:.1f} frames/s"
    )
    print(
        f"restore: median {seconds:.2f} s ({', '.join(f'{s:.2f}' for s in restores)}), {rate:.2f} frames/s, "
        f"{sum(result.faces_per_frame)} faces in {result.frames} "
        f"frames on {restorer.device}; output {written.width}x{written.height}, {written.frames} frames, "
        f"audio {written.has_audio}"
    )
    print(f"ratio restore / plain re-encode: {seconds / reference:.2f}x")
    print(f"first restore of the process (warm-up, loads the face models; not in the ratio): {first:.2f} s")
    print(
        "stages (frames per busy second, each alone): "
        + ", ".join(f"{name} {s['fps']:.1f}" for name, s in result.stages.items())
    )
    print("face steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in result.face_seconds.items()))
    print(f"model ran on {result.model_faces} of {sum(result.faces_per_frame)} faces")
    print(f"tracking: {result.tracking}")
    if not args.no_jitter:
        raw, smoothed, offset = landmark_jitter(clip, info.fps)
        print(
            f"landmark jitter (mean |2nd difference|, % of face size): raw {raw:.3f}, smoothed {smoothed:.3f} "
            f"({raw / max(smoothed, 1e-9):.1f}x less); smoothed-raw offset {offset:.3f} %"
        )
    print("\nREADME rows:")
    print(
        f"| restore video {info.width}x{info.height}, 1 face, {restorer.model.name} ({args.backend}), "
        f"{restorer.device}, "
        f"{torch.get_num_threads()} threads | {rate:.1f} frames/s, {seconds / reference:.2f}x a plain re-encode | | "
        f"`python benchmarks/speed/restore_video.py {args.video.name} --seconds {args.seconds:g}` |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
