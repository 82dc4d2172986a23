"""The names of the files a run folder holds (docs/formats.md), defined once: the run's best model,
its config (with the exact command and hardware) and its report. An ``evaluate --out`` folder's
report has the same name as a run's. ``RunFolder`` reads them, so no page spells a file name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.fileio import read_json

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class RunFolder:
    """A run's folder and what is in it."""

    path: Path

    @classmethod
    def of(cls, path: str | os.PathLike) -> "RunFolder":
        return cls(Path(path))

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def finished(self) -> bool:
        return self.model_path.exists()

    def config(self) -> dict[str, Any]:
        """The run's ``config.json`` ({} while there is none)."""
        return read_json(self.path / CONFIG_FILE) or {}

    def metrics(self) -> dict[str, Any] | None:
        """The run's report on its val split (``metrics.json``), once it has one."""
        return read_json(self.path / METRICS_FILE)
