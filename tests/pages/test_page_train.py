"""The Train & Tune page through AppTest: the form launches real background jobs that finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_core.runs.registry import RunRegistry
from tests.conftest import app_page
from tests.training.test_jobs import wait_status


def only_run(runs: Path):
    (record,) = RunRegistry(runs).list()
    return record


def test_the_form_opens_on_the_preset_for_this_machine(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    assert not at.exception and at.radio[1].value == "quick"  # no GPU here
    assert at.checkbox(key="quick-mixed_precision").value is True
    assert any("CPU cores" in c.value for c in at.caption)  # the device its jobs will use


def test_train_form_launches_a_job_that_finishes(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    assert not at.exception
    assert at.selectbox[0].value.name == "fer_small"
    at.radio[1].set_value("custom").run()
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


@pytest.mark.slow
def test_the_quick_preset_fills_the_form_and_its_values_reach_the_run(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[1].set_value("quick").run()
    assert not at.exception
    by_label = {w.label: w for w in at.number_input}
    assert by_label["Epochs"].value == 40 and by_label["Random crop padding (pixels)"].value == 4
    assert by_label["Time budget (minutes, 0 = off)"].value == 29
    assert at.checkbox(key="quick-mixed_precision").value is True
    assert at.selectbox(key="quick-model").value == "vgg" and at.checkbox(key="quick-flip").value is True
    assert any("convs_per_stage" in c.value for c in at.caption)
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    at.radio[1].set_value("custom").run()
    at.text_input[0].set_value("four, eight")
    at.button[0].click().run()
    assert not at.exception and "Cannot launch" in at.error[0].value
    assert not dashboard_env["runs"].exists() or not RunRegistry(dashboard_env["runs"]).list()


def test_no_dataset_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DATA_ROOT", str(tmp_path / "empty"))
    at = app_page("pages/2_Train_and_Tune.py").run()
    assert not at.exception and "No dataset yet" in at.warning[0].value


def test_a_new_training_option_is_one_edit_away_from_the_cli_and_the_form(dashboard_env, monkeypatch):
    """Adding a field with its description to TrainConfig is all it takes: the flag (with its help
    and bounds) and the form's widget (with its label) follow, and the value reaches the run."""
    from dataclasses import dataclass

    import fer_core.cli.parser as parser_module
    import fer_core.training.config as config_module
    from fer_core.errors import ConfigError
    from fer_core.options import option

    @dataclass
    class WithShear(config_module.TrainConfig):
        shear: float = option(0.0, "random shear (degrees)", label="Shear (degrees)", group="augmentation", min=0,
                              max=30)

    for module in (config_module, parser_module):  # where the page and the parser find TrainConfig
        monkeypatch.setattr(module, "TrainConfig", WithShear)
    parser = parser_module.build_parser()
    train_help = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "--shear SHEAR" in train_help and "random shear (degrees)" in train_help
    assert parser.parse_args(["train", "--data", "x", "--shear", "12"]).shear == 12.0
    with pytest.raises(ConfigError, match="shear must be at least 0 and at most 30, got 45"):
        WithShear(data="x", shear=45)

    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[1].set_value("custom").run()
    shear = {w.label: w for w in at.number_input}["Shear (degrees)"]
    shear.set_value(7.0)
    by_label = {w.label: w for w in at.number_input}
    by_label["Epochs"].set_value(1)
    at.button[0].click().run()
    assert not at.exception and not at.error
    record = only_run(dashboard_env["runs"])
    config = json.loads((Path(record.run_dir) / "config.json").read_text())
    assert config["shear"] == 7.0 and config["epochs"] == 1
    assert wait_status(dashboard_env["runs"], record.run_id, {"done", "failed"}) == "done"


def test_the_time_of_a_recipe_is_measured_here_before_launch(dashboard_env):
    at = app_page("pages/2_Train_and_Tune.py").run()
    at.radio[1].set_value("custom").run()
    by_label = {w.label: w for w in at.number_input}
    by_label["Epochs"].set_value(3)
    by_label["Dense units"].set_value(16)
    at.text_input[0].set_value("4, 8, 8")
    estimate = next(b for b in at.button if b.label == "Estimate the time")
    estimate.click().run()
    assert not at.exception and not at.error
    words = next(i.value for i in at.info if "for 3 epochs" in i.value)
    assert words.startswith("On ") and "ms a step" in words and "min for 3 epochs" in words
    runs = dashboard_env["runs"]
    assert not runs.exists() or not RunRegistry(runs).list()  # nothing was launched
