"""How much of a JPEG's background a restore changes: the share of background pixels that differ and the
largest level difference, for the way ``facedeblur`` writes JPEGs and two plainer encoders.

The photo is restored in memory; its background is every pixel the pipeline left exactly as it was
(outside the pasted faces). Each encoder writes the restored photo, the file is decoded again, and its
background is compared with the decoded input (all of it, and the part 16 px or more away from any
changed pixel: JPEG codes 8x8 blocks, 16x16 with 4:2:0, so blocks that hold a face edge must change):

- ``facedeblur`` (what ``restore`` writes): the input's own quantisation tables and chroma subsampling,
  as Pillow's ``quality="keep"``, with ICC/EXIF/DPI carried;
- ``pillow q95 4:4:4``: a fresh quality-95 encode without chroma subsampling;
- ``opencv q95`` (what ``restore`` wrote before): a fresh quality-95 encode, 4:2:0.

A photo in which no face is found (or ``--fidelity 0``) is copied byte for byte and changes nothing.
Besides the given photo, three re-encodings of it are measured (4:4:4 at quality 95, 4:2:0 at
quality 75, and with camera-like grain (Gaussian noise, sigma 6 levels, seed 0) at 4:2:0 quality 90),
since the change depends on the input's subsampling, tables and texture.

Usage:
    python benchmarks/quality/jpeg_background.py [--photo docs/images/example.jpg] [--model default] \
        [--json benchmarks/results/jpeg_background.json]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _encoders():
    import cv2

    from facedeblur.images import write_image

    def ours(path: Path, pixels, info) -> None:
        write_image(path, pixels, info=info)

    def pillow_444(path: Path, pixels, info) -> None:
        write_image(path, pixels, quality=95)  # no input tables: fresh quality-95, 4:4:4

    def opencv_q95(path: Path, pixels, info) -> None:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(pixels[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        path.write_bytes(data.tobytes())

    return {"facedeblur": ours, "pillow q95 4:4:4": pillow_444, "opencv q95": opencv_q95}


def measure(photo: Path, restorer, folder: Path) -> dict:
    """Restore ``photo`` and compare the background of each encoder's file with the input's."""
    from facedeblur.images import read_image, read_image_with_info

    pixels, info = read_image_with_info(photo)
    result = restorer.restore(pixels)
    if not result.faces:
        raise SystemExit(f"{photo}: no face found; pick a photo with a face")
    import cv2

    background = (result.image == pixels).all(axis=2)
    near = cv2.dilate((~background).astype(np.uint8), np.ones((33, 33), np.uint8)).astype(bool)
    far = background[background] & ~near[background]  # background pixels 16+ px away from any face pixel
    source = pixels.astype(np.int16)
    rows = {}
    for name, encode in _encoders().items():
        out = folder / f"{name.replace(' ', '_').replace(':', '')}.jpg"
        encode(out, result.image, info)
        diff = np.abs(read_image(out).astype(np.int16) - source).max(axis=2)[background]
        rows[name] = {
            "changed_share": round(float((diff > 0).mean()), 4),
            "changed_share_16px_away": round(float((diff[far] > 0).mean()), 4),
            "max_level_difference": int(diff.max()),
            "mean_level_difference": round(float(diff.mean()), 3),
            "bytes": out.stat().st_size,
        }
    return {
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
        "faces": len(result.faces),
        "background_share": round(float(background.mean()), 4),
        "encoders": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=ROOT / "docs" / "images" / "example.jpg")
    parser.add_argument("--model", default="default")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from PIL import Image

    from facedeblur.restore import Restorer

    restorer = Restorer(args.model, device="cpu", detector="hog")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos = {"given photo": args.photo}
        with Image.open(args.photo) as im:
            rgb = im.convert("RGB")
        noise = np.random.default_rng(0).normal(0, 6, (rgb.height, rgb.width, 3))
        grainy = Image.fromarray(np.clip(np.asarray(rgb) + noise, 0, 255).round().astype(np.uint8))
        variants = {
            "4:4:4 q95": (rgb, {"quality": 95, "subsampling": 0}),
            "4:2:0 q75": (rgb, {"quality": 75}),
            "grain 4:2:0 q90": (grainy, {"quality": 90}),
        }
        for label, (image, options) in variants.items():
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", **options)
            path = folder / f"input_{label.replace(':', '').replace(' ', '_')}.jpg"
            path.write_bytes(buffer.getvalue())
            photos[f"re-encoded {label}"] = path
        results = {label: measure(path, restorer, folder) for label, path in photos.items()}
    try:
        shown = args.photo.resolve().relative_to(ROOT)
    except ValueError:
        shown = args.photo
    print(f"{shown}: background pixels changed by writing the restored photo as JPEG")
    print(f"{'input':<26} {'encoder':<18} {'changed':>8} {'16px+':>7} {'max':>4} {'mean':>6} {'bytes':>8}")
    for label, result in results.items():
        for name, row in result["encoders"].items():
            print(
                f"{label:<26} {name:<18} {row['changed_share']:>8.1%} {row['changed_share_16px_away']:>7.1%} "
                f"{row['max_level_difference']:>4} "
                f"{row['mean_level_difference']:>6.3f} {row['bytes']:>8}"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"photo": str(shown), "model": args.model, "results": results}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
