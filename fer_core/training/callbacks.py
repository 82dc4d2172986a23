"""The callback that records a run as it trains: ``progress.json``, ``history.csv``, the best model
and the resume checkpoint (``RunMonitor``), shared by training runs and tuning trials."""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer_core.fileio import atomic_path, write_json_atomic, write_text_atomic
from fer_core.runtime.saving import save_inference_model
from fer_core.runs.history import history_csv
from fer_core.runs.progress import ProgressFile
from fer_core.run_files import MODEL_FILE


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
                save_inference_model(self.model, self.run_dir / MODEL_FILE)
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

