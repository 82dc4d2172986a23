"""The Train & Tune page through AppTest: the form launches real background jobs that finish."""

from __future__ import annotations

import json
from pathlib import Path

from fer_core.training.runs import RunRegistry
from tests.conftest import app_page
from tests.training.test_jobs import wait_status


def only_run(runs: Path):
    (record,) = RunRegistry(runs).list()
    return record


def test_train_form_launches_a_job_that_finishes(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    assert not at.exception
    assert at.selectbox[0].value.endswith("fer_small")
    by_label = {w.label: w for w in at.number_input}
    by_label["Epochs"].set_value(1)
    by_label["Dense units"].set_value(16)
    by_label["Training crop (pixels, 0 = whole face)"].set_value(40)
    at.text_input[0].set_value("4, 8, 8")
    at.slider[0].set_value(0.5)  # half of the training data
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "Queued" in at.success[0].value
    record = only_run(dashboard_env["runs"])
    config = json.loads((Path(record.run_dir) / "config.json").read_text())
    assert config["epochs"] == 1 and config["filters"] == [4, 8, 8] and config["data_fraction"] == 0.5
    assert config["crop_size"] == 40
    assert wait_status(dashboard_env["runs"], record.run_id, {"done", "failed"}) == "done"
    at.run()
    jobs = at.dataframe[0].value
    assert list(jobs["status"]) == ["done"] and 0 <= jobs["val accuracy"][0] <= 1
    assert any("done" in p.proto.text for p in at.get("progress"))


def test_the_quick_preset_fills_the_form_and_its_values_reach_the_run(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[1].set_value("quick").run()
    assert not at.exception
    by_label = {w.label: w for w in at.number_input}
    assert by_label["Epochs"].value == 40 and by_label["Random crop padding (pixels, 0 = off)"].value == 4
    assert by_label["Time budget (minutes, 0 = off)"].value == 29
    assert at.checkbox(key="mixed-quick").value is True
    assert at.selectbox(key="arch-quick").value == "vgg" and at.checkbox(key="flip-quick").value is True
    assert "convs_per_stage" in at.caption[0].value
    by_label["Epochs"].set_value(1)
    at.text_input[0].set_value("4, 8, 8, 8")  # a tiny net, so the test is quick
    at.slider[0].set_value(0.5)
    at.button[0].click().run()
    assert not at.exception and not at.error
    record = only_run(dashboard_env["runs"])
    config = json.loads((Path(record.run_dir) / "config.json").read_text())
    assert config["optimizer"] == "adamw" and config["lr_schedule"] == "onecycle" and config["flip"] is True
    assert config["model_args"] == {"convs_per_stage": [1, 1, 2, 2], "stage_dropout": 0.0}
    assert config["epochs"] == 1 and config["filters"] == [4, 8, 8, 8] and config["validate_last"] == 3
    assert config["time_budget"] == 29 and config["mixed_precision"] is True
    assert wait_status(dashboard_env["runs"], record.run_id, {"done", "failed"}) == "done"


def test_start_from_a_trained_model_with_freezing(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[1].set_value("model").run()
    assert not at.exception
    selects = {w.label: w for w in at.selectbox}
    assert selects["Model to start from"].options[:2] == ["the default model", "the bundled 'quick' model"]
    selects["Model to start from"].set_value("quick")
    selects["Freeze"].set_value("body")
    by_label = {w.label: w for w in at.number_input}
    by_label["Epochs"].set_value(2)
    by_label["Unfreeze after epoch (0 = never)"].set_value(1)
    at.slider[0].set_value(0.25)  # a quarter of the training data
    at.button[0].click().run()
    assert not at.exception and not at.error
    record = only_run(dashboard_env["runs"])
    config = json.loads((Path(record.run_dir) / "config.json").read_text())
    assert config["init_from"] == "quick" and config["freeze"] == "body" and config["unfreeze_after"] == 1
    assert config["parent_model"]["file"].endswith("quick.keras") and config["lr"] == 3e-4
    assert wait_status(dashboard_env["runs"], record.run_id, {"done", "failed"}) == "done"
    assert "unfroze" in (Path(record.run_dir) / "train.log").read_text()


def test_tune_form_launches_a_search(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[0].set_value("Tune with Keras-Tuner").run()
    by_label = {w.label: w for w in at.number_input}
    by_label["Max trials (random, bayesian)"].set_value(2)
    by_label["Epochs per trial (max for hyperband)"].set_value(1)
    by_label["Parallel workers (0 = trials one after another)"].set_value(2)
    by_multi = {w.label: w for w in at.multiselect}
    by_multi["Batch sizes"].set_value([32])
    by_multi["Base filters"].set_value([16])
    by_multi["Dense units"].set_value([64])
    at.button[0].click().run()
    assert not at.exception and "Queued" in at.success[0].value
    record = only_run(dashboard_env["runs"])
    assert record.kind == "tune" and record.config["max_trials"] == 2 and record.config["workers"] == 2
    assert wait_status(dashboard_env["runs"], record.run_id, {"done", "failed"}) == "done"
    trials = (Path(record.run_dir) / "trials.csv").read_text().splitlines()
    assert len(trials) == 3 and "worker" in trials[0].split(",")  # which worker ran each trial


def test_bad_form_values_give_a_message(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.text_input[0].set_value("four, eight")
    at.button[0].click().run()
    assert not at.exception and "Cannot launch" in at.error[0].value
    assert not dashboard_env["runs"].exists() or not RunRegistry(dashboard_env["runs"]).list()


def test_no_dataset_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DATA_ROOT", str(tmp_path / "empty"))
    at = app_page("pages/2_Train_and_Tune.py").run()
    assert not at.exception and "No dataset yet" in at.warning[0].value
