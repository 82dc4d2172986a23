"""Hatchling build hook (pyproject.toml): the wheel's base install answers with
``models/default.onnx``, the default's ONNX export. That file is derived from
``models/default.keras`` (the same weights, 8.8 MB), so it is not tracked: tracked files travel
with every GPU call, within its 64 MiB (docs/gpu.md). This hook makes it when it is missing, or
when its card names another ``default.keras`` than the one here, with a Python that has Keras:
``FER_EXPORT_PYTHON``, else the checkout's ``.venv``. A fresh clone has neither: the hook then sets
``.venv`` up as ``./scripts/dashboard.sh`` does (``scripts/setup_venv.sh requirements.lock``, about
2 minutes, once), so ``pip wheel --no-deps .`` works from a fresh clone with the registry alone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXPORT = ["-m", "fer_core", "export", "models/default.keras", "--format", "onnx", "--out", "models/default.onnx"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_current(keras_file: Path, onnx_file: Path, card: Path) -> bool:
    """The export exists, is the file its card describes, and was made from this default.keras."""
    if not (onnx_file.is_file() and card.is_file()):
        return False
    data = json.loads(card.read_text())
    return data.get("file_sha256") == sha256(onnx_file) and data.get("source", {}).get("sha256") == sha256(keras_file)


class DefaultOnnxHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        keras_file, onnx_file, card = (root / "models" / name for name in
                                       ("default.keras", "default.onnx", "default.onnx.json"))
        if not is_current(keras_file, onnx_file, card):
            # Not the build's isolated environment (pip points PYTHONPATH at it): the export's own packages.
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
            given = os.environ.get("FER_EXPORT_PYTHON")
            python = Path(given or root / ".venv" / "bin" / "python")
            if given and not python.is_file():
                raise RuntimeError(f"FER_EXPORT_PYTHON is {given}, which is not there: a Python with Keras exports "
                                   f"models/default.onnx (`python {' '.join(EXPORT)}`)")
            if not python.is_file():
                subprocess.run(["bash", "scripts/setup_venv.sh", "requirements.lock"], cwd=root, check=True, env=env)
            subprocess.run([str(python), *EXPORT], cwd=root, check=True,
                           env={**env, "KERAS_BACKEND": env.get("KERAS_BACKEND", "tensorflow")})
        # pyproject.toml's force-include of models/ then carries both files (it is walked after this hook).
