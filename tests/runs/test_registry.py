"""The run registry: rows, statuses, crashed runs, and two writer processes at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

import pytest

from fer_core.runs.registry import RunRegistry


def test_add_finish_list(tmp_path):
    registry = RunRegistry(tmp_path)
    registry.add("a", "train", tmp_path / "a", {"lr": 0.1})
    registry.add("b", "tune", tmp_path / "b", {}, status="running")
    registry.finish("b", "done", metrics={"val_accuracy": 0.5})
    a, b = registry.get("a"), registry.get("b")
    assert a.status == "queued" and a.config == {"lr": 0.1} and a.pid is None
    assert b.status == "done" and b.metrics == {"val_accuracy": 0.5} and b.finished_at >= b.started_at
    assert [r.run_id for r in registry.list(kind="tune")] == ["b"]
    with pytest.raises(ValueError, match="unknown run status"):
        registry.finish("a", "exploded")


def test_reconcile_marks_dead_processes_failed(tmp_path):
    registry = RunRegistry(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    registry.add("lost", "train", tmp_path, {}, status="running")
    registry.mark_running("lost", pid=dead.pid)
    registry.add("alive", "train", tmp_path, {}, status="running")  # this process
    assert registry.reconcile() == ["lost"]
    assert registry.get("lost").status == "failed" and "ended without reporting" in registry.get("lost").error
    assert registry.get("alive").status == "running"


def _writer(runs_dir: str, prefix: str, count: int) -> None:
    registry = RunRegistry(runs_dir)
    for i in range(count):
        registry.add(f"{prefix}-{i}", "train", runs_dir, {"i": i}, status="running")
        registry.finish(f"{prefix}-{i}", "done", metrics={"val_accuracy": i / count})


def test_two_processes_writing_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), p, 60)) for p in ("x", "y")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    registry = RunRegistry(tmp_path)
    records = registry.list()
    assert len(records) == 120 and all(r.status == "done" for r in records)
    with sqlite3.connect(registry.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
