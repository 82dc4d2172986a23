"""Hyperparameter search with Keras-Tuner: ``tune(config, runs_dir)`` and ``resume_tuning(run_dir)``.

The search space covers learning rate (log scale), batch size (through ``HyperModel.fit``),
filters, dense units, dropout and augmentation strength. The tuner's own directory lives
inside the run directory, so a killed search resumes where Keras-Tuner left it (the trial
in flight is run again). ``trials.csv`` summarises every trial; the best model is exported
as the run's ``model.keras`` and evaluated on val like a training run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import pandas as pd

from fer_core.fileio import read_json, write_json_atomic, write_text_atomic
from fer_core.models import build_model
from fer_core.training.progress import ProgressFile
from fer_core.training.runs import RunRegistry, reopen_run, start_run
from fer_core.training.train import (PreparedData, RunMonitor, TrainConfig, compile_model, prepare_data,
                                     report_best_model, run_managed, to_model_inputs)
from fer_core.training.history import read_history
from fer_core.inference.saving import save_inference_model

TUNERS = ("random", "hyperband", "bayesian")


@dataclass
class TuneConfig:
    """A search: which tuner, how long, and the ranges it may pick from."""

    data: str
    tuner: str = "random"
    max_trials: int = 10
    epochs: int = 10
    model: str = "reference"
    lr_min: float = 1e-4
    lr_max: float = 1e-2
    batch_sizes: list[int] = field(default_factory=lambda: [32, 64, 128])
    base_filters: list[int] = field(default_factory=lambda: [16, 32, 48, 64])
    dense_units: list[int] = field(default_factory=lambda: [128, 256, 512])
    dropout_min: float = 0.2
    dropout_max: float = 0.6
    augment_min: float = 0.0
    augment_max: float = 1.0
    data_fraction: float = 1.0
    seed: int = 1234
    train_split: str = "train"
    val_split: str = "val"
    strict: bool = False

    def __post_init__(self) -> None:
        if self.tuner not in TUNERS:
            raise ValueError(f"tuner must be one of {', '.join(TUNERS)}")
        if self.max_trials < 1 or self.epochs < 1:
            raise ValueError("max trials and epochs must be at least 1")
        if not 0 < self.lr_min <= self.lr_max:
            raise ValueError("learning-rate range must be positive and ordered")
        if not 0 < self.data_fraction <= 1:
            raise ValueError("data fraction must be in (0, 1]")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TuneConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def trial_config(self, hp: kt.HyperParameters) -> TrainConfig:
        """The training config one trial runs with, drawn from the search space."""
        base = hp.Choice("base_filters", self.base_filters)
        return TrainConfig(
            data=self.data,
            model=self.model,
            epochs=self.epochs,
            lr=hp.Float("lr", self.lr_min, self.lr_max, sampling="log"),
            lr_schedule="constant",
            filters=[base, base * 2, base * 4],
            dense_units=hp.Choice("dense_units", self.dense_units),
            dropout=hp.Float("dropout", self.dropout_min, self.dropout_max, step=0.1),
            augment_strength=hp.Float("augment_strength", self.augment_min, self.augment_max, step=0.25),
            seed=self.seed,
        )


class FERHyperModel(kt.HyperModel):
    def __init__(self, config: TuneConfig):
        super().__init__(name="fer")
        self.config = config

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        trial = self.config.trial_config(hp)
        return compile_model(build_model(trial.model, **trial.model_kwargs()), trial, steps_per_epoch=1)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args, **kwargs):
        kwargs["batch_size"] = hp.Choice("batch_size", self.config.batch_sizes)
        return model.fit(*args, **kwargs)


class _RecordingTuner:
    """Mixed into each Keras-Tuner class: live progress per trial and ``trials.csv`` after each."""

    fer_run: "TuningRun"

    def run_trial(self, trial, *args, **kwargs):
        callbacks = list(kwargs.pop("callbacks", []))
        callbacks.append(self.fer_run.trial_started(trial, len(self.oracle.trials)))
        return super().run_trial(trial, *args, callbacks=callbacks, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.fer_run.trial_finished(self, trial)


class RandomTuner(_RecordingTuner, kt.RandomSearch):
    pass


class HyperbandTuner(_RecordingTuner, kt.Hyperband):
    pass


class BayesianTuner(_RecordingTuner, kt.BayesianOptimization):
    pass


def make_tuner(config: TuneConfig, directory: Path) -> kt.Tuner:
    common = dict(
        hypermodel=FERHyperModel(config),
        objective=kt.Objective("val_accuracy", direction="max"),
        seed=config.seed,
        directory=str(directory),
        project_name="search",
        overwrite=False,  # an existing search is reloaded: this is what makes resume work
    )
    if config.tuner == "random":
        return RandomTuner(max_trials=config.max_trials, **common)
    if config.tuner == "bayesian":
        return BayesianTuner(max_trials=config.max_trials, **common)
    return HyperbandTuner(max_epochs=config.epochs, factor=3, **common)


class TuningRun:
    """The files of one tuning run: trial times, ``trials.csv`` and live progress."""

    def __init__(self, run_dir: Path, config: TuneConfig, progress: ProgressFile, steps_per_epoch: dict[int, int]):
        self.run_dir = run_dir
        self.config = config
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.times_path = run_dir / "trial_times.json"
        self.times: dict[str, dict[str, float]] = read_json(self.times_path, default={}) or {}

    def trial_started(self, trial, number: int) -> keras.callbacks.Callback:
        self.times[trial.trial_id] = {"started": time.time()}
        write_json_atomic(self.times_path, self.times)
        batch_size = trial.hyperparameters.values.get("batch_size", self.config.batch_sizes[0])
        epochs = trial.hyperparameters.values.get("tuner/epochs", self.config.epochs)
        total = self.config.max_trials if self.config.tuner != "hyperband" else None
        logging.getLogger("fer_core").info("trial %d%s (%s): %s", number, f" of {total}" if total else "",
                                           trial.trial_id, trial.hyperparameters.values)
        trial_dir = self.run_dir / "trial_histories" / trial.trial_id
        trial_dir.mkdir(parents=True, exist_ok=True)
        return RunMonitor(trial_dir, self.progress, int(epochs), self.steps_per_epoch[batch_size], [], -1.0,
                          extra={"trial": number, "trials": total, "trial_id": trial.trial_id},
                          checkpoint=False)

    def trial_finished(self, tuner: kt.Tuner, trial) -> None:
        entry = self.times.setdefault(trial.trial_id, {})
        if "started" in entry:
            entry["seconds"] = time.time() - entry["started"]
        write_json_atomic(self.times_path, self.times)
        self.write_trials_csv(tuner)

    def write_trials_csv(self, tuner: kt.Tuner) -> pd.DataFrame:
        rows = []
        for trial_id, trial in sorted(tuner.oracle.trials.items()):
            rows.append({
                "trial_id": trial_id,
                "status": str(trial.status),
                "val_accuracy": trial.score,
                "seconds": self.times.get(trial_id, {}).get("seconds"),
                **trial.hyperparameters.values,
            })
        table = pd.DataFrame(rows)
        write_text_atomic(self.run_dir / "trials.csv", table.to_csv(index=False))
        return table


def tune(config: TuneConfig, runs_dir: str | os.PathLike = "runs", verbose: int | str = "auto") -> Path:
    """Start a new tuning run; return its run directory."""
    run_id, run_dir, registry = start_run(runs_dir, "tune", config.tuner, asdict(config))
    _execute(run_dir, run_id, config, registry, verbose)
    return run_dir


def resume_tuning(run_dir: str | os.PathLike, verbose: int | str = "auto") -> Path:
    """Continue a killed or cancelled tuning run; finished trials are kept."""
    saved, registry = reopen_run(run_dir, "tune")
    _execute(Path(run_dir), saved["run_id"], TuneConfig.from_dict(saved), registry, verbose)
    return Path(run_dir)


def _execute(run_dir: Path, run_id: str, config: TuneConfig, registry: RunRegistry,
             verbose: int | str) -> dict[str, Any]:
    progress = ProgressFile(run_dir)

    def body() -> dict[str, Any]:
        log = logging.getLogger("fer_core")
        keras.utils.set_random_seed(config.seed)
        progress.update(force=True, phase="loading_data", kind="tune", run_id=run_id, error=None)
        data: PreparedData = prepare_data(
            TrainConfig(data=config.data, data_fraction=config.data_fraction, seed=config.seed,
                        train_split=config.train_split, val_split=config.val_split, strict=config.strict),
            progress,
        )
        x_train, y_train = to_model_inputs(data.train)
        x_val, y_val = to_model_inputs(data.val)
        steps = {b: math.ceil(len(x_train) / b) for b in config.batch_sizes}

        tuner = make_tuner(config, run_dir / "tuner")
        record = TuningRun(run_dir, config, progress, steps)
        tuner.fer_run = record
        progress.update(force=True, phase="tuning")
        tuner.search(x_train, y_train, epochs=config.epochs, validation_data=(x_val, y_val), shuffle=True,
                     verbose=0 if verbose == 0 else 2)
        record.write_trials_csv(tuner)

        progress.update(force=True, phase="evaluating")
        best_hp = tuner.get_best_hyperparameters(1)[0]
        write_json_atomic(run_dir / "best_hyperparameters.json", best_hp.values)
        log.info("best trial: %s", best_hp.values)
        save_inference_model(tuner.get_best_models(1)[0], run_dir / "model.keras")
        return report_best_model(run_dir, data)

    return run_managed(run_dir, run_id, "tune", registry, progress, body)


def read_trials(run_dir: str | os.PathLike) -> pd.DataFrame:
    """A tuning run's ``trials.csv`` (empty if no trial has finished yet)."""
    path = Path(run_dir) / "trials.csv"
    if not path.exists():
        return pd.DataFrame()
    return pd.read_csv(path, dtype={"trial_id": str})


def best_trial_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-epoch history of the trial with the best val accuracy ([] before any finished)."""
    trials = read_trials(run_dir)
    if trials.empty or not trials["val_accuracy"].notna().any():
        return []
    best = trials.loc[trials["val_accuracy"].idxmax(), "trial_id"]
    return read_history(Path(run_dir) / "trial_histories" / best)


def searched_hyperparameters(trials: pd.DataFrame) -> list[str]:
    """The hyperparameter columns of a trials table (not Keras-Tuner's bookkeeping)."""
    return [c for c in trials.columns
            if c not in ("trial_id", "status", "val_accuracy", "seconds") and not c.startswith("tuner/")]
