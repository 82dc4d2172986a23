"""The run registry as the pages show it: finished runs, their rows and labels."""

from __future__ import annotations

from pathlib import Path


from fer_core.runs.registry import RunRecord, RunRegistry


def registry(runs_dir: Path) -> RunRegistry:
    registry = RunRegistry(runs_dir)
    registry.reconcile()
    return registry


def finished_runs(runs_dir: Path) -> list[RunRecord]:
    """Runs with a model to look at (done ones, and killed ones that saved a best model)."""
    if not runs_dir.is_dir():
        return []
    return [r for r in registry(runs_dir).list() if r.model_path.exists()]


def run_rows(records: list[RunRecord], errors: bool = False) -> list[dict]:
    """One table row per run (Home's recent runs, Train & Tune's jobs): its id, kind, status, its
    figures (``val accuracy``, ``wall seconds``, ...) and, with ``errors``, why it failed."""
    return [{"run": r.run_id, "kind": r.kind, "status": r.status,
             **{name.replace("_", " "): value for name, value in r.metrics.items() if isinstance(value, float)},
             **({"error": r.error} if errors else {})} for r in records]


def run_label(record: RunRecord) -> str:
    accuracy = record.metrics.get("val_accuracy")
    score = f", val {accuracy:.1%}" if isinstance(accuracy, float) else ""
    return f"{record.run_id} ({record.status}{score})"
