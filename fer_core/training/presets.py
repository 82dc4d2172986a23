"""Named training recipes: a preset is a set of ``TrainConfig`` values that a user's own
options override. Each was chosen by measurement; its figures are in docs/results.md and docs/gpu.md.
"""

from __future__ import annotations

from typing import Any

from fer_core.errors import UnknownNameError

# What both teacher presets (below) train with; they differ only in the network.
_TEACHER_RECIPE: dict[str, Any] = {
    "epochs": 300,
    "time_budget": 6.0,
    "mixed_precision": True,
    "batch_size": 128,
    "optimizer": "sgd",
    "momentum": 0.9,
    "lr": 0.05,
    "weight_decay": 5e-4,
    "lr_schedule": "onecycle",
    "label_smoothing": 0.1,
    "mixup": 0.2,
    "augment_strength": 0.5,
    "crop_size": 40,
    "flip": True,
    "validate_last": 12,
    "checkpoint_minutes": 1.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    # For a laptop CPU: the best model this project's 2-core machine trains in 30 minutes (docs/results.md,
    # "The CPU presets", has every variant measured with its command, wall time and PublicTest
    # accuracy). A 4-stage VGG whose second convolutions sit only in the cheap 12x12 and 6x6 stages;
    # a random shift of up to 4 pixels and a flip (in-model, a single gather);
    # AdamW with a one-cycle schedule and label smoothing. Its length is a time budget, not an epoch
    # count: machines (and hours of one machine) differ by half in speed, so a few timed steps choose
    # the epochs that fit (at most `epochs`); bfloat16 compute where the CPU has it.
    "quick": {
        "model": "vgg",
        "filters": [32, 64, 128, 256],
        "model_args": {"convs_per_stage": [1, 1, 2, 2], "stage_dropout": 0.0},
        "dense_units": 256,
        "epochs": 40,  # the most it may train; the budget decides
        "time_budget": 29.0,  # minutes: leaves a margin under 30 for start-up and a slower hour
        "mixed_precision": True,
        "batch_size": 64,
        "optimizer": "adamw",
        "lr": 2e-3,
        "weight_decay": 0.05,
        "lr_schedule": "onecycle",
        "label_smoothing": 0.1,
        "augment_strength": 0.0,
        "crop_padding": 4,
        "flip": True,
        # Val only in the last 3 epochs (the best epoch was the last in every run): time for training.
        "validate_last": 3,
    },
    # For one modern GPU (measured on an NVIDIA H200 under JAX; docs/gpu.md): a wider
    # VGG with two convolutions in every stage, sized so its file stays under 9 MB (2.2 M parameters);
    # every augmentation inside the compiled step (fer_core.data.augmentation: flip, rotation, scale,
    # shift, contrast, random erasing); a few minutes of budget for well over a hundred epochs;
    # bfloat16 compute on GPUs that have it. The resume checkpoint is saved once a minute, not
    # every epoch (an epoch takes about a second).
    "gpu": {
        "model": "vgg",
        "filters": [64, 128, 192, 256],
        "model_args": {"convs_per_stage": 2, "stage_dropout": 0.1},
        "dense_units": 128,
        "dropout": 0.4,
        "epochs": 250,  # the most it may train; the budget decides
        "time_budget": 4.0,
        "mixed_precision": True,
        "batch_size": 128,
        "optimizer": "adamw",
        "lr": 2e-3,
        "weight_decay": 0.05,
        "lr_schedule": "onecycle",
        "warmup_epochs": 0.0,
        "label_smoothing": 0.1,
        "augment_strength": 0.7,
        "erasing": 0.3,
        "crop_padding": 0,
        "flip": True,
        "validate_last": 12,
        "checkpoint_minutes": 1.0,
    },
    # Teachers for one GPU (issue 27): larger networks that need not ship (8.7 and 11.2 M parameters, 35-45
    # MB files), so only their soft labels reach the shipped student (scripts/gpu_train.py
    # --teachers). From the published recipes that beat our default on FER2013 at 48 px (a wide VGG
    # with SGD-Nesterov, Khaireddin 2021; a ResNet-18 with mixup): SGD-Nesterov on a one-cycle
    # schedule, mixup and label smoothing, random 40-pixel crops (FaceCrop; the 48-pixel face at
    # inference is centre-cropped, and multicrop TTA then looks at shifted crops: the ten-crop).
    # NOT YET MEASURED: no GPU was lent since they were written; their figures go in docs/gpu.md.
    "teacher-vgg": {"model": "vgg", "filters": [128, 256, 384, 512],
                    "model_args": {"convs_per_stage": 2, "stage_dropout": 0.1}, "dense_units": 512, "dropout": 0.5,
                    **_TEACHER_RECIPE},
    "teacher-resnet": {"model": "resnet", "model_args": {},  # the ResNet-18 layout on a 48x48 grid, 11.2 M
                       **_TEACHER_RECIPE},
}


# Where the Train & Tune form starts when fine-tuning a trained model ("Start from: a trained model"):
# a short run at a small learning rate, so the model's weights are adjusted rather than replaced.
FINETUNE_START: dict[str, Any] = {"epochs": 10, "lr": 3e-4, "optimizer": "adamw", "weight_decay": 0.01,
                                  "lr_schedule": "cosine", "augment_strength": 0.5}


def preset_values(name: str) -> dict[str, Any]:
    """A copy of the preset's values (a ``KeyError`` naming the presets if there is none)."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset '{name}'; presets: {', '.join(sorted(PRESETS))}")
    values = dict(PRESETS[name])
    values["model_args"] = dict(values.get("model_args", {}))
    return values


def with_preset(name: str | None, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` (TrainConfig values) over the preset ``name``'s: the one merge rule of
    ``fer_core.train``, ``python -m fer_core train`` and the Train & Tune form. ``model_args`` merge
    key by key; the preset's apply only to its own architecture (a VGG's filter list means nothing
    to a ResNet), so choosing another model drops them."""
    values = preset_values(name) if name else {}
    preset_args = values.get("model_args", {}) if given.get("model", values.get("model")) == values.get("model") else {}
    return {**values, **given, "model_args": {**preset_args, **given.get("model_args", {})}}


def recipe_values(name: str | None) -> dict[str, Any]:
    """Every ``TrainConfig`` field's starting value: its default, or the preset's where it sets one
    (what the dashboard's train form starts from)."""
    from dataclasses import MISSING, fields

    from fer_core.training.config import TrainConfig

    values: dict[str, Any] = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            values[f.name] = f.default
        elif f.default_factory is not MISSING:
            values[f.name] = f.default_factory()
    return {**values, **(preset_values(name) if name else {})}
