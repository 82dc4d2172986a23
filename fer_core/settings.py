"""Where the dashboard and CLI keep things, read from the environment (or Streamlit secrets).

* ``FER_RUNS_DIR`` (default ``runs``): run directories, the run registry, a promoted model.
* ``FER_DATA_ROOT`` (default ``data``): the only folder the dashboard may read datasets from,
  so a deployed app cannot be pointed at arbitrary server paths.
* ``FER_MAX_JOBS`` (default 1): how many training / tuning jobs may run at once.

``.streamlit/secrets.toml`` may set ``data_root``, ``runs_dir`` and ``max_jobs`` instead;
an environment variable wins over a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASET_SUFFIXES = (".zip", ".csv")


@dataclass(frozen=True)
class Settings:
    runs_dir: Path
    data_root: Path
    max_jobs: int = 1

    @classmethod
    def from_env(cls, secrets: Mapping[str, Any] | None = None) -> "Settings":
        secrets = secrets or {}

        def pick(env: str, key: str, default: Any) -> Any:
            return os.environ.get(env) or secrets.get(key) or default

        max_jobs = int(pick("FER_MAX_JOBS", "max_jobs", 1))
        return cls(runs_dir=Path(pick("FER_RUNS_DIR", "runs_dir", "runs")).absolute(),
                   data_root=Path(pick("FER_DATA_ROOT", "data_root", "data")).absolute(),
                   max_jobs=max(1, max_jobs))


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
