"""PSNR(average, middle frame) of the `photo` recipe's talking frame averages, against the frames protocol's range.

Degrades validation faces (resized to 128 px) with frame averages only, every one of them talking
(:mod:`facedeblur.degrade.talking`; noise, JPEG and low resolution off unless ``--with-noise``), prints the
PSNR distribution, the share inside the frames protocol's accepted range
(:class:`facedeblur.eval.protocols.FramesConfig`, 22-38 dB) and the median by amplitude, and with ``--png``
writes six examples (sharp | average | 4x difference; the three largest mouth amplitudes and three blinks).
``--set key=value`` overrides any `photo` recipe option (e.g. ``--set "talking_span=[3.0, 10.0]"``).

Usage:
    python benchmarks/quality/talking_averages.py ../shared/data/utkface/val --faces 100 --png /tmp/mouth-examples.png
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("faces_dir", type=Path, help="folder of sharp face images (e.g. UTKFace val)")
    parser.add_argument("--faces", type=int, default=100, help="faces used (the first N by name)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-noise", action="store_true", help="keep the recipe's noise and JPEG")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override")
    parser.add_argument("--png", type=Path, help="write six examples here")
    args = parser.parse_args(argv)

    from facedeblur.degrade.ops import square_resize
    from facedeblur.degrade.recipes import apply_params_numpy, load_recipe, sample_params_batch
    from facedeblur.eval.protocols import FramesConfig
    from facedeblur.face.detect import to_uint8_rgb
    from facedeblur.images import read_image

    files = sorted(p for p in args.faces_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[: args.faces]
    if not files:
        parser.error(f"no images in {args.faces_dir}")
    faces = [square_resize(to_uint8_rgb(read_image(f)).astype(np.float32) / 255.0, 128) for f in files]
    only_frames = [
        "shake_probability=0.0",
        "defocus_probability=0.0",
        "no_blur_probability=0.0",
        "frames_probability=1.0",
        "talking_probability=1.0",
        "scale_probability=0.0",
    ]
    if not args.with_noise:
        only_frames += ["noise_probability=0.0", "jpeg_probability=0.0"]
    recipe = load_recipe("photo", only_frames + args.set)
    params = sample_params_batch(recipe, np.random.default_rng(args.seed), len(faces), 128, 128)
    outs = [
        apply_params_numpy(f, p, np.random.default_rng([args.seed, i]))
        for i, (f, p) in enumerate(zip(faces, params, strict=True))
    ]
    psnr = np.array(
        [10 * np.log10(1 / max(float(np.mean((o - f) ** 2)), 1e-12)) for o, f in zip(outs, faces, strict=True)]
    )
    lo, hi = FramesConfig().psnr_range
    options = {k: getattr(recipe, k) for k in vars(recipe) if k.startswith("talking") or k.startswith("frames_")}
    print(f"{len(faces)} faces, recipe options {options}")
    p5, p25, p75, p95 = np.percentile(psnr, [5, 25, 75, 95])
    print(
        f"PSNR(average, middle frame): mean {psnr.mean():.2f} dB, median {np.median(psnr):.2f}, "
        f"p5 {p5:.2f}, p25 {p25:.2f}, p75 {p75:.2f}, p95 {p95:.2f}, min {psnr.min():.2f}, max {psnr.max():.2f}"
    )
    print(
        f"inside the frames protocol's [{lo:g}, {hi:g}] dB: {np.mean((psnr >= lo) & (psnr <= hi)):.0%} "
        f"(above: {np.mean(psnr > hi):.0%}, below: {np.mean(psnr < lo):.0%})"
    )
    talking = [p["kernel_info"]["talking"] for p in params]
    amplitude = np.array([t["amplitude"] for t in talking])
    edges = np.linspace(recipe.talking_amplitude[0], recipe.talking_amplitude[1], 4)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        inside = (amplitude >= a) & (amplitude <= b)
        if inside.any():
            print(
                f"  mouth amplitude {a:.1f}-{b:.1f} px: {inside.sum()} faces, median {np.median(psnr[inside]):.2f} dB"
            )
    blink = np.array(["blink_amplitude" in t for t in talking])
    print(
        f"  with a blink: {blink.sum()} faces, median {np.median(psnr[blink]) if blink.any() else float('nan'):.2f} dB"
    )
    if args.png:
        import cv2

        pick = (
            list(np.argsort(-amplitude)[:3])
            + [i for i in np.flatnonzero(blink) if i not in np.argsort(-amplitude)[:3]][:3]
        )
        rows = [np.concatenate([faces[i], outs[i], np.clip(4 * np.abs(outs[i] - faces[i]), 0, 1)], 1) for i in pick]
        rows += [np.zeros_like(rows[0])] * (6 - len(rows))
        grid = np.concatenate([np.concatenate(rows[:3], 0), np.concatenate(rows[3:], 0)], 1)
        grid = cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        args.png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.png), cv2.cvtColor((grid * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR))
        for i in pick:
            t, info = talking[i], params[i]["kernel_info"]
            print(
                f"  example {files[i].name}: mouth {t['amplitude']:.1f} px at {t['cycles']:.2f} cycles, "
                f"blink {t.get('blink_amplitude', 0.0):.1f} px, head span {info['span']:.1f} px, "
                f"{info['frames']} frames, {psnr[i]:.1f} dB"
            )
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
