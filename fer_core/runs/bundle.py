"""Shipping a run's model: bundled models with their cards (``models/NAME.keras`` + ``NAME.json``),
ensembles of runs or bundled models, and promoting a run's model to the dashboard's default.

A card says what the model is and how well it does, from measurements, never by hand:
architecture and hyperparameters, data, epochs, the PublicTest metrics measured when the
card was written, the exact command that trained it, the Keras backend, training time and
hardware. It lives in training because it reads run folders; reading cards is
``fer_core.runtime.cards``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from fer_core.fileio import atomic_path, read_json
from fer_core.runtime.cards import (ModelCard, card_path, ensemble_card, member_figures, promoted_card, run_card,
                                    run_member_record)
from fer_core.evaluation.metrics import measure_publictest
from fer_core.errors import ConfigError
from fer_core.run_files import CONFIG_FILE, METRICS_FILE, MODEL_FILE


def _training_seconds(history: list[dict[str, Any]]) -> float:
    return round(sum(row.get("seconds", 0.0) for row in history), 1)


def bundle_run(run_dir: str | os.PathLike, out_path: str | os.PathLike, data: str,
               overrides: dict[str, Any] | None = None, cache_dir: str | os.PathLike | None = None) -> ModelCard:
    """Copy a finished run's best model to ``out_path`` and write its card, measuring val again
    (with and without TTA)."""
    from fer_core.runs.history import read_history

    run_dir, out_path = Path(run_dir), Path(out_path)
    config = read_json(run_dir / CONFIG_FILE)
    if not config or not (run_dir / MODEL_FILE).exists():
        raise ConfigError(f"{run_dir} is not a finished run (no config.json or model.keras)")
    history = read_history(run_dir)
    measured = measure_publictest(run_dir / MODEL_FILE, data, cache_dir)
    card = run_card(out_path, data, measured, config, history, _training_seconds(history),
                    (run_dir / MODEL_FILE).stat().st_size)
    card = ModelCard({**card.data, **(overrides or {})})
    with atomic_path(out_path) as tmp:
        shutil.copyfile(run_dir / MODEL_FILE, tmp)
    card.write(out_path)
    return card


def _member(source: Path, data: str, cache_dir: str | os.PathLike | None) -> tuple[dict[str, Any], Path]:
    """What an ensemble card says of one member (where it came from, how it was trained, its own
    PublicTest accuracy with and without TTA, measured now) and its model file."""
    if source.is_dir():
        from fer_core.runs.history import read_history

        config = read_json(source / CONFIG_FILE) or {}
        model_file = source / MODEL_FILE
        if not model_file.exists():
            raise ConfigError(f"{source} is not a finished run (no model.keras)")
        info = run_member_record(config, source.name, _training_seconds(read_history(source)))
    else:
        card = ModelCard.read(source)
        if not card:
            raise ConfigError(f"{source} has no card beside it ({card_path(source).name})")
        model_file = source
        info = card.member_record(source.name)
    return {**info, **member_figures(measure_publictest(model_file, data, cache_dir))}, model_file


def bundle_ensemble(sources: list[str | os.PathLike], out_path: str | os.PathLike, data: str,
                    command: str, cache_dir: str | os.PathLike | None = None) -> ModelCard:
    """Build one ensemble file from finished runs or bundled models and write its card: each
    member's provenance and accuracy, and the ensemble's val metrics with and without TTA."""
    from fer_core.runtime.ensemble import save_ensemble

    out_path = Path(out_path)
    members, files = zip(*[_member(Path(source), data, cache_dir) for source in sources])
    with atomic_path(out_path) as tmp:
        save_ensemble(list(files), tmp)
        measured = measure_publictest(tmp, data, cache_dir)
    card = ensemble_card(out_path, data, measured, list(members), command, out_path.stat().st_size)
    card.write(out_path)
    return card


def promote_run(run_dir: str | os.PathLike, runs_dir: str | os.PathLike) -> Path:
    """Make a finished run's model the default (``runs_dir/promoted/default.keras`` + card).

    The card reuses the run's own val report (metrics.json), so nothing is re-measured here.
    ``restore_bundled_default`` undoes it; the bundled model in ``models/`` is never touched.
    """
    from fer_core.runtime.loading import promoted_model_path

    run_dir = Path(run_dir)
    config = read_json(run_dir / CONFIG_FILE)
    metrics = read_json(run_dir / METRICS_FILE)
    if not config or not metrics or not (run_dir / MODEL_FILE).exists():
        raise ConfigError(f"{run_dir} is not a finished run (needs config.json, metrics.json and model.keras)")
    out = promoted_model_path(runs_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        shutil.copyfile(run_dir / MODEL_FILE, tmp)
    promoted_card(config, metrics).write(out)
    return out


def restore_bundled_default(runs_dir: str | os.PathLike) -> bool:
    """Forget a promotion; return whether there was one."""
    from fer_core.runtime.loading import promoted_model_path

    out = promoted_model_path(runs_dir)
    existed = out.exists()
    for path in (card_path(out), out):
        path.unlink(missing_ok=True)
    return existed
