"""Training runs in-process: the run directory's files, progress, and resume from a checkpoint."""

from __future__ import annotations

import json

import pytest

from fer_core.runs.progress import read_progress
from fer_core.runs.registry import RunRegistry
from fer_core.training.config import TrainConfig
from fer_core.training.train import resume, train
from fer_core.runs.history import read_history
from tests.conftest import face_image

TINY = dict(filters=[4, 8, 8], dense_units=16, batch_size=32, augment_strength=0.25)


def test_train_writes_the_run_directory(train_folder, tmp_path):
    runs = tmp_path / "runs"
    run_dir = train(TrainConfig(data=str(train_folder), epochs=2, **TINY), runs, verbose=0)
    for name in ("config.json", "history.csv", "progress.json", "model.keras", "checkpoint.keras",
                 "train.log", "metrics.json", "misclassified.csv", "samples.png"):
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["kind"] == "train" and config["epochs"] == 2 and config["filters"] == [4, 8, 8]
    history = read_history(run_dir)
    assert [row["epoch"] for row in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(history[0])
    progress = read_progress(run_dir)
    assert progress["phase"] == "done" and progress["epoch"] == 2 and progress["epochs"] == 2
    assert progress["eta_seconds"] == 0.0 and len(progress["history"]) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "val" and metrics["n"] == 56
    assert metrics["accuracy"] == pytest.approx(max(r["val_accuracy"] for r in history), abs=1e-6)
    record = RunRegistry(runs).get(config["run_id"])
    assert record.status == "done" and record.metrics["val_accuracy"] == metrics["accuracy"]


def test_same_seed_same_result(train_folder, tmp_path):
    config = TrainConfig(data=str(train_folder), epochs=1, seed=7, **TINY)
    a = read_history(train(config, tmp_path / "a", verbose=0))
    b = read_history(train(config, tmp_path / "b", verbose=0))
    assert a[0]["val_accuracy"] == b[0]["val_accuracy"] and a[0]["loss"] == pytest.approx(b[0]["loss"], rel=1e-5)


def test_resume_continues_after_last_finished_epoch(train_folder, tmp_path):
    run_dir = train(TrainConfig(data=str(train_folder), epochs=2, **TINY), tmp_path / "runs", verbose=0)
    # Pretend the run was killed after epoch 1 and asked for 3 epochs.
    config = json.loads((run_dir / "config.json").read_text())
    config["epochs"] = 3
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "state.json").write_text(json.dumps({"epochs_done": 2, "best_val_accuracy": 0.0}))
    resume(run_dir, verbose=0)
    assert [row["epoch"] for row in read_history(run_dir)] == [1, 2, 3]
    assert "resuming" in (run_dir / "train.log").read_text()
    assert read_progress(run_dir)["phase"] == "done"


def test_validate_last_checks_val_only_in_the_last_epochs(train_folder, tmp_path):
    run_dir = train(TrainConfig(data=str(train_folder), epochs=3, validate_last=1, **TINY), tmp_path / "runs",
                    verbose=0)
    history = read_history(run_dir)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert [("val_accuracy" in row) for row in history] == [False, False, True]
    state = json.loads((run_dir / "state.json").read_text())
    assert state["best_val_accuracy"] == pytest.approx(history[-1]["val_accuracy"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(history[-1]["val_accuracy"], abs=1e-6)
    assert read_progress(run_dir)["phase"] == "done"


def test_missing_split_fails_the_run_with_a_clear_error(train_folder, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(KeyError, match="no 'test' split; it has: train, val"):
        train(TrainConfig(data=str(train_folder), epochs=1, val_split="test", **TINY), runs, verbose=0)
    (record,) = RunRegistry(runs).list()
    assert record.status == "failed" and "no 'test' split" in record.error


def test_config_validation():
    with pytest.raises(ValueError):
        TrainConfig(data="x", epochs=0)
    with pytest.raises(ValueError):
        TrainConfig(data="x", data_fraction=1.5)
    with pytest.raises(ValueError):
        TrainConfig(data="x", lr_schedule="warp")
    with pytest.raises(ValueError, match="validate last must be at least 0"):
        TrainConfig(data="x", validate_last=-1)
    with pytest.raises(ValueError, match="plateau"):
        TrainConfig(data="x", validate_last=2, lr_schedule="plateau")
    with pytest.raises(ValueError, match="time budget"):
        TrainConfig(data="x", time_budget=-1)


@pytest.mark.parametrize("recipe", [
    dict(model="vgg", filters=[4, 8, 8, 8], dense_units=8, optimizer="sgd", lr=0.01, lr_schedule="onecycle",
         mixup=0.4, cutmix=1.0, class_weight="sqrt", erasing=0.25, label_smoothing=0.1, photo_style=0.3),
    dict(model="resnet", filters=[4, 8], optimizer="adamw", weight_decay=1e-4, lr_schedule="plateau",
         mixed_precision=True),
])
def test_recipe_options_train_end_to_end(train_folder, tmp_path, recipe):
    run_dir = train(TrainConfig(data=str(train_folder), epochs=2, batch_size=32, **recipe), tmp_path / "runs",
                    verbose=0)
    history = read_history(run_dir)
    assert [row["epoch"] for row in history] == [1, 2] and (run_dir / "model.keras").exists()
    config = json.loads((run_dir / "config.json").read_text())
    assert all(config[key] == value for key, value in recipe.items())
    if recipe["lr_schedule"] == "onecycle":
        assert history[0]["lr"] < history[1]["lr"] or history[0]["lr"] < 0.01  # still warming up after epoch 1


def test_bad_recipe_values_are_refused():
    for bad in (dict(optimizer="rmsprop"), dict(class_weight="heavy"), dict(mixup=-1.0), dict(filters=[])):
        with pytest.raises(ValueError):
            TrainConfig(data="x", **bad)


def test_time_budget_plans_the_epochs_and_records_the_plan(train_folder, tmp_path):
    run_dir = train(TrainConfig(data=str(train_folder), epochs=500, time_budget=0.5, validate_last=1, **TINY),
                    tmp_path / "runs", verbose=0)
    config = json.loads((run_dir / "config.json").read_text())
    plan = config["time_budget_plan"]
    assert config["epochs_cap"] == 500 and config["time_budget"] == 0.5 and plan["budget_seconds"] == 30
    assert 1 <= config["epochs"] == plan["epochs"] < 500 and plan["timing"]["step_seconds"] > 0
    assert plan["fits"] == (plan["planned_seconds"] <= 30)
    assert [row["epoch"] for row in read_history(run_dir)] == list(range(1, config["epochs"] + 1))
    assert read_progress(run_dir)["epochs"] == config["epochs"]
    assert f"-> {config['epochs']} epochs, planned" in (run_dir / "train.log").read_text()
    # A resumed run keeps the planned epochs: it does not time the machine again.
    (run_dir / "state.json").write_text(json.dumps({"epochs_done": config["epochs"] - 1, "best_val_accuracy": 0.0}))
    resume(run_dir, verbose=0)
    log = (run_dir / "train.log").read_text()
    assert log.count("time budget") == 1 and "resuming" in log
    assert [row["epoch"] for row in read_history(run_dir)] == list(range(1, config["epochs"] + 1))


def test_a_budget_too_small_for_one_epoch_still_trains_one_and_says_so(train_folder, tmp_path):
    run_dir = train(TrainConfig(data=str(train_folder), epochs=5, time_budget=0.001, **TINY), tmp_path / "runs",
                    verbose=0)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 1 and config["time_budget_plan"]["fits"] is False
    assert "not even one epoch fits" in (run_dir / "train.log").read_text()
    assert read_progress(run_dir)["phase"] == "done"


def test_a_mixed_precision_model_is_saved_computing_in_float32(tmp_path):
    import keras
    import numpy as np

    from fer_core.runs.hardware import dtype_policy
    from fer_core.runtime.loading import load_model
    from fer_core.models import build_model
    from fer_core.runtime.saving import save_inference_model

    with dtype_policy("mixed_bfloat16"):
        model = build_model("vgg", filters=[4, 8], dense_units=8, augment_strength=0.0)
    assert model.get_layer("stage1_conv1").dtype_policy.name == "mixed_bfloat16"
    save_inference_model(model, tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    faces = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=0.02)
    assert keras.config.dtype_policy().name == "float32"


def test_checkpoint_minutes_saves_the_resume_checkpoint_only_when_due_and_after_the_last_epoch(train_folder, tmp_path):
    saves = []
    import fer_core.training.callbacks as training

    original = training.save_checkpoint
    training.save_checkpoint = lambda model, path: (saves.append(path), original(model, path))
    try:
        run_dir = train(TrainConfig(data=str(train_folder), epochs=3, checkpoint_minutes=60, **TINY), tmp_path / "a",
                        verbose=0)
        assert len(saves) == 1 and json.loads((run_dir / "state.json").read_text())["epochs_done"] == 3
        saves.clear()
        train(TrainConfig(data=str(train_folder), epochs=3, **TINY), tmp_path / "b", verbose=0)
        assert len(saves) == 3  # 0 = after every epoch
    finally:
        training.save_checkpoint = original
    assert json.loads((run_dir / "config.json").read_text())["wall_seconds"] > 0


def test_distillation_mixes_the_teachers_probabilities_into_the_labels(train_folder, tmp_path):
    import numpy as np

    from fer_core.data.loaders import load_dataset
    from fer_core.runtime.model import predict_probabilities
    from fer_core.runtime.loading import load_model
    from fer_core.training.distill import distillation_targets

    teacher = train(TrainConfig(data=str(train_folder), epochs=1, **TINY), tmp_path / "t", verbose=0)
    images = load_dataset(train_folder).split("train").images[:20]
    one_hot = np.eye(7, dtype="float32")[np.arange(20) % 7]
    targets = distillation_targets([str(teacher), str(teacher)], images, one_hot, 0.7)
    expected = 0.7 * predict_probabilities(load_model(teacher, tta="flip"), images) + 0.3 * one_hot
    np.testing.assert_allclose(targets, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-5)
    student = train(TrainConfig(data=str(train_folder), epochs=1, teacher=[str(teacher)], **TINY), tmp_path / "s",
                    verbose=0)
    assert json.loads((student / "config.json").read_text())["teacher"] == [str(teacher)]
    assert "distilling from" in (student / "train.log").read_text()
    with pytest.raises(ValueError, match="teacher weight"):
        TrainConfig(data="x", teacher_weight=1.5)


def test_a_teachers_soft_labels_are_computed_once_and_cached(finished_run, tmp_path, monkeypatch):
    import numpy as np

    import fer_core.training.distill as distill

    images = np.stack([np.asarray(face_image(k % 7, k)) for k in range(12)])
    first = distill.teacher_probabilities(str(finished_run), images, tmp_path)
    assert len(list((tmp_path / "soft_labels").glob("*.npy"))) == 1

    def no_model(*args, **kwargs):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(distill, "load_model", no_model)
    np.testing.assert_array_equal(distill.teacher_probabilities(str(finished_run), images, tmp_path), first)
    with pytest.raises(AssertionError, match="ran again"):  # other faces: not the cached answers
        distill.teacher_probabilities(str(finished_run), images[:6], tmp_path)
