"""Fine-tuning: starting a run from a shipped or trained model, freezing, unfreezing, resuming."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from fer_core.training.finetune import finetune_model, layers_to_freeze, leaf_layers, load_parent
from fer_core.runs.history import read_history
from fer_core.training.config import TrainConfig
from fer_core.training.train import resume, train
from tests.conftest import REPO_ROOT, TINY_TRAIN_CONFIG

TINY = dict(batch_size=32, augment_strength=0.25)


def weights_of(model: keras.Model, names: list[str]) -> dict[str, list[np.ndarray]]:
    by_name = {layer.name: layer for layer in leaf_layers(model)}
    return {name: [np.array(w) for w in by_name[name].get_weights()] for name in names}


@pytest.mark.slow
def test_init_from_each_kind_of_model(train_folder, tmp_path):
    parent_run = train(TrainConfig(data=str(train_folder), epochs=1, **TINY_TRAIN_CONFIG), tmp_path / "p", verbose=0)
    for spec in ("default", "quick", str(parent_run), str(parent_run / "model.keras")):
        run_dir = train(TrainConfig(data=str(train_folder), epochs=1, init_from=spec, freeze="body", data_fraction=0.25,
                                    **TINY), tmp_path / "runs", verbose=0)
        config = json.loads((run_dir / "config.json").read_text())
        assert config["init_from"] == spec and config["parent_model"]["sha256"]
        assert config["parent_model"]["file"].endswith(".keras")
        assert json.loads((run_dir / "metrics.json").read_text())["n"] == 56
    from fer_core.runs.bundle import bundle_run

    card = bundle_run(run_dir, tmp_path / "shipped" / "mine.keras", str(train_folder)).data
    assert card["parent_model"]["file"] == str(parent_run / "model.keras") and card["hyperparameters"]["freeze"] == "body"


@pytest.mark.parametrize("name, sizes, head", [
    ("reference", dict(filters=[4, 8, 8], dense_units=8), {"dense", "dense_bn", "probabilities"}),
    ("vgg", dict(filters=[4, 8, 8, 8], dense_units=8), {"dense1", "dense1_bn", "dense2", "dense2_bn", "probabilities"}),
    ("resnet", dict(filters=[4, 8, 8, 8]), {"probabilities"}),
])
def test_every_architecture_has_a_body_a_head_and_stages(name, sizes, head):
    from fer_core.models import build_model

    model = finetune_model(build_model(name, augment_strength=0.5, **sizes), None)
    weighted = {layer.name for layer in leaf_layers(model) if layer.weights}
    body = {layer.name for layer in layers_to_freeze(model, "body")}
    assert weighted - body == head
    first_two = {layer.name for layer in layers_to_freeze(model, "2")}
    assert first_two and all(n.startswith(("stage1_", "stage2_", "block1_", "block2_", "stem_")) for n in first_two)
    assert "augmentation" not in {layer.name for layer in leaf_layers(model)}  # the parent's augmentation is out


@pytest.mark.slow
def test_body_freezing_keeps_the_body_and_trains_the_head(train_folder, tmp_path):
    parent, _ = load_parent("quick")
    model = finetune_model(parent, None)
    frozen = [layer.name for layer in layers_to_freeze(model, "body")]
    assert "stage1_conv1" in frozen and "stage4_bn2" in frozen and "dense1" not in frozen
    assert [layer.name for layer in layers_to_freeze(model, "2")] == [
        name for name in frozen if name.startswith(("stage1_", "stage2_"))]
    run_dir = train(TrainConfig(data=str(train_folder), epochs=1, init_from="quick", freeze="body", photo_style=0.3,
                                **TINY), tmp_path / "runs", verbose=0)
    trained = keras.saving.load_model(run_dir / "model.keras", safe_mode=True, compile=False)
    assert trained.get_layer("augmentation").photo == 0.3  # the fine-tune's own augmentation, photo style too
    before, after = weights_of(model, ["stage1_conv1", "stage4_bn2", "dense1"]), weights_of(
        trained, ["stage1_conv1", "stage4_bn2", "dense1"])
    for name in ("stage1_conv1", "stage4_bn2"):  # the body, batch-norm statistics included, as it was
        for a, b in zip(before[name], after[name]):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(before["dense1"][0], after["dense1"][0])  # the head learned


@pytest.mark.slow
def test_unfreezing_at_k_and_resume_keeps_parent_and_freeze_state(train_folder, tmp_path):
    config = TrainConfig(data=str(train_folder), epochs=3, init_from="quick", freeze="body", unfreeze_after=2,
                         **TINY)
    run_dir = train(config, tmp_path / "runs", verbose=0)
    log = (run_dir / "train.log").read_text()
    assert "unfroze" in log and "after epoch 2" in log
    lrs = [row["lr"] for row in read_history(run_dir)]
    assert lrs[2] < lrs[0]  # the unfrozen phase runs at a tenth of the rate
    body = weights_of(load_parent("quick")[0], ["stage1_conv1"])["stage1_conv1"][0]
    trained = keras.saving.load_model(run_dir / "model.keras", safe_mode=True, compile=False)
    assert not np.allclose(weights_of(trained, ["stage1_conv1"])["stage1_conv1"][0], body)  # trained after K

    # Killed after epoch 1 (still frozen), then resumed: the checkpoint holds the freeze state, the config the parent.
    stopped = train(TrainConfig(**{**config.__dict__, "epochs": 1}), tmp_path / "stopped", verbose=0)
    saved = json.loads((stopped / "config.json").read_text())
    (stopped / "config.json").write_text(json.dumps({**saved, "epochs": 3}))
    checkpoint = keras.saving.load_model(stopped / "checkpoint.keras", safe_mode=True, compile=False)
    assert not {layer.name: layer.trainable for layer in leaf_layers(checkpoint)}["stage1_conv1"]
    resume(stopped, verbose=0)
    assert [row["epoch"] for row in read_history(stopped)] == [1, 2, 3]
    assert "unfroze" in (stopped / "train.log").read_text()
    assert json.loads((stopped / "config.json").read_text())["parent_model"]["model"] == "quick"


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_bad_init_from_is_one_error_line_and_no_run(train_folder, tmp_path):
    not_keras = tmp_path / "notes.keras"
    not_keras.write_text("not a model")
    five = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    five.save(tmp_path / "five.keras")
    runs = tmp_path / "runs"
    for spec, message in ((tmp_path / "missing.keras", "no model file"),
                          (not_keras, "not a Keras model that loads in safe mode"),
                          (tmp_path / "five.keras", "to 5 outputs")):
        result = run_cli("train", "--data", train_folder, "--init-from", spec, "--epochs", "1", "--runs-dir", runs)
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]  # (TensorFlow's start-up notes may come first)
        assert last.startswith("error:") and message in last and "Traceback" not in result.stderr
    assert not runs.exists() or not any(p.is_dir() for p in runs.iterdir())
    with pytest.raises(ValueError, match="freezing needs a model"):
        TrainConfig(data="x", freeze="body")
    with pytest.raises(ValueError, match="freeze must be"):
        TrainConfig(data="x", init_from="default", freeze="head")
