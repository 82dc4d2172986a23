"""The optimizer and the learning-rate schedule of a run, and compiling its model.

The recipe is the config, not code: Adam, AdamW or SGD with Nesterov momentum and weight decay;
constant, cosine (optional linear warm-up), one-cycle (warm-up from lr/25 for 30% of the run, then
cosine) or reduce-on-plateau (a callback, ``train``); label smoothing in the loss.
"""

from __future__ import annotations

from typing import Any

import keras

from fer_core.training.config import TrainConfig


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
    from fer_core.training.time_budget import validated_epochs

    return validated_epochs(config.epochs, config.validate_last) if config.validate_last else 1


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

