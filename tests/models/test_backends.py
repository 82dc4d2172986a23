"""The same training code under the JAX backend, and its model loading under TensorFlow.

JAX is not a project dependency (the GPU machine has it; CI does not), so this test runs
only where ``jax`` is importable and says so when skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core.runtime.loading import load_model
from tests.conftest import REPO_ROOT, face_image


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (optional backend)")
@pytest.mark.slow
def test_trains_under_jax_and_loads_under_tensorflow(train_folder, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-m", "fer_core", "train", "--data", str(train_folder), "--epochs", "2",
         "--filters", "4,8,8", "--dense-units", "16", "--augment", "0.5", "--runs-dir", str(tmp_path / "runs")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    run_dir = Path(json.loads(result.stdout.strip().splitlines()[-1])["run_dir"])
    assert json.loads((run_dir / "config.json").read_text())["provenance"]["keras_backend"] == "jax"
    model = load_model(run_dir / "model.keras")  # this process runs TensorFlow
    x = np.asarray(face_image(2, 1), dtype="float32")[None, ..., None]
    assert model.predict(x, verbose=0).shape == (1, 7)
