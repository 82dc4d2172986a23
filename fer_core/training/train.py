"""One readable training entry point: ``train(config, runs_dir)`` and ``resume(run_dir)``.

A run directory holds everything about one run:

* ``config.json``: the ``TrainConfig`` it ran with;
* ``history.csv``: one row per finished epoch (rewritten atomically);
* ``progress.json``: phase, epoch, step, metrics so far, ETA (rewritten atomically);
* ``model.keras``: the best model so far by val accuracy, without optimizer state;
* ``checkpoint.keras`` + ``state.json``: the last finished epoch, with optimizer state,
  from which ``resume`` continues a killed run losing at most the epoch in flight;
* ``train.log``; and at the end ``metrics.json``, ``misclassified.csv``, ``samples.png`` on val.

The code is backend-neutral Keras 3: numpy arrays in, ``model.fit`` out.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.data.batches import TrainingBatches, class_weights
from fer_core.data.loaders import FERDataset, LoadOptions, Split, load_dataset, stratified_fraction
from fer_core.inference.evaluation import predict_probabilities, write_report
from fer_core.fileio import atomic_path, read_json, write_json_atomic, write_text_atomic
from fer_core.data.augmentation import build_augmentation
from fer_core.training.finetune import (check_freeze, finetune_model, freeze_layers, frozen_layers, layers_to_freeze,
                                       load_parent, unfreeze_all)
from fer_core.training.hardware import dtype_policy, mixed_precision_for_this_machine
from fer_core.inference.loading import load_model
from fer_core.models import build_model
from fer_core.inference.saving import save_inference_model
from fer_core.training.history import history_csv, read_history
from fer_core.training.progress import ProgressFile
from fer_core.training.runs import RunRegistry, reopen_run, start_run
from fer_core.training.time_budget import (EPOCH_OVERHEAD_SECONDS, EPOCH_OVERHEAD_WITHOUT_CHECKPOINT_SECONDS,
                                           EpochPlan, measure_step_timing, plan_epochs)

LR_SCHEDULES = ("constant", "cosine", "onecycle", "plateau")
OPTIMIZERS = ("adam", "adamw", "sgd")
CLASS_WEIGHTS = ("none", "balanced", "sqrt")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as the run's ``config.json``."""

    data: str
    model: str = "reference"
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # constant | cosine | onecycle (warm-up, then cosine) | plateau
    warmup_epochs: float = 0.0  # linear warm-up from lr/25 (cosine; onecycle defaults to 30% of the run)
    optimizer: str = "adam"  # adam | adamw | sgd (Nesterov momentum)
    weight_decay: float = 0.0
    momentum: float = 0.9
    # Architecture sizes; None = the architecture's own default (see fer_core/models/).
    filters: list[int] | None = None
    dense_units: int | None = None
    dropout: float | None = None
    model_args: dict[str, Any] = field(default_factory=dict)  # any other builder argument
    augment_strength: float = 0.5
    erasing: float = 0.0  # probability of random erasing (a patch blanked) per image
    crop_padding: int = 0  # random shift by up to N pixels, edges repeated (a crop of the padded face), in-model
    # Train on a random crop_size x crop_size window of each face (the centre one at inference), a layer
    # inside the model: (crop_size / 48)^2 of the compute per image; 0 = the whole 48x48 face.
    crop_size: int = 0
    flip: bool = False  # random horizontal flip, in-model (also on whenever augment_strength > 0)
    mixup: float = 0.0  # Beta(alpha, alpha) for mixup; 0 = off
    cutmix: float = 0.0  # Beta(alpha, alpha) for cutmix; 0 = off (with mixup too, half the batches each)
    label_smoothing: float = 0.0
    # Knowledge distillation: models (bundled names, run folders or .keras files) whose mean flip-TTA
    # probabilities on each training face are mixed into its one-hot label with weight teacher_weight.
    teacher: list[str] = field(default_factory=list)
    teacher_weight: float = 0.7
    # Fine-tuning (fer_core.training.finetune): start from this model's weights (a bundled name such as
    # default, a run folder or a .keras file) instead of random ones; the architecture fields are then
    # the parent's. freeze: none | body (all but the head) | N (the first N stages); unfreeze_after K:
    # everything trains from epoch K + 1 at lr x unfreeze_lr_factor (0 = stay frozen).
    init_from: str | None = None
    freeze: str = "none"
    unfreeze_after: int = 0
    unfreeze_lr_factor: float = 0.1
    # Whole photos rather than face crops: crop each image's largest face as Predict does.
    detect_faces: bool = False
    class_weight: str = "none"  # none | balanced | sqrt (of balanced): lifts disgust's weight
    # 16-bit compute, float32 weights: float16 on a GPU, bfloat16 on a CPU with native bfloat16
    # instructions (fer_core.training.hardware); off where neither is present.
    mixed_precision: bool = False
    data_fraction: float = 1.0
    seed: int = 1234
    # Validate only in the last N epochs (0 = every epoch): a pass over the 3,589 val images costs a few
    # seconds on a 2-core CPU; the best model is picked among the validated epochs.
    validate_last: int = 0
    # Minutes of wall clock for the run (0 = off): a few timed steps choose how many epochs fit,
    # at most ``epochs`` (fer_core.training.time_budget); the choice is written into config.json.
    time_budget: float = 0.0
    # Save the resume checkpoint (weights and optimizer state) at most every N minutes, and after the last
    # epoch (0 = after every epoch): on a GPU an epoch takes about a second, the save longer.
    checkpoint_minutes: float = 0.0
    train_split: str = "train"
    val_split: str = "val"
    strict: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if not self.lr > 0:
            raise ValueError("learning rate must be positive")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr schedule must be one of {', '.join(LR_SCHEDULES)}")
        if not 0 < self.data_fraction <= 1:
            raise ValueError("data fraction must be in (0, 1]")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"class weight must be one of {', '.join(CLASS_WEIGHTS)}")
        if min(self.mixup, self.cutmix, self.weight_decay, self.warmup_epochs, self.validate_last,
               self.time_budget, self.checkpoint_minutes) < 0:
            raise ValueError("mixup, cutmix, weight decay, warm-up, validate-last, time budget and checkpoint "
                             "interval must not be negative")
        if isinstance(self.teacher, str):
            self.teacher = [self.teacher]
        if not 0 <= self.teacher_weight <= 1:
            raise ValueError("teacher weight must be in [0, 1]")
        self.freeze = check_freeze(str(self.freeze))
        if self.freeze != "none" and not self.init_from:
            raise ValueError("freezing needs a model to start from (init_from)")
        if self.unfreeze_after < 0 or not 0 < self.unfreeze_lr_factor <= 1:
            raise ValueError("unfreeze-after must not be negative and the unfreeze lr factor must be in (0, 1]")
        if self.unfreeze_after and self.freeze == "none":
            raise ValueError("unfreeze-after needs something frozen (freeze body or a number of stages)")
        if not 0 <= self.crop_size <= IMAGE_SIZE:
            raise ValueError(f"crop size must be 0 (the whole face) or at most {IMAGE_SIZE}")
        if self.validate_last and self.lr_schedule == "plateau":
            raise ValueError("the plateau schedule watches val accuracy every epoch: leave validate-last at 0")
        if self.filters is not None:
            self.filters = [int(f) for f in self.filters]
            if not self.filters:
                raise ValueError("filters must list at least one width")

    def model_kwargs(self) -> dict[str, Any]:
        sizes = {"filters": self.filters, "dense_units": self.dense_units, "dropout": self.dropout}
        return {
            **{k: v for k, v in sizes.items() if v is not None},
            "augment_strength": self.augment_strength,
            **({"erasing": self.erasing} if self.erasing else {}),
            **({"crop_size": self.crop_size} if self.crop_size else {}),
            **({"crop_padding": self.crop_padding} if self.crop_padding else {}),
            **({"flip": True} if self.flip else {}),
            "seed": self.seed,
            **self.model_args,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class PreparedData:
    train: Split
    val: Split
    val_name: str


def prepare_data(config: TrainConfig, progress: ProgressFile | None = None) -> PreparedData:
    """Load the dataset (through the cache) and pick the train and val splits."""

    def report(done: int, total: int) -> None:
        if progress:
            progress.update(phase="loading_data", step=done, steps=total)

    options = LoadOptions(strict=config.strict, seed=config.seed, detect_faces=config.detect_faces)
    dataset: FERDataset = load_dataset(config.data, options, progress=report)
    if dataset.report.skipped or dataset.report.no_face:
        logging.getLogger("fer_core").warning("data: %s", dataset.report.summary())
    train = stratified_fraction(dataset.split(config.train_split), config.data_fraction, config.seed)
    return PreparedData(train, dataset.split(config.val_split), config.val_split)


def to_model_inputs(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images -> float32 (N, 48, 48, 1); labels -> one-hot float32."""
    x = split.images.astype("float32")[..., None]
    y = np.eye(len(CLASSES), dtype="float32")[split.labels]
    return x, y


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    """A float (constant, plateau) or a schedule over all steps (cosine, onecycle)."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.lr_schedule in ("constant", "plateau"):
        return config.lr
    warmup_epochs = config.warmup_epochs or (0.3 * config.epochs if config.lr_schedule == "onecycle" else 0.0)
    warmup = min(total - 1, round(warmup_epochs * steps_per_epoch))
    alpha = 0.01 if config.lr_schedule == "cosine" else 1e-3
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=total, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(config.lr / 25, decay_steps=total - warmup, alpha=alpha * 25,
                                                  warmup_target=config.lr, warmup_steps=warmup)


def validation_epochs(config: TrainConfig) -> int | list[int]:
    """Keras's ``validation_freq``: every epoch, or the 1-based numbers of the last ``validate_last``."""
    if not config.validate_last:
        return 1
    return list(range(max(1, config.epochs - config.validate_last + 1), config.epochs + 1))


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr = learning_rate(config, steps_per_epoch)
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum, nesterov=True, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=config.weight_decay or 1e-4)
    return keras.optimizers.Adam(learning_rate=lr, weight_decay=decay)


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> keras.Model:
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def save_checkpoint(model: keras.Model, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)


class RunMonitor(keras.callbacks.Callback):
    """Writes progress.json and history.csv as training goes; with ``checkpoint``, also the best
    model and the resume checkpoint (tuning trials leave those to Keras-Tuner), the latter at most
    every ``checkpoint_seconds`` (0: every epoch) and always after the last epoch.

    ``async_safe``: its per-step hook only notes progress, so Keras may call it from a helper
    thread and need not wait for each step to finish on the device (on a GPU, waiting for every
    step would leave the device idle while Python prepares the next one)."""

    async_safe = True

    def __init__(self, run_dir: Path, progress: ProgressFile, epochs: int, steps_per_epoch: int,
                 history: list[dict[str, Any]], best_val_accuracy: float, extra: dict[str, Any] | None = None,
                 checkpoint: bool = True, checkpoint_seconds: float = 0.0):
        super().__init__()
        self.run_dir = run_dir
        self.progress = progress
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.history = history
        self.best_val_accuracy = best_val_accuracy
        self.extra = extra or {}
        self.checkpoint = checkpoint
        self.checkpoint_seconds = checkpoint_seconds
        self._last_checkpoint = time.monotonic()
        self._progress_lock = threading.Lock()
        self._epoch_started = time.time()
        self._epoch_times: list[float] = []
        self._epoch = 0

    def __deepcopy__(self, memo: dict) -> "RunMonitor":
        # Keras-Tuner deep-copies callbacks for each trial; a lock cannot be copied, so each copy gets its own.
        clone = copy.copy(self)
        for key, value in self.__dict__.items():
            if key != "_progress_lock":
                setattr(clone, key, copy.deepcopy(value, memo))
        clone._progress_lock = threading.Lock()
        return clone

    def _eta(self, step: int) -> float | None:
        elapsed = time.time() - self._epoch_started
        if self._epoch_times:
            per_epoch = float(np.mean(self._epoch_times))
        elif step > 0:
            per_epoch = elapsed / step * self.steps_per_epoch
        else:
            return None
        remaining_epochs = self.epochs - self._epoch - 1
        return max(0.0, per_epoch - elapsed) + remaining_epochs * per_epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_started = time.time()
        self.progress.update(force=True, phase="training", epoch=epoch + 1, epochs=self.epochs, step=0,
                             steps=self.steps_per_epoch, **self.extra)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = batch + 1
        with self._progress_lock:
            batch_metrics = {k: float(v) for k, v in (logs or {}).items()}
            self.progress.update(step=step, batch_metrics=batch_metrics, eta_seconds=self._eta(step))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self._epoch_times.append(time.time() - self._epoch_started)
        row = {"epoch": epoch + 1, **logs, "lr": _current_lr(self.model), "seconds": self._epoch_times[-1]}
        self.history.append(row)
        write_text_atomic(self.run_dir / "history.csv", history_csv(self.history))
        val_accuracy = logs.get("val_accuracy", float("nan"))
        improved = val_accuracy > self.best_val_accuracy
        if improved:
            self.best_val_accuracy = val_accuracy
            if self.checkpoint:
                save_inference_model(self.model, self.run_dir / "model.keras")
        due = time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds or epoch + 1 >= self.epochs
        if self.checkpoint and due:
            save_checkpoint(self.model, self.run_dir / "checkpoint.keras")
            write_json_atomic(self.run_dir / "state.json",
                              {"epochs_done": epoch + 1, "best_val_accuracy": self.best_val_accuracy})
            self._last_checkpoint = time.monotonic()
        logging.getLogger("fer_core").info(
            "epoch %d/%d: %s%s", epoch + 1, self.epochs,
            ", ".join(f"{k}={v:.4f}" for k, v in logs.items()), " (best so far)" if improved else "")
        self.progress.update(force=True, epoch=epoch + 1, step=self.steps_per_epoch, metrics=logs,
                             best_val_accuracy=self.best_val_accuracy, history=self.history,
                             eta_seconds=self._eta(self.steps_per_epoch) if epoch + 1 < self.epochs else 0.0)


def _current_lr(model: keras.Model) -> float:
    try:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    except Exception:  # an optimizer without a readable rate is no reason to stop training
        return float("nan")


def setup_run_logging(run_dir: Path, log_name: str) -> logging.Handler:
    logger = logging.getLogger("fer_core")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(run_dir / log_name)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in logger.handlers):
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(stream)
    return handler


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so a cancelled run is recorded as cancelled.

    A BaseException, like KeyboardInterrupt: broad ``except Exception`` blocks on the stack
    when the signal lands (logging's emit is one) must not swallow it and train on.
    """


def _install_sigterm_handler() -> None:
    def handler(signum, frame):  # noqa: ARG001
        raise _Terminated()

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:
        pass  # not the main thread (e.g. inside Streamlit); the dashboard runs us as a subprocess


def run_managed(run_dir: Path, run_id: str, kind: str, registry: RunRegistry, progress: ProgressFile,
                body) -> dict[str, Any]:
    """Run ``body()`` and record its outcome in the registry, progress.json and the log."""
    handler = setup_run_logging(run_dir, f"{kind}.log")
    log = logging.getLogger("fer_core")
    _install_sigterm_handler()
    registry.mark_running(run_id)
    try:
        metrics = body()
    except (KeyboardInterrupt, _Terminated):
        log.warning("run cancelled; resume with: python -m fer_core %s --resume %s", kind, run_dir)
        registry.finish(run_id, "cancelled")
        progress.update(force=True, phase="cancelled")
        raise SystemExit(130) from None
    except Exception as exc:
        log.error("run failed: %s", exc)
        handler.stream.write(traceback.format_exc())  # the traceback goes to the run's log file only
        handler.flush()
        registry.finish(run_id, "failed", error=str(exc))
        progress.update(force=True, phase="failed", error=str(exc))
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
    registry.finish(run_id, "done", metrics=metrics)
    progress.update(force=True, phase="done", eta_seconds=0.0, final_metrics=metrics)
    return metrics


def report_best_model(run_dir: Path, data: PreparedData) -> dict[str, Any]:
    """Evaluate the run's saved ``model.keras`` on val, write the report files, return headline metrics."""
    model = load_model(run_dir / "model.keras")
    metrics = write_report(run_dir, data.val_name, data.val, predict_probabilities(model, data.val.images))
    logging.getLogger("fer_core").info("best model on %s: accuracy %.4f, macro-F1 %.4f", data.val_name,
                                       metrics["accuracy"], metrics["macro_f1"])
    split = metrics["split"]
    return {f"{split}_accuracy": metrics["accuracy"], f"{split}_macro_f1": metrics["macro_f1"]}


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
        x_train, y_train = to_model_inputs(data.train)
        x_val, y_val = to_model_inputs(data.val)
        if config.teacher:
            progress.update(force=True, phase="teacher")
            y_train = distillation_targets(config.teacher, data.train.images, y_train, config.teacher_weight)
            log.info("distilling from %s (weight %.2f on the teacher's probabilities)", ", ".join(config.teacher),
                     config.teacher_weight)
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

    return run_managed(run_dir, run_id, "train", registry, progress, body)


def distillation_targets(teachers: list[str], images: np.ndarray, y: np.ndarray, weight: float) -> np.ndarray:
    """Soft labels for knowledge distillation: ``weight`` x the teachers' mean probabilities (each
    with flip TTA) on the uint8 faces ``images`` + (1 - ``weight``) x the one-hot labels ``y``.

    The teachers see each face once, unaugmented, before training (offline distillation): cheap
    on any backend, and the student's own augmentation stays inside its compiled step."""
    probabilities = np.zeros_like(y)
    for teacher in teachers:
        model = load_model(teacher, tta="flip")
        if tuple(model.input_shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE, 1) or model.output_shape[-1] != y.shape[1]:
            raise ValueError(f"teacher {teacher} maps {model.input_shape[1:]} images to {model.output_shape[-1]} "
                             f"classes; this training needs ({IMAGE_SIZE}, {IMAGE_SIZE}, 1) to {y.shape[1]}")
        probabilities += predict_probabilities(model, images) / len(teachers)
    return (weight * probabilities + (1 - weight) * y).astype("float32")


def _new_model(config: TrainConfig, policy: str | None, steps_per_epoch: int) -> keras.Model:
    """The run's model, built under the mixed-precision ``policy`` (None: float32) and compiled: a
    new network, or with ``init_from`` the parent's (float32, as it was saved) with the run's
    augmentation in front and the layers ``freeze`` names frozen."""
    if config.init_from:
        parent, _ = load_parent(config.init_from)
        augmentation = build_augmentation(config.augment_strength, erasing=config.erasing, seed=config.seed,
                                          shift_pixels=config.crop_padding, flip=config.flip, image_size=IMAGE_SIZE)
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

    def fit_input(images: int) -> dict[str, Any]:
        return _fit_input(config, x_train[:images], y_train[:images], weights)

    timing = measure_step_timing(lambda: _new_model(config, policy, steps), fit_input, x_val, y_val,
                                 config.batch_size)
    elapsed += time.monotonic() - probe_started
    overhead = EPOCH_OVERHEAD_WITHOUT_CHECKPOINT_SECONDS if config.checkpoint_minutes else EPOCH_OVERHEAD_SECONDS
    return plan_epochs(config.time_budget * 60, elapsed, config.epochs, steps, config.validate_last, timing, overhead)


def _record_plan(run_dir: Path, config: TrainConfig, plan: EpochPlan) -> TrainConfig:
    """The config with the planned epochs, also written to config.json (with the plan) so the
    Results page, a resume and a reader see the epochs the run really trains."""
    _update_config(run_dir, epochs=plan.epochs, epochs_cap=config.epochs, time_budget_plan=plan.as_dict())
    return replace(config, epochs=plan.epochs)


def _update_config(run_dir: Path, **values: Any) -> None:
    """Add ``values`` to the run's config.json (the run's record), atomically."""
    saved = read_json(run_dir / "config.json", default={}) or {}
    write_json_atomic(run_dir / "config.json", {**saved, **values})


def _fit_verbosity(verbose: int | str) -> int | str:
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose
