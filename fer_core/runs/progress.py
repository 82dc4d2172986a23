"""``progress.json``: a run's live state, rewritten atomically so another process can poll it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fer_core.fileio import read_json, write_json_atomic

PROGRESS_FILENAME = "progress.json"


class ProgressFile:
    """Holds a run's progress fields and writes them at most every ``min_interval`` seconds."""

    def __init__(self, run_dir: str | os.PathLike, min_interval: float = 1.0):
        self.path = Path(run_dir) / PROGRESS_FILENAME
        self.min_interval = min_interval
        self.state: dict[str, Any] = read_json(self.path, default={}) or {}
        self._last_write = 0.0

    def __deepcopy__(self, memo: dict) -> "ProgressFile":
        # Keras-Tuner deep-copies callbacks per trial; every copy must share one state and file.
        return self

    def update(self, force: bool = False, **fields: Any) -> None:
        self.state.update(fields)
        now = time.time()
        self.state["updated_at"] = now
        if force or now - self._last_write >= self.min_interval:
            write_json_atomic(self.path, self.state)
            self._last_write = now


def read_progress(run_dir: str | os.PathLike) -> dict[str, Any]:
    return read_json(Path(run_dir) / PROGRESS_FILENAME, default={}) or {}
