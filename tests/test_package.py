"""FER Studio as a package: the wheel ``pip wheel --no-deps .`` builds, a base install (no extra)
answering a photo with no TensorFlow, and ``fer-studio dashboard`` serving the app from the wheel
outside any checkout. Slow (a fresh venv's install): ``-m "not slow"`` leaves them out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from fer_core.labels import CLASSES
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, needs_photos
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO_ROOT), "-w", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_carries_the_models_the_app_blazeface_and_the_licence(wheel):
    import fer_core

    assert wheel.name == f"fer_studio-{fer_core.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"fer_studio-{fer_core.__version__}.dist-info/METADATA").decode()
        entry_points = zf.read(f"fer_studio-{fer_core.__version__}.dist-info/entry_points.txt").decode()
    for name in ("models/default.keras", "models/default.onnx", "models/default.onnx.json", "models/default.json",
                 "dashboard/streamlit_app.py", "dashboard/pages/4_Predict.py", "dashboard/.streamlit/config.toml"):
        assert f"fer_core/_bundled/{name}" in names
    assert "fer_core/faces/blazeface_models/face_detection_full_range.tflite" in names
    assert "License-Expression: MIT" in metadata and any(n.endswith("licenses/LICENSE") for n in names)
    assert "fer-studio = fer_core.cli:main" in entry_points
    assert not [n for n in names if "__pycache__" in n or n.startswith(("runs/", "tests/"))]


@needs_photos
def test_a_base_install_answers_a_photo_without_tensorflow(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True,
                   timeout=600)
    elsewhere = tmp_path / "elsewhere"  # not the checkout: the wheel's own models and detector files
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    fer = str(venv / "bin" / "fer-studio")
    done = subprocess.run([fer, "predict", str(SHARED_PHOTOS / "fr_obama.jpg")], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    faces = json.loads(done.stdout)[0]["faces"]
    assert len(faces) == 1 and faces[0]["top"] in CLASSES
    no_tf = subprocess.run([str(venv / "bin" / "python"), "-c", "import tensorflow"], capture_output=True, timeout=60)
    assert no_tf.returncode != 0
    wanting = subprocess.run([fer, "dashboard"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert wanting.returncode == 2 and wanting.stderr.strip().splitlines()[-1] == (
        "error: this command needs streamlit, which this install lacks: pip install 'fer-studio[dashboard]' "
        "(or the checkout's requirements.txt)")
    assert "usage: fer-studio" in subprocess.run([fer, "--help"], cwd=elsewhere, env=env, capture_output=True,
                                                 text=True, timeout=120).stdout


def test_fer_studio_dashboard_serves_the_app_from_the_wheel_outside_a_checkout(wheel, tmp_path):
    """The wheel unpacked alone (its dependencies: this test environment's, i.e. [dashboard]), run
    from a folder that is not the checkout: the app and its pages come from inside the package."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site), "FER_RUNS_DIR": str(tmp_path / "runs"),
           "FER_CACHE_DIR": str(tmp_path / "cache"), "KERAS_BACKEND": "tensorflow"}
    log = open(tmp_path / "dashboard.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "fer_core", "dashboard", "--port", str(port)], cwd=elsewhere,
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
        if not Path(CHROMIUM).exists():
            return
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page()
            page.goto(url)
            expect(page.get_by_role("heading", name="FER Studio")).to_be_visible(timeout=120_000)
            expect(page.get_by_role("link", name="Predict").first).to_be_visible()
            browser.close()
        assert "site" in subprocess.run([sys.executable, "-c", "import fer_core; print(fer_core.__file__)"],
                                        env=env, cwd=elsewhere, capture_output=True, text=True).stdout
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
