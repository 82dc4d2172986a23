"""Shipping a run's model: bundled models with their cards (``models/NAME.keras`` + ``NAME.json``),
ensembles of runs or bundled models, and promoting a run's model to the dashboard's default.

A card says what the model is and how well it does, from measurements, never by hand:
architecture and hyperparameters, data, epochs, the PublicTest metrics measured when the
card was written, the exact command that trained it, the Keras backend, training time and
hardware. It lives in training because it reads run folders; reading cards is
``fer_core.inference.cards``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from fer_core.fileio import atomic_path, read_json, write_json_atomic
from fer_core.inference.cards import card_path, read_model_card
from fer_core.inference.evaluation import measure_publictest
from fer_core.errors import ConfigError


def _training_seconds(history: list[dict[str, Any]]) -> float:
    return round(sum(row.get("seconds", 0.0) for row in history), 1)


def _card(out_path: Path, data: str, measured: dict[str, dict[str, Any]], fields: dict[str, Any]) -> dict[str, Any]:
    """The card's common part: PublicTest metrics without TTA (``publictest_metrics``, what the
    dashboard shows) and per TTA mode, plus how to measure them again."""
    return {
        "name": out_path.stem,
        **fields,
        "publictest_metrics": measured["none"],
        "publictest_metrics_tta": {mode: m for mode, m in measured.items() if mode != "none"},
        "publictest_accuracy_by_tta": {mode: round(m["accuracy"], 4) for mode, m in measured.items()},
        "measured_with": f"python -m fer_core evaluate --data {data} --model {out_path} --split val "
                         "--tta none|flip|multicrop --out DIR",
    }


def bundle_run(run_dir: str | os.PathLike, out_path: str | os.PathLike, data: str,
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy a finished run's best model to ``out_path`` and write its card, measuring val again
    (with and without TTA)."""
    from fer_core.training.history import read_history

    run_dir, out_path = Path(run_dir), Path(out_path)
    config = read_json(run_dir / "config.json")
    if not config or not (run_dir / "model.keras").exists():
        raise ConfigError(f"{run_dir} is not a finished run (no config.json or model.keras)")
    history = read_history(run_dir)
    measured = measure_publictest(run_dir / "model.keras", data)
    best_epoch = max(history, key=lambda row: row.get("val_accuracy", -1.0))["epoch"] if history else None
    run_provenance = config.get("provenance", {})
    card = _card(out_path, data, measured, {
        "architecture": config.get("model"),
        "hyperparameters": {k: v for k, v in config.items()
                            if k not in ("run_id", "kind", "data", "provenance", "parent_model")},
        "data": "FER2013 Training (28,709 images); epoch chosen on PublicTest (our 'val', 3,589)",
        "epochs": len(history),
        "best_epoch": best_epoch,
        "command": run_provenance.get("command"),
        "keras_backend": run_provenance.get("keras_backend"),
        "keras_version": run_provenance.get("keras_version"),
        "hardware": run_provenance.get("hardware"),
        "training_seconds": _training_seconds(history),
        "wall_seconds": config.get("wall_seconds"),
        "parent_model": config.get("parent_model"),  # a fine-tuned run's starting point, else None
        "source_run": config.get("run_id"),
        "file_bytes": (run_dir / "model.keras").stat().st_size,
    })
    card.update(overrides or {})
    with atomic_path(out_path) as tmp:
        shutil.copyfile(run_dir / "model.keras", tmp)
    write_json_atomic(card_path(out_path), card)
    return card


def _member(source: Path, data: str) -> dict[str, Any]:
    """What an ensemble card says of one member: where it came from, how it was trained, and its
    own PublicTest accuracy with and without TTA (measured now)."""
    if source.is_dir():
        from fer_core.training.history import read_history

        config = read_json(source / "config.json") or {}
        model_file = source / "model.keras"
        if not model_file.exists():
            raise ConfigError(f"{source} is not a finished run (no model.keras)")
        info = {"source": config.get("run_id", source.name), "architecture": config.get("model"),
                "command": config.get("provenance", {}).get("command"),
                "hardware": config.get("provenance", {}).get("hardware"),
                "training_seconds": _training_seconds(read_history(source))}
    else:
        card = read_model_card(source)
        if card is None:
            raise ConfigError(f"{source} has no card beside it ({source.with_suffix('.json').name})")
        model_file = source
        info = {"source": source.name, **{k: card.get(k) for k in
                                          ("architecture", "command", "hardware", "training_seconds")}}
    measured = measure_publictest(model_file, data)
    return {**info, "model_file": str(model_file),
            "publictest_accuracy_by_tta": {mode: round(m["accuracy"], 4) for mode, m in measured.items()}}


def bundle_ensemble(sources: list[str | os.PathLike], out_path: str | os.PathLike, data: str,
                    command: str) -> dict[str, Any]:
    """Build one ensemble file from finished runs or bundled models and write its card: each
    member's provenance and accuracy, and the ensemble's val metrics with and without TTA."""
    from fer_core.inference.ensemble import save_ensemble

    out_path = Path(out_path)
    members = [_member(Path(source), data) for source in sources]
    with atomic_path(out_path) as tmp:
        save_ensemble([m.pop("model_file") for m in members], tmp)
        measured = measure_publictest(tmp, data)
    training = [m["training_seconds"] for m in members]
    card = _card(out_path, data, measured, {
        "architecture": "ensemble (mean of the members' probabilities)",
        "members": members,
        "data": "FER2013 Training (28,709 images); members chosen on PublicTest (our 'val', 3,589)",
        "command": command,
        "training_seconds": round(sum(training), 1) if None not in training else None,
        "file_bytes": out_path.stat().st_size,
    })
    write_json_atomic(card_path(out_path), card)
    return card


def promote_run(run_dir: str | os.PathLike, runs_dir: str | os.PathLike) -> Path:
    """Make a finished run's model the default (``runs_dir/promoted/default.keras`` + card).

    The card reuses the run's own val report (metrics.json), so nothing is re-measured here.
    ``restore_bundled_default`` undoes it; the bundled model in ``models/`` is never touched.
    """
    from fer_core.inference.loading import promoted_model_path

    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    metrics = read_json(run_dir / "metrics.json")
    if not config or not metrics or not (run_dir / "model.keras").exists():
        raise ConfigError(f"{run_dir} is not a finished run (needs config.json, metrics.json and model.keras)")
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
    write_json_atomic(card_path(out), card)
    return out


def restore_bundled_default(runs_dir: str | os.PathLike) -> bool:
    """Forget a promotion; return whether there was one."""
    from fer_core.inference.loading import promoted_model_path

    out = promoted_model_path(runs_dir)
    existed = out.exists()
    for path in (card_path(out), out):
        path.unlink(missing_ok=True)
    return existed
