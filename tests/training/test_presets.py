"""Training presets: named TrainConfig values that a user's own options override."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fer_core.training.presets import PRESETS, preset_values, recipe_values
from fer_core.training.config import TrainConfig
from tests.conftest import REPO_ROOT


def test_every_preset_is_a_valid_config_and_a_copy():
    for name in PRESETS:
        config = TrainConfig(data="x", **preset_values(name))
        assert config.model == PRESETS[name]["model"]
        preset_values(name)["model_args"]["changed"] = 1
        assert "changed" not in PRESETS[name]["model_args"]
    with pytest.raises(KeyError, match="unknown preset 'slow'; presets: gpu, quick, teacher-resnet, teacher-vgg"):
        preset_values("slow")


def test_recipe_values_are_the_defaults_under_the_preset():
    defaults = recipe_values(None)
    assert defaults["optimizer"] == "adam" and defaults["model_args"] == {} and defaults["flip"] is False
    quick = recipe_values("quick")
    assert quick["optimizer"] == "adamw" and quick["flip"] is True and quick["seed"] == defaults["seed"]


def test_gpu_preset_is_a_time_budgeted_bfloat16_recipe_whose_file_stays_small():
    from fer_core.models import build_model

    config = TrainConfig(data="x", **preset_values("gpu"))
    assert config.time_budget > 0 and config.mixed_precision and config.checkpoint_minutes > 0
    model = build_model(config.model, **config.model_kwargs())
    assert model.count_params() * 4 < 9e6  # float32 weights: the shipped file stays under 9 MB
    augmentation = model.get_layer("augmentation")  # every augmentation inside the compiled step
    assert augmentation.flip and augmentation.rotation > 0 and augmentation.erasing > 0


def test_the_entry_points_turn_on_onednn_unless_the_user_chose_and_importing_changes_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}

    def run(code: str, **extra: str) -> str:
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**env, **extra}, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip()

    imports = ("import os; before = dict(os.environ); import fer_core, fer_core.app, fer_core.cli, fer_core.serve; "
               "print(dict(os.environ) == before)")
    assert run(imports) == "True"
    entry = "import os; from fer_core.cli import main; main(['settings']); print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    assert run(entry).splitlines()[-1] == "1"
    assert run(entry, TF_ENABLE_ONEDNN_OPTS="0").splitlines()[-1] == "0"


def test_one_merge_rule_for_a_preset_and_given_values():
    from fer_core.training.presets import with_preset

    quick = preset_values("quick")
    merged = with_preset("quick", {"epochs": 3, "model_args": {"dense_units": 64}})
    assert merged["epochs"] == 3 and merged["lr"] == quick["lr"]
    assert merged["model_args"] == {**quick["model_args"], "dense_units": 64}  # key by key over the preset's
    other = with_preset("quick", {"model": "resnet"})
    assert other["model"] == "resnet" and other["model_args"] == {}  # the preset's args fit its own model only
    assert with_preset(None, {"epochs": 2}) == {"epochs": 2, "model_args": {}}
