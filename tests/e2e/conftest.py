"""A real ``streamlit run`` server and Debian's chromium driven by Playwright.

The server runs in its own process with its own runs and cache folders; its data folder is
``../shared/datasets``. Screenshots go to ``$FER_SCREENSHOTS_DIR`` when set (the README's
tour in ``docs/screenshots`` is made that way), else to a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, SHARED_ZIP, free_port, start_server

expect.set_options(timeout=60_000)  # the first page of a fresh server imports TensorFlow


def pytest_collection_modifyitems(items):
    for item in items:  # a real server and browser: the slow lane
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)



@pytest.fixture(autouse=True)
def _needs_chromium_and_data():
    if not Path(CHROMIUM).exists():
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("FER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (FER_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    if not SHARED_ZIP.exists():
        pytest.skip(f"FER2013 zip not found at {SHARED_ZIP}")


@pytest.fixture(scope="session")
def server(tmp_path_factory, fer2013_cache):
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    # The Dataset page reads FER2013 from the session's cache (decoding it is tested elsewhere).
    # Corrections go to the server's own folder, not into ../shared/datasets (their default home).
    process = start_server(tmp, port, {"FER_CACHE_DIR": str(fer2013_cache),
                                       "FER_CORRECTIONS_DIR": str(tmp / "corrections")})
    yield {"url": f"http://127.0.0.1:{port}", "tmp": tmp}
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FER_SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
