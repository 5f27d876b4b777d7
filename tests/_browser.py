"""Drive the running web demo with a real headless Chromium (Playwright's Python client): a test tool.

Used by the end-to-end test (tests/serve/test_browser.py) and by ``benchmarks/assets/serve_screenshot.py``
(the README's screenshot); it is not part of the package, which never needs a browser.
It points Playwright at the system's Chromium (Debian's ``chromium`` package), never at a browser
Playwright would download, and blocks every request that does not go to the demo itself, recording
it: a page that needs the internet shows up as ``external_requests`` and as a page that never loads.

Usage, with the demo serving on port 7860 (the end-to-end test starts one)::

    run = restore_in_browser("http://127.0.0.1:7860", "photo.png", screenshot="serve.png")
    run.status, run.output_name, len(run.external_requests)
    # ('photo.png: 1 face restored -> photo_restored.png', 'photo_restored.png', 0)
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")


def find_chromium() -> str | None:
    """Path of the system Chromium: ``$FACEDEBLUR_CHROMIUM``, else ``chromium`` on the PATH; None if absent."""
    configured = os.environ.get("FACEDEBLUR_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class BrowserRun:
    """What one photo's trip through the demo in a browser gave.

    Attributes:
        status: the status box's text after the run.
        output_name: the downloaded file's suggested name.
        output: the downloaded file's bytes.
        external_requests: URLs the page tried to load from anywhere but the demo (all blocked).
        screenshot: where the full-page screenshot was saved (None when not asked for).
    """

    status: str
    output_name: str
    output: bytes
    external_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def restore_in_browser(
    url: str,
    photo: str | Path,
    *,
    screenshot: str | Path | None = None,
    timeout_s: float = 60.0,
    chromium: str | None = None,
    viewport: tuple[int, int] = (1280, 900),
) -> BrowserRun:
    """Open the demo, upload ``photo``, press *Restore*, wait for the result and download it.

    Args:
        url: the demo's address, e.g. ``http://127.0.0.1:7860``.
        photo: the image file to upload.
        screenshot: save a full-page PNG screenshot here after the result arrived.
        timeout_s: the longest wait for the page and for the result, each.
        chromium: browser executable (default :func:`find_chromium`).
        viewport: browser window (width, height).

    Raises:
        RuntimeError: no Chromium found, or the demo did not produce a download (the message has the
            status box's text).
    """
    with _demo_page(url, timeout_s, chromium, viewport) as (page, external):
        timeout_ms = timeout_s * 1000
        page.locator("#photos input[type=file]").set_input_files(str(photo))
        page.wait_for_selector(f'#photos [aria-label="{Path(photo).name}"]', timeout=timeout_ms)
        page.click("#restore-photos")
        link = page.locator("#downloads a[download]").first
        try:
            link.wait_for(timeout=timeout_ms)
        except Exception as err:
            status = page.locator("#status textarea").input_value()
            raise RuntimeError(f"the demo gave no download; status: {status!r}") from err
        status = page.locator("#status textarea").input_value()
        page.wait_for_selector("#compare img", timeout=timeout_ms)
        name, output = _download(page, link, timeout_ms)
        saved = None
        if screenshot is not None:
            saved = Path(screenshot)
            saved.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(saved), full_page=True)
        return BrowserRun(status, name, output, external, saved)


def restore_video_in_browser(
    url: str, video: str | Path, *, timeout_s: float = 60.0, chromium: str | None = None
) -> BrowserRun:
    """Open the demo's *Video* tab, upload ``video``, press *Restore video* and download the result.

    Raises:
        RuntimeError: no Chromium found, or the demo did not produce a download.
    """
    with _demo_page(url, timeout_s, chromium, (1280, 900)) as (page, external):
        timeout_ms = timeout_s * 1000
        page.get_by_role("tab", name="Video").click()
        page.locator("#video-in input[type=file]").set_input_files(str(video))
        page.wait_for_selector("#video-in video", timeout=timeout_ms)
        page.click("#restore-video")
        link = page.locator("#video-download a[download]").first
        try:
            link.wait_for(timeout=timeout_ms)
        except Exception as err:
            status = page.locator("#video-status textarea").input_value()
            raise RuntimeError(f"the demo gave no video; status: {status!r}") from err
        status = page.locator("#video-status textarea").input_value()
        name, output = _download(page, link, timeout_ms)
        return BrowserRun(status, name, output, external)


def _download(page, link, timeout_ms: float) -> tuple[str, bytes]:
    with page.expect_download(timeout=timeout_ms) as info:
        link.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


@contextmanager
def _demo_page(url: str, timeout_s: float, chromium: str | None, viewport: tuple[int, int]):
    """A Chromium page on the loaded demo that may load nothing but the demo; yields (page, blocked URLs)."""
    from playwright.sync_api import sync_playwright

    executable = chromium or find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found: install Debian's chromium or set FACEDEBLUR_CHROMIUM")
    origin = url.rstrip("/")
    external: list[str] = []

    def only_the_demo(route) -> None:
        request_url = route.request.url
        if request_url.startswith((origin + "/", "data:", "blob:")) or request_url == origin:
            route.continue_()
        else:
            external.append(request_url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
            page.route("**/*", only_the_demo)
            page.goto(origin + "/", timeout=timeout_s * 1000)
            page.wait_for_selector("#restore-photos", timeout=timeout_s * 1000)
            yield page, external
        finally:
            browser.close()
