"""``fer-studio dashboard`` from a ``[dashboard]`` install of the wheel, outside any checkout, seen in Chromium (the session's
browser: Playwright's sync API runs one event loop a process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.conftest import REPO_ROOT
from tests.e2e.server import free_port


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO_ROOT), "-w", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    (found,) = out.glob("*.whl")
    return found


def test_fer_studio_dashboard_serves_the_app_from_the_wheel_outside_a_checkout(wheel, page, tmp_path):
    """``pip install 'fer-studio[dashboard]'`` into a fresh venv, as a user does (the registry's
    newest allowed versions, not the lock), run from a folder that is not the checkout: the app and
    its pages come from inside the package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                                f"{wheel}[dashboard]"], capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "FER_RUNS_DIR": str(tmp_path / "runs"),
           "FER_CACHE_DIR": str(tmp_path / "cache"), "KERAS_BACKEND": "tensorflow"}
    log = open(tmp_path / "dashboard.log", "w")
    process = subprocess.Popen([str(venv / "bin" / "fer-studio"), "dashboard", "--port", str(port)], cwd=elsewhere,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail((tmp_path / "dashboard.log").read_text()[-3000:])
        page.goto(url)
        expect(page.get_by_role("heading", name="FER Studio")).to_be_visible(timeout=120_000)
        expect(page.get_by_role("link", name="Predict").first).to_be_visible()
        assert "site-packages" in subprocess.run([str(venv / "bin" / "python"), "-c",
                                                  "import fer_core; print(fer_core.__file__)"],
                                                 env=env, cwd=elsewhere, capture_output=True, text=True).stdout
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
