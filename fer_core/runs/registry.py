"""The run registry: an SQLite database under the runs directory that lists every run.

Each training or tuning process writes its own row (kind, status, config, timestamps, pid,
headline metrics). SQLite's WAL journal plus a busy timeout lets several processes write
at once without corrupting the file. A run whose process died without saying so is found
by ``reconcile`` (its pid no longer exists) and marked failed.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.errors import ConfigError
from fer_core.run_files import RunFolder

STATUSES = ("queued", "running", "done", "failed", "cancelled")
REGISTRY_FILENAME = "registry.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    run_dir     TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    pid         INTEGER,
    metrics     TEXT,
    error       TEXT
)
"""


@dataclass
class RunRecord:
    run_id: str
    kind: str
    status: str
    run_dir: str
    config: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    pid: int | None
    metrics: dict[str, Any]
    error: str | None

    @property
    def folder(self) -> RunFolder:
        """The run's folder: its model (``folder.model_path``), ``config()`` and ``metrics()``."""
        return RunFolder.of(self.run_dir)

    @property
    def model_path(self) -> Path:
        return self.folder.model_path


def new_run_id(kind: str, label: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{kind}-{label}-{secrets.token_hex(2)}"


class RunRegistry:
    def __init__(self, runs_dir: str | os.PathLike):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.runs_dir / REGISTRY_FILENAME
        with closing(self._connect()) as conn, conn:
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0)
        conn.execute("PRAGMA busy_timeout=30000")
        # WAL is stored in the file, so only the first connection switches it. Two processes
        # creating the registry at the same moment can get "database is locked" from the switch
        # at once (SQLite does not wait on its busy timeout there), so retry it briefly.
        for attempt in range(100):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 99:
                    conn.close()
                    raise
                time.sleep(0.05)
        return conn

    def _execute(self, sql: str, params: tuple = ()) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(sql, params)

    def add(self, run_id: str, kind: str, run_dir: str | os.PathLike, config: dict[str, Any],
            status: str = "queued") -> None:
        _check_status(status)
        now = time.time()
        self._execute(
            "INSERT INTO runs (run_id, kind, status, run_dir, config, created_at, started_at, pid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, kind, status, str(run_dir), json.dumps(config), now,
             now if status == "running" else None, os.getpid() if status == "running" else None),
        )

    def mark_running(self, run_id: str, pid: int | None = None) -> None:
        self._execute(
            "UPDATE runs SET status='running', started_at=?, finished_at=NULL, error=NULL, pid=? WHERE run_id=?",
            (time.time(), pid or os.getpid(), run_id),
        )

    def finish(self, run_id: str, status: str, metrics: dict[str, Any] | None = None,
               error: str | None = None) -> None:
        _check_status(status)
        self._execute(
            "UPDATE runs SET status=?, finished_at=?, metrics=COALESCE(?, metrics), error=? WHERE run_id=?",
            (status, time.time(), json.dumps(metrics) if metrics is not None else None, error, run_id),
        )

    def get(self, run_id: str) -> RunRecord | None:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _record(row) if row else None

    def list(self, kind: str | None = None, status: str | None = None) -> list[RunRecord]:
        sql, params = "SELECT * FROM runs", []
        clauses = []
        if kind:
            clauses.append("kind=?")
            params.append(kind)
        if status:
            clauses.append("status=?")
            params.append(status)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC"
        with closing(self._connect()) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_record(r) for r in rows]

    def cancel_if_queued(self, run_id: str) -> bool:
        """Cancel a run only if it is still queued (a worker may be claiming it right now)."""
        with closing(self._connect()) as conn, conn:
            changed = conn.execute("UPDATE runs SET status='cancelled', finished_at=? WHERE run_id=? "
                                   "AND status='queued'", (time.time(), run_id)).rowcount
        return changed == 1

    def requeue(self, run_id: str) -> None:
        self._execute("UPDATE runs SET status='queued', finished_at=NULL, error=NULL WHERE run_id=?", (run_id,))

    def set_pid(self, run_id: str, pid: int) -> None:
        self._execute("UPDATE runs SET pid=? WHERE run_id=?", (pid, run_id))

    def reconcile(self) -> list[str]:
        """Mark running or queued runs whose process is gone as failed; return their ids."""
        waiting = self.list(status="running") + self.list(status="queued")
        lost = [r.run_id for r in waiting if r.pid and not _pid_alive(r.pid)]
        for run_id in lost:
            self.finish(run_id, "failed", error="the process ended without reporting (killed or crashed)")
        return lost

    def claim(self, run_id: str, max_running: int) -> str:
        """Move a queued run to running if a slot is free and it is first in line.

        Returns the run's status afterwards: 'running' (go), 'queued' (wait) or a final
        status (cancelled while waiting). One IMMEDIATE transaction, so two waiting workers
        can never both take the last slot.
        """
        with closing(self._connect()) as conn:
            conn.isolation_level = None
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
                if row is None or row[0] != "queued":
                    conn.execute("COMMIT")
                    return row[0] if row else "failed"
                running = conn.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0]
                first = conn.execute("SELECT run_id FROM runs WHERE status='queued' "
                                     "ORDER BY created_at, run_id LIMIT 1").fetchone()[0]
                if running < max_running and first == run_id:
                    conn.execute("UPDATE runs SET status='running', started_at=?, pid=? WHERE run_id=?",
                                 (time.time(), os.getpid(), run_id))
                    conn.execute("COMMIT")
                    return "running"
                conn.execute("COMMIT")
                return "queued"
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def start_run(runs_dir: str | os.PathLike, kind: str, label: str, config: dict[str, Any],
              status: str = "running") -> tuple[str, Path, RunRegistry]:
    """Create a run directory with its ``config.json`` and register the run (running, or queued)."""
    from fer_core.fileio import write_json_atomic
    from fer_core.runs.provenance import provenance

    run_id = new_run_id(kind, label)
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "config.json",
                      {"run_id": run_id, "kind": kind, **config, "provenance": provenance()})
    registry = RunRegistry(runs_dir)
    registry.add(run_id, kind, run_dir, config, status=status)
    return run_id, run_dir, registry


def reopen_run(run_dir: str | os.PathLike, kind: str) -> tuple[dict[str, Any], RunRegistry]:
    """Read a run's saved config for ``--resume`` (registering it if the registry lost it)."""
    from fer_core.fileio import read_json

    run_dir = Path(run_dir)
    saved = read_json(run_dir / "config.json")
    if not saved or saved.get("kind") != kind:
        raise ConfigError(f"{run_dir} is not a {kind} run directory (no {kind} config.json)")
    registry = RunRegistry(run_dir.parent)
    if registry.get(saved["run_id"]) is None:
        config = {k: v for k, v in saved.items() if k not in ("run_id", "kind", "provenance")}
        registry.add(saved["run_id"], kind, run_dir, config, status="running")
    return saved, registry


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ConfigError(f"unknown run status '{status}'; expected one of {', '.join(STATUSES)}")


def _record(row: tuple) -> RunRecord:
    (run_id, kind, status, run_dir, config, created_at, started_at, finished_at, pid, metrics, error) = row
    return RunRecord(run_id, kind, status, run_dir, json.loads(config), created_at, started_at,
                     finished_at, pid, json.loads(metrics) if metrics else {}, error)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill(0); /proc tells the truth on Linux.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def run_comparison_row(record: RunRecord) -> dict[str, Any]:
    """One run's row in Results' "Compare runs" table, from its saved config and report."""
    from fer_core.fileio import read_json
    from fer_core.evaluation.statistics import intervals_of, with_interval
    from fer_core.labels import CLASSES

    saved = read_json(Path(record.run_dir) / "metrics.json") or {}
    config = read_json(Path(record.run_dir) / "config.json") or {}
    intervals = intervals_of(saved) if saved else None
    return {"run": record.run_id, "kind": record.kind, "model": config.get("model"), "epochs": config.get("epochs"),
            "data share": config.get("data_fraction"), "accuracy": saved.get("accuracy"),
            "macro-F1": saved.get("macro_f1"),
            "accuracy 95%": "" if not intervals else with_interval(saved["accuracy"], intervals["accuracy"]),
            **{f"recall {c}": saved.get("per_class", {}).get(c, {}).get("recall") for c in CLASSES}}


def across_runs_words(rows: list[dict[str, Any]]) -> str | None:
    """Mean ± sd of accuracy and macro-F1 over runs (e.g. seeds of one recipe), for two or more."""
    from fer_core.evaluation.statistics import mean_sd

    accuracies = [r["accuracy"] for r in rows if isinstance(r["accuracy"], float)]
    if len(accuracies) < 2:
        return None
    mean, sd = mean_sd(accuracies)
    macro = mean_sd([r["macro-F1"] for r in rows if isinstance(r["macro-F1"], float)])
    return (f"Across these {len(accuracies)} runs (e.g. seeds): accuracy **{100 * mean:.2f}% ± {100 * sd:.2f}** "
            f"(mean ± sd), macro-F1 **{macro[0]:.3f} ± {macro[1]:.3f}**.")
