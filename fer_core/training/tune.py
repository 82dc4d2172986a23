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
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import pandas as pd

from fer_core.errors import ConfigError
from fer_core.fileio import read_json, write_json_atomic, write_text_atomic
from fer_core.models import build_model
from fer_core.training.distributed import (ChiefWatch, LocalWorkers, free_port, oracle_env, parse_oracle,
                                           worker_progress_dir, write_oracle_address)
from fer_core.runs.progress import ProgressFile
from fer_core.runs.registry import RunRegistry, reopen_run, start_run
from fer_core.training.callbacks import RunMonitor
from fer_core.training.config import TuneConfig
from fer_core.training.inputs import PreparedData, prepare_data, to_model_inputs
from fer_core.training.lifecycle import report_best_model, run_managed
from fer_core.training.optim import compile_model
from fer_core.runs.history import read_history
from fer_core.runtime.saving import save_inference_model
from fer_core.run_files import CONFIG_FILE, MODEL_FILE

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
        callbacks.append(self.fer_run.trial_started(trial, int(trial.trial_id) + 1))
        return super().run_trial(trial, *args, callbacks=callbacks, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.fer_run.writes_records:  # in a distributed search the chief keeps the record
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
    """The files of one tuning run: trial times, ``trials.csv`` and live progress.

    ``writes_records``: whether this process keeps the run's record (``trials.csv``, trial
    times): a single-process search and a distributed search's chief do, its workers do not."""

    def __init__(self, run_dir: Path, config: TuneConfig, progress: ProgressFile, steps_per_epoch: dict[int, int],
                 writes_records: bool = True):
        self.run_dir = run_dir
        self.config = config
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.writes_records = writes_records
        self.times_path = run_dir / "trial_times.json"
        self.times: dict[str, dict[str, Any]] = read_json(self.times_path, default={}) or {}
        self._lock = threading.Lock()

    def trial_running(self, trial_id: str, worker: str) -> None:
        """(Chief) ``worker`` runs ``trial_id``: note when it started, once per run of it."""
        with self._lock:
            entry = self.times.get(trial_id, {})
            if entry.get("worker") != worker or "seconds" in entry:
                self.times[trial_id] = {"started": time.time(), "worker": worker}
                write_json_atomic(self.times_path, self.times)

    def trial_ended(self, trial_id: str, worker: str | None, tuner: kt.Tuner) -> None:
        """(Chief) the oracle ended ``trial_id``: its time, its worker, and ``trials.csv`` again."""
        with self._lock:
            entry = self.times.setdefault(trial_id, {})
            if worker:
                entry["worker"] = worker
            if "started" in entry:
                entry["seconds"] = time.time() - entry["started"]
            write_json_atomic(self.times_path, self.times)
            self.write_trials_csv(tuner)

    def trial_started(self, trial, number: int) -> keras.callbacks.Callback:
        if self.writes_records:
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
                **({"worker": self.times.get(trial_id, {}).get("worker")} if self.config.workers else {}),
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


def _search_data(config: TuneConfig, progress: ProgressFile | None):
    data: PreparedData = prepare_data(config.data_config(), progress)
    x_train, y_train = data.train_inputs()
    steps = {b: math.ceil(len(x_train) / b) for b in config.batch_sizes}
    return data, (x_train, y_train), to_model_inputs(data.val), steps


def _execute(run_dir: Path, run_id: str, config: TuneConfig, registry: RunRegistry,
             verbose: int | str) -> dict[str, Any]:
    progress = ProgressFile(run_dir)

    def body() -> dict[str, Any]:
        log = logging.getLogger("fer_core")
        keras.utils.set_random_seed(config.seed)
        progress.update(force=True, phase="loading_data", kind="tune", run_id=run_id, error=None)
        data, (x_train, y_train), (x_val, y_val), steps = _search_data(config, progress)

        record = TuningRun(run_dir, config, progress, steps)
        progress.update(force=True, phase="tuning")
        if config.workers:
            tuner = _serve_oracle(run_dir, config, record, progress)
        else:
            tuner = make_tuner(config, run_dir / "tuner")
            tuner.fer_run = record
            tuner.search(x_train, y_train, epochs=config.epochs, validation_data=(x_val, y_val), shuffle=True,
                         verbose=0 if verbose == 0 else 2)
        record.write_trials_csv(tuner)

        progress.update(force=True, phase="evaluating")
        best_hp = tuner.get_best_hyperparameters(1)[0]
        write_json_atomic(run_dir / "best_hyperparameters.json", best_hp.values)
        log.info("best trial: %s", best_hp.values)
        save_inference_model(tuner.get_best_models(1)[0], run_dir / MODEL_FILE)
        return report_best_model(run_dir, data)

    return run_managed(run_dir, run_id, "tune", registry, progress, body)


def _serve_oracle(run_dir: Path, config: TuneConfig, record: TuningRun, progress: ProgressFile) -> kt.Tuner:
    """The chief of a distributed search: serve the oracle until every trial has ended, with
    ``config.workers`` local workers, and keep the run's record (fer_core.training.distributed)."""
    port = config.oracle_port or free_port()
    os.environ.update(oracle_env(config.oracle_host, port, "chief"))
    try:
        tuner = make_tuner(config, run_dir / "tuner")
        oracle = tuner.oracle
        end_trial = oracle.end_trial

        def end_trial_and_record(trial):
            worker = next((w for w, t in list(oracle.ongoing_trials.items()) if t.trial_id == trial.trial_id), None)
            end_trial(trial)
            record.trial_ended(trial.trial_id, worker, tuner)

        oracle.end_trial = end_trial_and_record  # the gRPC service calls this for every worker's trial
        write_oracle_address(run_dir, config.oracle_host, port)
        logging.getLogger("fer_core").info("oracle on %s:%d; workers on other machines join with: python -m "
                                           "fer_core tune-worker %s --oracle HOST:%d", config.oracle_host, port,
                                           run_dir, port)
        workers = LocalWorkers(run_dir, "127.0.0.1" if config.oracle_host in ("0.0.0.0", "::") else config.oracle_host,
                               port, config.workers)
        watch = ChiefWatch(oracle, workers, run_dir, progress, record)
        watch.start()
        try:
            tuner.search()  # the chief: serves the oracle, blocks until the search is done
        finally:
            watch.stopping.set()
            workers.stop_all()
        return tuner
    finally:
        for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
            os.environ.pop(name, None)


def run_worker(run_dir: str | os.PathLike, oracle: str, worker_id: str, verbose: int | str = 2) -> int:
    """One worker of a distributed search: ask the chief's oracle at ``oracle`` (HOST:PORT) for
    trials and run them until it says the search is done. Needs the run folder (shared with the
    chief: the tuner's trial files go there) and the dataset at the same path as the chief."""
    run_dir = Path(run_dir)
    saved = read_json(run_dir / CONFIG_FILE)
    if not saved or saved.get("kind") != "tune":
        raise ConfigError(f"{run_dir} is not a tuning run (no tuning config.json)")
    config = TuneConfig.from_dict(saved)
    host, port = parse_oracle(oracle)
    os.environ.update(oracle_env(host, port, worker_id))
    progress = ProgressFile(worker_progress_dir(run_dir, worker_id))
    progress.update(force=True, phase="loading_data", worker=worker_id)
    keras.utils.set_random_seed(config.seed)
    data, (x_train, y_train), (x_val, y_val), steps = _search_data(config, None)
    tuner = make_tuner(config, run_dir / "tuner")
    tuner.fer_run = TuningRun(run_dir, config, progress, steps, writes_records=False)
    progress.update(force=True, phase="tuning")
    tuner.search(x_train, y_train, epochs=config.epochs, validation_data=(x_val, y_val), shuffle=True,
                 verbose=0 if verbose == 0 else 2)
    progress.update(force=True, phase="done")
    return 0


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
            if c not in ("trial_id", "status", "val_accuracy", "seconds", "worker") and not c.startswith("tuner/")]
