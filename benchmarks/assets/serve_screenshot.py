"""The README's screenshot of the web demo (docs/images/serve.png), taken in a real headless Chromium.

Composes a blurred photo (a real UTKFace validation face on a smooth synthetic background, the whole
photo blurred with a Gaussian of ``--sigma`` px), serves ``facedeblur serve``'s app on a free local
port, uploads the photo in Chromium (Playwright pointed at the system browser), waits for the
restoration and saves a full-page screenshot with the before/after slider.

Usage:
    python benchmarks/assets/serve_screenshot.py ../shared/data/utkface/val [--model default] \
        [--sigma 2.0] [-o docs/images/serve.png]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np


def blurred_photo(faces_dir: Path, path: Path, sigma: float, index: int = 0) -> None:
    """A 420x640 photo with the ``index``-th detectable face of ``faces_dir``, blurred as a whole."""
    import cv2

    from facedeblur.face.detect import detect_faces
    from facedeblur.images import read_image, write_image

    found = 0
    for candidate in sorted(faces_dir.glob("*.jpg")):
        face = read_image(candidate)
        if len(detect_faces(face)) == 1:
            if found == index:
                break
            found += 1
    else:
        raise SystemExit(f"{faces_dir}: no face the detector finds")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:420, 0:640].astype(np.float32)
    image = np.stack([90 + 60 * xx / 640, 120 + 40 * yy / 420, 140 - 50 * xx / 640], axis=2)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    image[70:350, 180:460] = cv2.resize(face, (280, 280), interpolation=cv2.INTER_CUBIC)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    write_image(path, image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces", type=Path, help="folder of face photos (UTKFace val)")
    parser.add_argument("--model", default="default", help="model listed first in the demo (default: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sigma", type=float, default=2.0, help="Gaussian blur of the photo, px")
    parser.add_argument("--face-index", type=int, default=0, help="which detectable face of the folder")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/images/serve.png"))
    args = parser.parse_args()

    from facedeblur.serve.app import build_app, launch

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the test suite's browser driver
    from _browser import restore_in_browser

    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "blurry_portrait.png"
        blurred_photo(args.faces, photo, args.sigma, args.face_index)
        app = build_app(model=args.model, device=args.device)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        launch(app, host="127.0.0.1", port=port, block=False)
        try:
            run = restore_in_browser(f"http://127.0.0.1:{port}", photo, screenshot=args.output, timeout_s=120)
        finally:
            app.close()
    print(run.status)
    print(f"blocked external requests: {len(run.external_requests)}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
