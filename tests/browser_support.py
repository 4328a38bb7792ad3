"""What every browser test shares: ``streamlit run`` on a free port, Debian's chromium through
Playwright, and the helpers that wait for Streamlit, move between pages and take screenshots.

The browser test files (``test_browser_*.py``) import from here; ``test_browser_e2e.py`` also
defines the synthetic-data ``server`` and ``page`` fixtures other files reuse.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifar_core.runs import RunStore
from cifar_core.runs.process import cancel
from cifar_core.runs.store import ACTIVE_STATES

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
SERVER_START_S = 120  # the first start imports torch on a loaded 2-core machine
STEP_TIMEOUT_MS = 90_000  # one page action or script run
# Variables the app reads; a test server gets only the ones the test gives (none from the caller's shell).
APP_VARIABLES = ("CIFAR_EXPLORER_RUNS", "CIFAR_EXPLORER_DATA", "CIFAR_EXPLORER_CACHE", "CIFAR_EXPLORER_DATA_ROOTS")
# The app's script has finished: its root element says so (Streamlit's own e2e tests wait on this).
SCRIPT_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING_STATUS = '[data-testid="stStatusWidget"]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def screenshots_dir(folder: str | None = None) -> Path:
    """``artifacts/screenshots`` (or ``$CIFAR_EXPLORER_SCREENSHOTS``), or ``artifacts/<folder>`` for one journey."""
    if folder is None:
        path = Path(os.environ.get("CIFAR_EXPLORER_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
    else:
        path = ROOT / "artifacts" / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")


@dataclass(frozen=True)
class AppServer:
    url: str
    runs: Path
    log: Path


@contextlib.contextmanager
def app_server(tmp: Path, env: Mapping[str, str]) -> Iterator[AppServer]:
    """``streamlit run streamlit_app.py`` from this checkout on a free port; stopped (runs cancelled) afterwards.

    ``env`` sets the app's variables (``CIFAR_EXPLORER_RUNS`` at least). The server runs in the
    checkout with the checkout first on ``PYTHONPATH``, so it and its training workers import this
    checkout's ``cifar_core`` even where another copy is installed.
    """
    require_chromium()
    runs = Path(env["CIFAR_EXPLORER_RUNS"])
    inherited = {name: value for name, value in os.environ.items() if name not in APP_VARIABLES}
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    server_env = {**inherited, **env, "PYTHONPATH": python_path}
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log_path = tmp / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield AppServer(url, runs, log_path)
    finally:
        for run in RunStore(runs).list():
            if run.state in ACTIVE_STATES:
                cancel(run)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextlib.contextmanager
def browser_page(timeout_ms: int = STEP_TIMEOUT_MS) -> Iterator:
    """A chromium tab at ``VIEWPORT`` whose actions wait up to ``timeout_ms``."""
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_context(viewport=VIEWPORT).new_page()
        tab.set_default_timeout(timeout_ms)
        try:
            yield tab
        finally:
            browser.close()


def keep_failure_screenshot(request: pytest.FixtureRequest, page, name: str) -> Iterator[None]:
    """Body of an autouse fixture: screenshot ``name``.png when the test failed (what the browser showed)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        with contextlib.suppress(Exception):  # a dead browser must not hide the test's own failure
            page.screenshot(path=screenshots_dir() / f"{name}.png")


def settle(page, timeout_ms: int = STEP_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished the script run the last action started.

    An action's rerun may start a little later on a loaded machine, so wait a moment first; then
    for the app to say its script is not running and the running indicator to be gone.
    """
    page.wait_for_timeout(300)
    page.locator(SCRIPT_IDLE).wait_for(state="attached", timeout=timeout_ms)
    page.locator(RUNNING_STATUS).wait_for(state="hidden", timeout=timeout_ms)


def open_page(page, title: str) -> None:
    """Click the page's link in the sidebar navigation (keeps the session, as a user would)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    settle(page)


def set_number(page, label: str, value) -> None:
    """Type ``value`` into the number box ``label`` and commit it (Enter), as a user would."""
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    settle(page)


def set_checkbox(page, label: str, checked: bool) -> None:
    """Tick or untick the box whose label starts with ``label``; a box already so is left alone.

    Works for ``st.checkbox`` and ``st.toggle``. (Clicking blindly toggles: the classroom recipe
    already ticks "Train on part of the images only", so a click unticked it and hid the number
    box the e2e test then tried to fill, which timed out.)
    """
    widget = page.locator('[data-testid="stCheckbox"]').filter(has_text=re.compile("^" + re.escape(label))).first
    box = widget.locator("input")  # a checkbox, or a toggle's switch
    if box.is_checked() != checked:
        widget.locator("label").first.click()
        settle(page)
    assert box.is_checked() == checked


def number_value(page, label: str) -> str:
    return page.get_by_label(label, exact=True).input_value()


OVERFLOW_JS = """() => Math.max(0, ...Array.from(document.querySelectorAll('*'), e => {
    const style = getComputedStyle(e).overflowY;
    return style === 'auto' || style === 'scroll' ? e.scrollHeight - e.clientHeight : 0;
}))"""
IMAGES_LOADED_JS = "() => Array.from(document.images).every(image => image.complete)"


def snap(page, name: str, folder: Path | None = None, images_loaded: str = IMAGES_LOADED_JS) -> Path:
    """Screenshot the whole page: Streamlit scrolls inside a container, so grow the window until nothing scrolls.

    ``images_loaded`` is the page condition waited for before each measure (a stricter one may ask for decoded pixels)."""
    height = VIEWPORT["height"]
    for _ in range(5):  # images and charts that load late make the page taller
        settle(page)
        page.wait_for_function(images_loaded)
        overflow = page.evaluate(OVERFLOW_JS)
        if overflow <= 0 or height >= 8000:
            break
        height = min(height + overflow, 8000)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    path = (folder or screenshots_dir()) / f"{name}.png"
    page.screenshot(path=path)
    page.set_viewport_size(VIEWPORT)
    return path


def select_option(page, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox ``label``.

    The list closes when the page scrolls under it (a late image or chart growing the page), so
    the box is opened again if its option does not show.
    """
    box = page.get_by_role("combobox", name=label)
    choice = page.get_by_role("option", name=option, exact=True)
    for attempt in range(3):
        box.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        box.click()
        try:
            choice.wait_for(timeout=10_000)
            choice.click(timeout=10_000)
            break
        except Exception:  # Playwright's TimeoutError: open the list again
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    settle(page)
    assert box.input_value() == option


def image_pixels(page, image) -> np.ndarray:
    """The pixels the browser was sent for ``<img>`` locator ``image`` (``[H, W, 3]`` uint8)."""
    source = urllib.parse.urljoin(page.url, image.get_attribute("src"))
    response = page.request.get(source)
    assert response.ok, f"{source}: HTTP {response.status}"
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"))


def shrink(pixels: np.ndarray, size: int = 32) -> np.ndarray:
    """An upscaled image (every source pixel a square) back to ``size`` x ``size``, as float block means."""
    height, width, _ = pixels.shape
    return pixels.reshape(size, height // size, size, width // size, 3).mean(axis=(1, 3))


def closest(pixels: np.ndarray, candidates: np.ndarray) -> tuple[int, float]:
    """Index of the 32x32 ``[N, 3, 32, 32]`` candidate nearest to shown ``pixels``, and its mean absolute difference.

    Streamlit sends RGB pictures as JPEG, so a shown image is near, not equal to, its source.
    """
    small = shrink(pixels)
    differences = np.abs(candidates.transpose(0, 2, 3, 1).astype(np.float64) - small).mean(axis=(1, 2, 3))
    best = int(differences.argmin())
    return best, float(differences[best])


CELL_CENTRE_JS = """([plot, column, row]) => {
    const gd = document.querySelectorAll('.js-plotly-plot')[plot];
    const layout = gd._fullLayout, box = gd.getBoundingClientRect();
    return {x: box.left + layout._size.l + layout.xaxis.l2p(column), y: box.top + layout._size.t + layout.yaxis.l2p(row)};
}"""


def click_cell(page, true_class: int, predicted_class: int) -> None:
    """Click the centre of one confusion cell, where a user would (the heatmap is the page's first chart)."""
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    centre = page.evaluate(CELL_CENTRE_JS, [0, predicted_class, true_class])
    page.mouse.click(centre["x"], centre["y"])
    settle(page)


def gallery_captions(page) -> list[str]:
    """The Evaluate gallery's captions (its top-3 guesses: "cat 61% · dog 20% · frog 5%")."""
    return page.locator('[data-testid="stImageCaption"]').filter(has_text="%").all_inner_texts()


def slice_as_test_folder(tarball: Path, target: Path, per_class: int, exclude: set[str] = frozenset()) -> Path:
    """The last ``per_class`` images of each class of ``tarball``, as ``target/test/<class>/*.jpg``.

    ``exclude`` holds sample ids (``cat/0042``) to leave out, e.g. every image a run trained or
    validated on, so the slice is held out by construction.
    """
    with tarfile.open(tarball) as archive:
        by_class: dict[str, list[tarfile.TarInfo]] = {}
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith(".jpg"):
                class_name, stem = member.name.split("/")[-2], Path(member.name).stem
                if f"{class_name}/{stem}" not in exclude:
                    by_class.setdefault(class_name, []).append(member)
        for name, chosen in by_class.items():
            folder = target / "test" / name
            folder.mkdir(parents=True)
            for member in sorted(chosen, key=lambda m: m.name)[-per_class:]:
                (folder / Path(member.name).name).write_bytes(archive.extractfile(member).read())
    return target
