"""Load on the web demo: requests/s, failures and the server's resident memory after each hundred requests.

Starts ``facedeblur serve`` on a free port of 127.0.0.1 (loopback only: nothing else is contacted) in a
child process, then sends ``--requests`` photo restorations from ``--clients`` threads at once, each
request as a new visitor (a fresh Gradio client, hence a fresh session), downloads every result and
checks it decodes at the photo's size (a broken-off download is a failure). After each hundred requests
it prints the rate over that hundred, the failures so far and the server's RSS (``/proc/PID/status``);
the run stops at ``--requests`` or after ``--time-limit`` seconds, whichever comes first, and the
server is stopped with SIGTERM (its uploads and results must be gone afterwards: checked and printed).

Usage:
    python benchmarks/speed/serve_load.py [--faces ../shared/data/utkface/val] [--requests 300] [--clients 8] \
        [--concurrency 2] [--model default] [--time-limit 1200] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAX_REQUESTS = 2000
MAX_CLIENTS = 32
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_photo(path: Path, faces: Path | None) -> tuple[int, int]:
    """A 640x420 photo with one real face when ``faces`` has one, else a faceless gradient; returns (w, h)."""
    import numpy as np

    from facedeblur.images import write_image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:420, 0:640].astype(np.float32)
    image = np.stack([90 + 60 * xx / 640, 120 + 40 * yy / 420, 140 - 50 * xx / 640], axis=2)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    if faces is not None and faces.is_dir():
        import cv2

        from facedeblur.face.detect import detect_faces
        from facedeblur.images import read_image

        for candidate in sorted(faces.glob("*.jpg"))[:50]:
            face = read_image(candidate)
            if len(detect_faces(face)) == 1:
                image[70:350, 180:460] = cv2.GaussianBlur(cv2.resize(face, (280, 280)), (0, 0), 1.5)
                break
    write_image(path, image)
    return 640, 420


def wait_for_server(port: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start in time")


def one_request(url: str, photo: Path, size: tuple[int, int], model: str) -> str | None:
    """One visitor: upload, restore, download every result; None when all went well, else the problem."""
    from gradio_client import Client, handle_file
    from PIL import Image

    try:
        client = Client(url, verbose=False, download_files=tempfile.mkdtemp(prefix="serve-load-"))
        _, _, downloads, status, *_ = client.predict([handle_file(str(photo))], model, 1.0, api_name="/restore_photos")
        if not downloads:
            return f"no result ({status})"
        for item in downloads:
            path = item if isinstance(item, str) else item.get("path") if isinstance(item, dict) else None
            with Image.open(path) as im:
                im.load()
                if im.size != size:
                    return f"result of size {im.size}, expected {size}"
            os.unlink(path)
        return None
    except Exception as err:  # noqa: BLE001 - every failure is counted and shown, the load goes on
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=Path("../shared/data/utkface/val"), help="faces for the photo")
    parser.add_argument("--requests", type=int, default=300, help=f"photo requests in all (at most {MAX_REQUESTS})")
    parser.add_argument("--clients", type=int, default=8, help=f"requests in flight at once (at most {MAX_CLIENTS})")
    parser.add_argument("--concurrency", type=int, default=2, help="the server's --concurrency")
    parser.add_argument("--queue-size", type=int, default=64, help="the server's --queue-size")
    parser.add_argument("--model", default="chrysos", help="model label chosen in the demo (default chrysos)")
    parser.add_argument("--time-limit", type=float, default=1200, help="stop sending after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    requests = max(1, min(args.requests, MAX_REQUESTS))
    clients = max(1, min(args.clients, MAX_CLIENTS))

    work = Path(tempfile.mkdtemp(prefix="facedeblur-serve-load-"))
    photo = work / "photo.jpg"
    size = make_photo(photo, args.faces)
    port = free_port()
    env = {**os.environ, "TMPDIR": str(work), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "facedeblur", "serve", "--host", HOST, "--port", str(port), "--device", "cpu"]
    command += ["--concurrency", str(args.concurrency), "--queue-size", str(args.queue_size)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    try:
        wait_for_server(port, server)
        url = f"http://{HOST}:{port}/"
        print(f"server pid {server.pid} on {url}, concurrency {args.concurrency}; {clients} clients at once")
        print(f"RSS after start: {rss_mib(server.pid):.0f} MiB", flush=True)
        failures: list[str] = []
        lock = threading.Lock()
        done = 0
        start = block_start = time.monotonic()
        deadline = start + args.time_limit

        def task(_: int) -> None:
            nonlocal done, block_start
            if time.monotonic() > deadline:
                return
            problem = one_request(url, photo, size, args.model)
            with lock:
                done += 1
                if problem:
                    failures.append(problem)
                if done % 100 == 0 or done == requests:
                    now = time.monotonic()
                    count = done % 100 or 100
                    row = {
                        "requests": done,
                        "requests_per_s": round(count / max(now - block_start, 1e-9), 3),
                        "failures": len(failures),
                        "rss_mib": round(rss_mib(server.pid), 1),
                    }
                    rows.append(row)
                    block_start = now
                    print(
                        f"requests {done}: {row['requests_per_s']:.2f} req/s, failures {row['failures']}, "
                        f"server RSS {row['rss_mib']:.0f} MiB",
                        flush=True,
                    )

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(task, range(requests)))
        for problem in sorted(set(failures))[:10]:
            print(f"  failure: {problem}")
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    demo_folders = ("facedeblur-serve-", "gradio")  # the demo's work folder and Gradio's default cache
    left = sorted(
        str(p.relative_to(work))
        for p in work.rglob("*")
        if p.is_file() and p.relative_to(work).parts[0].startswith(demo_folders)
    )
    print(f"server exit code after SIGTERM: {server.returncode}; files it left in its temp folder: {len(left)}")
    for name in left[:10]:
        print(f"  left: {name}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "exit_code": server.returncode, "left": left}, indent=1) + "\n")
    return 0 if rows and not rows[-1]["failures"] and not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
