"""FER Studio as a package: the wheel ``pip wheel --no-deps .`` builds and a base install (no
extra) answers a photo with no TensorFlow (``fer-studio dashboard`` from the wheel: in
tests/e2e/test_wheel_dashboard.py, beside the other browser tests). Slow (a fresh venv's
install): ``-m "not slow"`` leaves them out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import onnx
import pytest

from fer_core.fileio import file_sha256
from fer_core.runtime.cards import CARD_METADATA_KEY
from fer_core.labels import CLASSES
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, needs_photos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built as from a fresh clone: the files git would hand over (no ``.venv``, no
    ``models/default.onnx``), so the build hook (scripts/hatch_build.py) exports the default. With
    ``FER_EXPORT_PYTHON``, this test's Python: without it the hook would set up ``.venv`` first
    (about 2 minutes, checked by hand: docs/install.md)."""
    import shutil

    clone, out = tmp_path_factory.mktemp("clone"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                            check=True, capture_output=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO_ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, clone / name)
    assert not (clone / ".venv").exists() and not (clone / "models" / "default.onnx").exists()
    env = {**os.environ, "FER_EXPORT_PYTHON": sys.executable}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(clone), "-w", str(out)],
                           capture_output=True, text=True, timeout=600, env=env)
    assert built.returncode == 0, built.stderr[-2000:]
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
    with zipfile.ZipFile(wheel) as zf:  # the export the build made (scripts/hatch_build.py): of today's default
        card = json.loads(zf.read("fer_core/_bundled/models/default.onnx.json"))
        embedded = {p.key: p.value for p in onnx.load_from_string(zf.read("fer_core/_bundled/models/default.onnx"))
                    .metadata_props}
    assert json.loads(embedded[CARD_METADATA_KEY])["terms"] == card["terms"]  # the card inside the file too
    assert card["source"]["sha256"] == file_sha256(REPO_ROOT / "models" / "default.keras")
    assert card["parity"]["top1_agreement"] == 1.0 and card["tta"] == "multicrop" and card["terms"]
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
