"""One readable training entry point: ``train(config, runs_dir)`` and ``resume(run_dir)``.

A run directory holds everything about one run:

* ``config.json``: the ``TrainConfig`` it ran with;
* ``history.csv``: one row per finished epoch (rewritten atomically);
* ``progress.json``: phase, epoch, step, metrics so far, ETA (rewritten atomically);
* ``model.keras``: the best model so far by val accuracy, without optimizer state;
* ``checkpoint.keras`` + ``state.json``: the last finished epoch, with optimizer state,
  from which ``resume`` continues a killed run losing at most the epoch in flight;
* ``train.log``; and at the end ``metrics.json``, ``misclassified.csv``, ``samples.png`` on val.

The steps a run goes through, each in its own module: its data (``inputs``), soft labels from
teachers (``distill``), a time budget's epochs (``time_budget``), its model and optimizer
(``optim``, ``finetune``), the fit with its recorder (``callbacks``) and its outcome
(``lifecycle``). The code is backend-neutral Keras 3: numpy arrays in, ``model.fit`` out.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer_core.data.augmentation import build_augmentation
from fer_core.data.batches import TrainingBatches, class_weights
from fer_core.fileio import read_json, write_json_atomic
from fer_core.labels import IMAGE_SIZE
from fer_core.models import build_model
from fer_core.training.callbacks import RunMonitor
from fer_core.training.config import TrainConfig
from fer_core.training.distill import distillation_targets
from fer_core.training.finetune import finetune_model, freeze_layers, frozen_layers, layers_to_freeze, load_parent, \
    unfreeze_all
from fer_core.runs.hardware import dtype_policy, mixed_precision_for_this_machine, training_devices
from fer_core.runs.history import read_history
from fer_core.training.inputs import prepare_data, to_model_inputs
from fer_core.training.lifecycle import report_best_model, run_managed
from fer_core.training.optim import compile_model, validation_epochs
from fer_core.runs.progress import ProgressFile
from fer_core.runs.registry import RunRegistry, reopen_run, start_run
from fer_core.training.time_budget import (EPOCH_OVERHEAD_SECONDS, EPOCH_OVERHEAD_WITHOUT_CHECKPOINT_SECONDS,
                                           EpochPlan, StepTiming, measure_step_timing, plan_epochs,
                                           planned_seconds, validated_epochs)
from fer_core.run_files import CONFIG_FILE


def run_record(config: TrainConfig) -> tuple[str, dict[str, Any]]:
    """The run's label and what its config.json records: the config, and for a fine-tuning run its
    parent model. A bad ``init_from`` (missing, not loadable in safe mode, other classes or input
    shape, a freeze it cannot honour) is refused here, before a run folder exists."""
    record = asdict(config)
    if config.init_from:
        parent, record["parent_model"] = load_parent(config.init_from)
        layers_to_freeze(finetune_model(parent, None), config.freeze)
    return ("finetune" if config.init_from else config.model), record


def train(config: TrainConfig, runs_dir: str | os.PathLike = "runs", verbose: int | str = "auto") -> Path:
    """Start a new training run; return its run directory."""
    label, record = run_record(config)
    run_id, run_dir, registry = start_run(runs_dir, "train", label, record)
    _execute(run_dir, run_id, config, registry, verbose)
    return run_dir


def resume(run_dir: str | os.PathLike, verbose: int | str = "auto") -> Path:
    """Continue a killed or cancelled training run from its last finished epoch."""
    saved, registry = reopen_run(run_dir, "train")
    _execute(Path(run_dir), saved["run_id"], TrainConfig.from_dict(saved), registry, verbose)
    return Path(run_dir)


def _execute(run_dir: Path, run_id: str, config: TrainConfig, registry: RunRegistry,
             verbose: int | str) -> dict[str, Any]:
    progress = ProgressFile(run_dir)

    def body() -> dict[str, Any]:
        nonlocal config
        log = logging.getLogger("fer_core")
        started = time.monotonic()
        keras.utils.set_random_seed(config.seed)
        progress.update(force=True, phase="loading_data", kind="train", run_id=run_id, error=None)
        data = prepare_data(config, progress)
        x_train, y_train = data.train_inputs()
        x_val, y_val = to_model_inputs(data.val)
        if config.teacher:
            progress.update(force=True, phase="teacher")
            y_train = distillation_targets(config.teacher, data.train.images, y_train, config.teacher_weight,
                                           tta=config.teacher_tta)
            log.info("distilling from %s (weight %.2f on the teachers' %s-TTA probabilities)",
                     ", ".join(config.teacher), config.teacher_weight, config.teacher_tta)
        steps = math.ceil(len(x_train) / config.batch_size)
        weights = class_weights(data.train.labels, config.class_weight)

        policy = mixed_precision_for_this_machine() if config.mixed_precision else None
        if config.mixed_precision:
            log.info("mixed precision: %s", f"{policy} compute, float32 weights" if policy else
                     "not used here (no GPU; bfloat16 pays off on a CPU only under TensorFlow with native "
                     "bfloat16 instructions); training in float32")
        state = read_json(run_dir / "state.json", default=None)
        checkpoint = run_dir / "checkpoint.keras"
        resuming = bool(state and checkpoint.exists())
        if config.time_budget and not resuming:
            progress.update(force=True, phase="timing")
            plan = _plan_to_budget(config, steps, x_train, y_train, weights, x_val, y_val, policy,
                                   elapsed=time.monotonic() - started)
            log.info("%s", plan.summary())
            config = _record_plan(run_dir, config, plan)
            keras.utils.set_random_seed(config.seed)  # the real model starts as it would without the probe
        if resuming:
            model = keras.saving.load_model(checkpoint, safe_mode=True)
            initial_epoch = int(state["epochs_done"])
            best = float(state["best_val_accuracy"])
            history = [row for row in read_history(run_dir) if row["epoch"] <= initial_epoch]
            log.info("resuming %s at epoch %d/%d (best val accuracy %.4f)", run_id, initial_epoch + 1,
                     config.epochs, best)
        else:
            model = _new_model(config, policy, steps)
            initial_epoch, best, history = 0, -1.0, []
            log.info("training %s: %d train / %d %s images, %d epochs", run_id, len(x_train), len(x_val),
                     data.val_name, config.epochs)

        monitor = RunMonitor(run_dir, progress, config.epochs, steps, history, best,
                             checkpoint_seconds=config.checkpoint_minutes * 60)
        callbacks: list[keras.callbacks.Callback] = [monitor]
        if config.lr_schedule == "plateau":
            callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5,
                                                               patience=3, min_lr=config.lr / 100))
        fit_args = (x_train, y_train, weights, x_val, y_val, callbacks, verbose)
        unfreeze_at = _unfreeze_epoch(config)
        if unfreeze_at is not None and initial_epoch < unfreeze_at:
            _fit(model, config, initial_epoch, unfreeze_at, *fit_args)
            initial_epoch = unfreeze_at
        if unfreeze_at is not None and initial_epoch == unfreeze_at and frozen_layers(model):
            count = unfreeze_all(model)
            compile_model(model, _phase_config(config, unfrozen=True), steps)
            log.info("unfroze %d layers after epoch %d: everything trains at lr %.2g", count, unfreeze_at,
                     config.lr * config.unfreeze_lr_factor)
        if initial_epoch < config.epochs:
            _fit(model, config, initial_epoch, config.epochs, *fit_args)

        progress.update(force=True, phase="evaluating")
        metrics = report_best_model(run_dir, data)
        # Wall clock of this process's part of the run (data loading and compilation included).
        metrics["wall_seconds"] = round(time.monotonic() - started, 1)
        _update_config(run_dir, wall_seconds=metrics["wall_seconds"])
        return metrics

    def on_devices() -> dict[str, Any]:
        with training_devices(config.devices, config.batch_size) as count:
            if config.devices != "one":
                logging.getLogger("fer_core").info("data parallel over %d devices", count)
                _update_config(run_dir, device_count=count)
            return body()

    return run_managed(run_dir, run_id, "train", registry, progress, on_devices)


def _new_model(config: TrainConfig, policy: str | None, steps_per_epoch: int) -> keras.Model:
    """The run's model, built under the mixed-precision ``policy`` (None: float32) and compiled: a
    new network, or with ``init_from`` the parent's (float32, as it was saved) with the run's
    augmentation in front and the layers ``freeze`` names frozen."""
    if config.init_from:
        parent, _ = load_parent(config.init_from)
        augmentation = build_augmentation(config.augment_strength, erasing=config.erasing, seed=config.seed,
                                          shift_pixels=config.crop_padding, flip=config.flip, image_size=IMAGE_SIZE,
                                          photo=config.photo_style)
        model = finetune_model(parent, augmentation)
        freeze_layers(model, config.freeze)
        return compile_model(model, _phase_config(config, unfrozen=False), steps_per_epoch)
    with dtype_policy(policy):
        return compile_model(build_model(config.model, **config.model_kwargs()), config, steps_per_epoch)


def _unfreeze_epoch(config: TrainConfig) -> int | None:
    """The epoch after which frozen layers start to train, if it falls inside the run."""
    if config.init_from and config.freeze != "none" and 0 < config.unfreeze_after < config.epochs:
        return config.unfreeze_after
    return None


def _phase_config(config: TrainConfig, unfrozen: bool) -> TrainConfig:
    """The recipe of one phase of a run that unfreezes: the frozen phase's learning-rate schedule
    spans its own epochs; the unfrozen phase runs the rest at ``lr x unfreeze_lr_factor``."""
    k = _unfreeze_epoch(config)
    if k is None:
        return config
    if not unfrozen:
        return replace(config, epochs=k, warmup_epochs=min(config.warmup_epochs, k))
    return replace(config, epochs=config.epochs - k, lr=config.lr * config.unfreeze_lr_factor, warmup_epochs=0.0)


def _fit(model: keras.Model, config: TrainConfig, start: int, end: int, x_train: np.ndarray, y_train: np.ndarray,
         weights: np.ndarray | None, x_val: np.ndarray, y_val: np.ndarray, callbacks: list, verbose: int | str) -> None:
    model.fit(**_fit_input(config, x_train, y_train, weights, start), epochs=end, initial_epoch=start,
              validation_data=(x_val, y_val), validation_freq=validation_epochs(config), callbacks=callbacks,
              verbose=_fit_verbosity(verbose))


def _fit_input(config: TrainConfig, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
               initial_epoch: int = 0) -> dict[str, Any]:
    """``model.fit`` arguments for the training images: batches prepared in numpy when the recipe
    mixes or weights them (labels change with the images), else the arrays themselves (every other
    augmentation runs inside the model's compiled step)."""
    if config.mixup or config.cutmix or weights is not None:
        batches = TrainingBatches(x, y, config.batch_size, config.seed, config.mixup, config.cutmix, weights,
                                  start_epoch=initial_epoch)
        return {"x": batches, "shuffle": False}
    return {"x": x, "y": y, "batch_size": config.batch_size, "shuffle": True}


def _plan_to_budget(config: TrainConfig, steps: int, x_train: np.ndarray, y_train: np.ndarray,
                    weights: np.ndarray | None, x_val: np.ndarray, y_val: np.ndarray, policy: str | None,
                    elapsed: float) -> EpochPlan:
    """Time a throwaway copy of the run's model on this machine and choose the epochs that fit."""
    probe_started = time.monotonic()
    timing = _probe(config, steps, x_train, y_train, weights, x_val, y_val, policy)
    elapsed += time.monotonic() - probe_started
    return plan_epochs(config.time_budget * 60, elapsed, config.epochs, steps, config.validate_last, timing,
                       _epoch_overhead(config))


def _probe(config: TrainConfig, steps: int, x_train: np.ndarray, y_train: np.ndarray, weights: np.ndarray | None,
           x_val: np.ndarray, y_val: np.ndarray, policy: str | None) -> StepTiming:
    """The run's step and val-pass timing, from a throwaway copy of its model fed as the run feeds it."""

    def fit_input(images: int) -> dict[str, Any]:
        return _fit_input(config, x_train[:images], y_train[:images], weights)

    return measure_step_timing(lambda: _new_model(config, policy, steps), fit_input, x_val, y_val, config.batch_size)


def _epoch_overhead(config: TrainConfig) -> float:
    return EPOCH_OVERHEAD_WITHOUT_CHECKPOINT_SECONDS if config.checkpoint_minutes else EPOCH_OVERHEAD_SECONDS


def estimate(config: TrainConfig) -> EpochPlan:
    """How long ``config`` would take on this machine, before launching it: the run's own probe
    (a throwaway copy of its model trained ``PROBE_STEPS`` batches, a timed val pass) turned into
    minutes for its epochs, or, with a time budget, the epochs that fit it (``budget_seconds`` 0:
    no budget). The Train & Tune page shows it before Launch.

    Not counted: loading the dataset the first time, a teacher's soft labels when they are not
    cached yet (``distill``), and time lost to other jobs sharing the machine."""
    keras.utils.set_random_seed(config.seed)
    data = prepare_data(config)
    x_train, y_train = data.train_inputs()
    x_val, y_val = to_model_inputs(data.val)
    steps = math.ceil(len(x_train) / config.batch_size)
    weights = class_weights(data.train.labels, config.class_weight)
    policy = mixed_precision_for_this_machine() if config.mixed_precision else None
    if config.time_budget:
        return _plan_to_budget(config, steps, x_train, y_train, weights, x_val, y_val, policy, elapsed=0.0)
    timing = _probe(config, steps, x_train, y_train, weights, x_val, y_val, policy)
    validated = len(validated_epochs(config.epochs, config.validate_last))
    seconds = planned_seconds(config.epochs, steps, validated, timing, _epoch_overhead(config))
    return EpochPlan(config.epochs, 0.0, 0.0, seconds, timing, fits=True)


def _record_plan(run_dir: Path, config: TrainConfig, plan: EpochPlan) -> TrainConfig:
    """The config with the planned epochs, also written to config.json (with the plan) so the
    Results page, a resume and a reader see the epochs the run really trains."""
    _update_config(run_dir, epochs=plan.epochs, epochs_cap=config.epochs, time_budget_plan=plan.as_dict())
    return replace(config, epochs=plan.epochs)


def _update_config(run_dir: Path, **values: Any) -> None:
    """Add ``values`` to the run's config.json (the run's record), atomically."""
    saved = read_json(run_dir / CONFIG_FILE, default={}) or {}
    write_json_atomic(run_dir / CONFIG_FILE, {**saved, **values})


def _fit_verbosity(verbose: int | str) -> int | str:
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose
