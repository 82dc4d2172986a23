"""Training to a wall-clock budget: time a few steps of a throwaway copy of the model on this
machine, then choose how many epochs fit, before the real run's schedule is built.

Why: the same recipe takes 85 s an epoch on one hour of a 2-core machine and 140 s on another,
and a laptop differs again; a preset that promises "the best model in 30 minutes" must count
epochs from this machine's speed. Planning once, before training, keeps the run an ordinary
fixed-epoch run (its learning-rate schedule, checkpoints and resume are unchanged); the chosen
epoch count and the timings it came from are written into the run's ``config.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

# Per-epoch time = steps x measured step time x this margin (steps vary by some percent within a run).
STEP_TIME_MARGIN = 1.05
# Per epoch besides the steps: callbacks and progress files, and the resume checkpoint where it is
# saved after every epoch (about a second for the quick preset on a 2-core CPU); without it, a few
# file writes.
EPOCH_OVERHEAD_SECONDS = 1.0
EPOCH_OVERHEAD_WITHOUT_CHECKPOINT_SECONDS = 0.3
# After the last epoch: reload the best model, predict val, write the report files.
REPORT_SECONDS = 15.0
PROBE_STEPS = 32
PROBE_WARMUP_STEPS = 4


@dataclass(frozen=True)
class StepTiming:
    """What the probe measured: the first step (tracing, input pipeline start: paid once per run),
    a steady training step, and one pass over the val split."""

    first_step_seconds: float
    step_seconds: float
    val_pass_seconds: float


@dataclass(frozen=True)
class EpochPlan:
    epochs: int
    budget_seconds: float
    elapsed_seconds: float  # of the budget, spent before training (data loading, the probe)
    planned_seconds: float  # the whole run by the plan, elapsed included
    timing: StepTiming
    fits: bool  # False: not even one epoch fits; the run trains one anyway

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "timing": asdict(self.timing)}

    def summary(self) -> str:
        return (f"time budget {self.budget_seconds / 60:.1f} min: {self.timing.step_seconds * 1000:.0f} ms a step, "
                f"val pass {self.timing.val_pass_seconds:.1f} s, {self.elapsed_seconds:.0f} s spent before "
                f"training -> {self.epochs} epochs, planned {self.planned_seconds / 60:.1f} min"
                + ("" if self.fits else " (over the budget: not even one epoch fits)"))


def planned_seconds(epochs: int, steps_per_epoch: int, validated_epochs: int, timing: StepTiming,
                    epoch_overhead: float = EPOCH_OVERHEAD_SECONDS) -> float:
    """Time the training part of a run of ``epochs`` takes by the measured timing, report included."""
    per_epoch = steps_per_epoch * timing.step_seconds * STEP_TIME_MARGIN + epoch_overhead
    return (timing.first_step_seconds + epochs * per_epoch + validated_epochs * timing.val_pass_seconds
            + REPORT_SECONDS)


def validated_epochs(epochs: int, validate_last: int) -> list[int]:
    """The 1-based numbers of the epochs that run a val pass: every one, or the last
    ``validate_last`` (the one rule for Keras's ``validation_freq`` and for the time plans)."""
    return list(range(max(1, epochs - validate_last + 1) if validate_last else 1, epochs + 1))


def plan_epochs(budget_seconds: float, elapsed_seconds: float, max_epochs: int, steps_per_epoch: int,
                validate_last: int, timing: StepTiming, epoch_overhead: float = EPOCH_OVERHEAD_SECONDS) -> EpochPlan:
    """The most epochs (1 to ``max_epochs``) whose planned time fits what is left of the budget."""

    def total(epochs: int) -> float:
        validated = len(validated_epochs(epochs, validate_last))
        return elapsed_seconds + planned_seconds(epochs, steps_per_epoch, validated, timing, epoch_overhead)

    epochs = 1
    while epochs < max_epochs and total(epochs + 1) <= budget_seconds:
        epochs += 1
    return EpochPlan(epochs, budget_seconds, elapsed_seconds, total(epochs), timing,
                     fits=total(epochs) <= budget_seconds)


class StepClock(keras.callbacks.Callback):
    """When each training step of a ``fit`` call ended (``ends[0]``: when training began)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.ends = [time.perf_counter()]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.ends.append(time.perf_counter())


def measure_step_timing(build_compiled_model: Callable[[], keras.Model], fit_input: Callable[[int], dict[str, Any]],
                        x_val: np.ndarray, y_val: np.ndarray, batch_size: int,
                        steps: int = PROBE_STEPS) -> StepTiming:
    """Train a throwaway model for ``steps`` batches and time them; time an evaluation on part of val.

    ``fit_input(images)`` gives ``model.fit`` keyword arguments feeding the first ``images`` training
    images the way the real run feeds them (augmented batches or arrays)."""
    model = build_compiled_model()
    clock = StepClock()
    model.fit(**fit_input(steps * batch_size), epochs=1, verbose=0, callbacks=[clock])
    durations = np.diff(clock.ends)
    steady = durations[PROBE_WARMUP_STEPS:] if len(durations) > PROBE_WARMUP_STEPS + 2 else durations[1:]
    # The median: a few seconds of probe can catch a passing stall (once here 168 ms a step, where
    # the run's epochs then averaged 140 ms); the margin covers the run's own slow steps.
    step_seconds = float(np.median(steady)) if len(steady) else float(durations[0])
    if keras.backend.backend() == "jax":
        # JAX dispatches steps asynchronously, and a per-step hook such as StepClock makes Keras wait
        # for each one, which is slower than a run goes (on an H200: 4 ms a step measured so, 2.3 ms
        # in the run). So time a second fit of twice the steps as a whole, with no per-step hook.
        start = time.perf_counter()
        model.fit(**fit_input(2 * steps * batch_size), epochs=1, verbose=0)
        step_seconds = min(step_seconds, (time.perf_counter() - start) / (2 * steps))
    # Val: the first evaluate traces its function; time a second one on a slice and scale it up.
    sample = min(len(x_val), 8 * batch_size)
    model.evaluate(x_val[:batch_size], y_val[:batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.evaluate(x_val[:sample], y_val[:sample], batch_size=batch_size, verbose=0)
    val_pass = (time.perf_counter() - start) * len(x_val) / max(1, sample)
    return StepTiming(first_step_seconds=float(durations[0]), step_seconds=step_seconds, val_pass_seconds=val_pass)
