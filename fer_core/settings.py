"""Where the dashboard and CLI keep things, read from the environment (or Streamlit secrets).

* ``FER_RUNS_DIR`` (default ``runs``): run directories, the run registry, a promoted model.
* ``FER_DATA_ROOT`` (default ``data``): the only folder the dashboard may read datasets from,
  so a deployed app cannot be pointed at arbitrary server paths.
* ``FER_MAX_JOBS`` (default 1): how many training / tuning jobs may run at once.
* ``FER_MODEL_WORKERS`` (default 1): how many model calls (face detection and classification)
  the dashboard runs at once across all its users; the others wait their turn, in order, and see
  their place. On a 2-core machine one at a time is fastest: two would only share the cores.
* ``FER_MAX_PHOTOS`` (default 20): photos one Predict request classifies; more wait for the next.
* ``FER_MAX_COLLECTION_PHOTOS`` (default 2000): photos in one photo collection (a zip or folder).
* Videos: ``FER_MAX_VIDEO_MB`` (500) and ``FER_MAX_VIDEO_SECONDS`` (600), read by
  ``fer_core.data.video.VideoLimits``.

``.streamlit/secrets.toml`` may set ``data_root``, ``runs_dir``, ``max_jobs``, ``model_workers``
``max_photos`` and ``max_collection_photos`` instead; an environment variable wins over a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASET_SUFFIXES = (".zip", ".csv", ".ferpack")


@dataclass(frozen=True)
class Settings:
    runs_dir: Path
    data_root: Path
    max_jobs: int = 1
    model_workers: int = 1
    max_photos: int = 20
    max_collection_photos: int = 2000

    @classmethod
    def from_env(cls, secrets: Mapping[str, Any] | None = None) -> "Settings":
        secrets = secrets or {}

        def pick(env: str, key: str, default: Any) -> Any:
            return os.environ.get(env) or secrets.get(key) or default

        def count(env: str, key: str, default: int) -> int:
            raw = pick(env, key, default)
            try:
                return max(1, int(raw))
            except (TypeError, ValueError):
                raise ValueError(f"{env} must be a whole number, got '{raw}'") from None

        return cls(runs_dir=Path(pick("FER_RUNS_DIR", "runs_dir", "runs")).absolute(),
                   data_root=Path(pick("FER_DATA_ROOT", "data_root", "data")).absolute(),
                   max_jobs=count("FER_MAX_JOBS", "max_jobs", 1),
                   model_workers=count("FER_MODEL_WORKERS", "model_workers", 1),
                   max_photos=count("FER_MAX_PHOTOS", "max_photos", 20),
                   max_collection_photos=count("FER_MAX_COLLECTION_PHOTOS", "max_collection_photos", 2000))


class OutsideDataRootError(ValueError):
    pass


def resolve_under_root(root: str | os.PathLike, relative: str) -> Path:
    """``root/relative``, refusing anything (``..``, absolute paths, symlinks) that leaves ``root``."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise OutsideDataRootError(f"'{relative}' is outside the data root {root}")
    if not candidate.exists():
        raise FileNotFoundError(f"'{relative}' does not exist under the data root {root}")
    return candidate


def list_datasets(root: str | os.PathLike, max_depth: int = 3) -> list[str]:
    """Dataset candidates under ``root`` (zip and csv files, folders holding class or split
    folders), as paths relative to it, for a picker."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if depth >= max_depth:
            dirnames[:] = []
        names = {d.lower() for d in dirnames}
        if depth > 0 and (names & {"train", "test", "angry", "happy"}):
            found.append(str(here.relative_to(root)))
            dirnames[:] = []
            continue
        found.extend(str((here / f).relative_to(root)) for f in sorted(filenames)
                     if f.lower().endswith(DATASET_SUFFIXES))
    return sorted(found)
