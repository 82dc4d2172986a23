"""Hatchling build hook (pyproject.toml): the wheel's base install answers with
``models/default.onnx``, the default's ONNX export (the same weights as ``models/default.keras``,
8.8 MB). It is tracked, so a fresh clone builds the wheel with no Keras anywhere
(tests/runtime/test_loading.py checks that it is the export of today's ``default.keras``). This
hook is the net under that test: where the export is missing, or its card names another
``default.keras`` (a new default bundled, its export not redone), it exports again with a Python
that has Keras: ``FER_EXPORT_PYTHON``, else the checkout's ``.venv`` (``./scripts/test.sh`` makes it)."""

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
            python = Path(os.environ.get("FER_EXPORT_PYTHON") or root / ".venv" / "bin" / "python")
            if not python.is_file():
                raise RuntimeError(f"the wheel carries models/default.onnx, exported from models/default.keras: make it "
                                   f"with `python {' '.join(EXPORT)}` (needs requirements.txt), or set "
                                   f"FER_EXPORT_PYTHON to a Python with Keras ({python} is not there)")
            # Not the build's isolated environment (pip points PYTHONPATH at it): that Python's own packages.
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
            subprocess.run([str(python), *EXPORT], cwd=root, check=True,
                           env={**env, "KERAS_BACKEND": env.get("KERAS_BACKEND", "tensorflow")})
        # pyproject.toml's force-include of models/ then carries both files (it is walked after this hook).
