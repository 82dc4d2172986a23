"""Bundled models and their metadata cards (``models/NAME.keras`` + ``models/NAME.json``).

A card says what the model is and how well it does, from measurements, never by hand:
architecture and hyperparameters, data, epochs, the PublicTest metrics measured when the
card was written, the exact command that trained it, the Keras backend, training time and
hardware.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from fer_core.fileio import atomic_path, read_json, write_json_atomic


def provenance() -> dict[str, Any]:
    """Where and how a run ran (this process's command line included): recorded in its config.json."""
    import keras

    return {
        "command": " ".join(sys.argv),
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "python": platform.python_version(),
        "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores ({platform.processor() or 'cpu'})",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def read_model_card(model_path: str | os.PathLike) -> dict | None:
    """The metadata JSON beside a model file (``default.keras`` -> ``default.json``), if any."""
    card = Path(model_path).with_suffix(".json")
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError):
        return None


def bundle_run(run_dir: str | os.PathLike, out_path: str | os.PathLike, data: str,
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy a finished run's best model to ``out_path`` and write its card, measuring val again."""
    from fer_core.data import load_dataset
    from fer_core.evaluation import compute_metrics, predict_probabilities
    from fer_core.inference import load_model
    from fer_core.training import read_history

    run_dir, out_path = Path(run_dir), Path(out_path)
    config = read_json(run_dir / "config.json")
    if not config or not (run_dir / "model.keras").exists():
        raise ValueError(f"{run_dir} is not a finished run (no config.json or model.keras)")
    history = read_history(run_dir)
    model = load_model(run_dir / "model.keras")
    val = load_dataset(data).split("val")
    metrics = compute_metrics(val.labels, predict_probabilities(model, val.images), "val")
    best_epoch = max(history, key=lambda row: row.get("val_accuracy", -1.0))["epoch"] if history else None
    run_provenance = config.get("provenance", {})
    card = {
        "name": out_path.stem,
        "architecture": config.get("model"),
        "hyperparameters": {k: v for k, v in config.items()
                            if k not in ("run_id", "kind", "data", "provenance")},
        "data": "FER2013 Training (28,709 images); epoch chosen on PublicTest (our 'val', 3,589)",
        "epochs": len(history),
        "best_epoch": best_epoch,
        "publictest_metrics": metrics,
        "command": run_provenance.get("command"),
        "keras_backend": run_provenance.get("keras_backend"),
        "keras_version": run_provenance.get("keras_version"),
        "hardware": run_provenance.get("hardware"),
        "training_seconds": round(sum(row.get("seconds", 0.0) for row in history), 1),
        "source_run": config.get("run_id"),
        "file_bytes": (run_dir / "model.keras").stat().st_size,
        "measured_with": f"python -m fer_core evaluate --data {data} --model {out_path} --split val --out DIR",
        **(overrides or {}),
    }
    with atomic_path(out_path) as tmp:
        shutil.copyfile(run_dir / "model.keras", tmp)
    write_json_atomic(out_path.with_suffix(".json"), card)
    return card


def promote_run(run_dir: str | os.PathLike, runs_dir: str | os.PathLike) -> Path:
    """Make a finished run's model the default (``runs_dir/promoted/default.keras`` + card).

    The card reuses the run's own val report (metrics.json), so nothing is re-measured here.
    ``restore_bundled_default`` undoes it; the bundled model in ``models/`` is never touched.
    """
    from fer_core.inference import promoted_model_path

    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    metrics = read_json(run_dir / "metrics.json")
    if not config or not metrics or not (run_dir / "model.keras").exists():
        raise ValueError(f"{run_dir} is not a finished run (needs config.json, metrics.json and model.keras)")
    out = promoted_model_path(runs_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    card = {
        "name": f"promoted from {config.get('run_id')}",
        "architecture": config.get("model"),
        "hyperparameters": {k: v for k, v in config.items() if k not in ("run_id", "kind", "provenance")},
        "publictest_metrics" if metrics.get("split") == "val" else f"{metrics.get('split')}_metrics": metrics,
        "source_run": config.get("run_id"),
        "command": config.get("provenance", {}).get("command"),
        "keras_backend": config.get("provenance", {}).get("keras_backend"),
        "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_path(out) as tmp:
        shutil.copyfile(run_dir / "model.keras", tmp)
    write_json_atomic(out.with_suffix(".json"), card)
    return out


def restore_bundled_default(runs_dir: str | os.PathLike) -> bool:
    """Forget a promotion; return whether there was one."""
    from fer_core.inference import promoted_model_path

    out = promoted_model_path(runs_dir)
    existed = out.exists()
    for path in (out.with_suffix(".json"), out):
        path.unlink(missing_ok=True)
    return existed
