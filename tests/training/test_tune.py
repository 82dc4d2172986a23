"""Keras-Tuner search in-process: trials.csv, best model export, every tuner kind builds."""

from __future__ import annotations

import json

import keras_tuner as kt
import pandas as pd
import pytest

from fer_core.runs.progress import read_progress
from fer_core.training.config import TuneConfig
from fer_core.training.tune import make_tuner, tune

SMALL_SPACE = dict(base_filters=[4, 8], dense_units=[8, 16], batch_sizes=[32, 64])


@pytest.mark.slow
def test_random_search_writes_trials_and_best_model(train_folder, tmp_path):
    config = TuneConfig(data=str(train_folder), tuner="random", max_trials=2, epochs=1, **SMALL_SPACE)
    run_dir = tune(config, tmp_path / "runs", verbose=0)
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 2 and set(trials["status"]) == {"COMPLETED"}
    assert {"lr", "batch_size", "base_filters", "dense_units", "dropout", "augment_strength",
            "val_accuracy", "seconds"} <= set(trials.columns)
    assert trials["lr"].between(1e-4, 1e-2).all() and set(trials["batch_size"]) <= {32, 64}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    best = json.loads((run_dir / "best_hyperparameters.json").read_text())
    assert best["base_filters"] in (4, 8)
    assert metrics["accuracy"] == pytest.approx(trials["val_accuracy"].max(), abs=1e-6)
    assert (run_dir / "model.keras").exists() and (run_dir / "tuner" / "search").is_dir()
    progress = read_progress(run_dir)
    assert progress["phase"] == "done" and progress["trials"] == 2


@pytest.mark.parametrize("kind, oracle", [("random", kt.oracles.RandomSearchOracle),
                                          ("hyperband", kt.oracles.HyperbandOracle),
                                          ("bayesian", kt.oracles.BayesianOptimizationOracle)])
def test_every_tuner_kind_builds(tmp_path, kind, oracle):
    tuner = make_tuner(TuneConfig(data="unused", tuner=kind, max_trials=3, epochs=3), tmp_path)
    assert isinstance(tuner.oracle, oracle)


def test_search_space_ranges():
    config = TuneConfig(data="x", lr_min=1e-3, lr_max=1e-3, base_filters=[8])
    hp = kt.HyperParameters()
    trial = config.trial_config(hp)
    assert trial.filters == [8, 16, 32] and trial.lr == pytest.approx(1e-3)
    assert hp.get("lr") == pytest.approx(1e-3)
    with pytest.raises(ValueError):
        TuneConfig(data="x", tuner="grid")
