"""The Results page through AppTest: metrics per split, confusion matrix, mistakes, trials,
comparison, promotion."""

from __future__ import annotations

import json
import shutil

import pytest

from fer_core.inference.loading import promoted_model_path
from fer_core.training.tune import TuneConfig, tune
from tests.conftest import app_page


@pytest.fixture
def runs_with_one_run(finished_run, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(finished_run.parent, runs)
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    return runs


def test_one_run_in_depth(runs_with_one_run, finished_run):
    at = app_page("pages/3_Results.py").run()
    assert not at.exception
    saved = json.loads((finished_run / "metrics.json").read_text())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy on val"] == f"{saved['accuracy']:.2%}"  # recomputed, equal to the saved report
    assert metrics["Images"] == "42"
    per_class = at.dataframe[0].value
    assert list(per_class.index) == saved["classes"] and per_class.loc["happy", "support"] == 6
    assert at.radio[0].options == ["train", "val"]
    at.radio[0].set_value("train").run()
    assert not at.exception and {m.label for m in at.metric} >= {"Accuracy on train"}
    assert {m.label: m.value for m in at.metric}["Images"] == "140"
    at.toggle[0].set_value(True).run()
    assert not at.exception
    at.radio(key="tta").set_value("flip").run()
    assert not at.exception and {m.label: m.value for m in at.metric}["Images"] == "140"
    at.multiselect(key="true_filter").set_value(["happy"]).run()
    caption = next(c.value for c in at.caption if "mistakes" in c.value)
    shown = int(caption.split()[0].replace(",", ""))
    assert shown <= 20 and (shown == 0) == (len(at.image) == 0)


def test_promote_and_restore(runs_with_one_run):
    at = app_page("pages/3_Results.py").run()
    at.button(key="promote").click().run()
    assert not at.exception and promoted_model_path(runs_with_one_run).exists()
    at.run()
    at.button(key="restore").click().run()
    assert not promoted_model_path(runs_with_one_run).exists()


def test_tuning_run_trials_and_comparison(runs_with_one_run, finished_run):
    data = json.loads((finished_run / "config.json").read_text())["data"]
    tune(TuneConfig(data=data, max_trials=2, epochs=1, base_filters=[4], dense_units=[8], batch_sizes=[32]),
         runs_with_one_run, verbose=0)
    at = app_page("pages/3_Results.py").run()
    assert not at.exception
    assert "tune" in at.selectbox(key="run").value  # newest first
    trials = at.dataframe[1].value
    assert len(trials) == 2 and "lr" in trials.columns
    assert "lr" in at.selectbox(key="hp").options
    compare = at.dataframe[2].value
    assert len(compare) == 2 and {"accuracy", "macro-F1", "recall disgust"} <= set(compare.columns)


def test_no_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "none"))
    at = app_page("pages/3_Results.py").run()
    assert not at.exception and "No finished runs yet" in at.info[0].value
