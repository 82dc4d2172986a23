"""A run's ``history.csv``: one row per finished epoch, written by training and read by the
Results page, resume and bundling."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any


def history_csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)]
