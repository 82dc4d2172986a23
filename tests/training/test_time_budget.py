"""Planning epochs to a time budget: the arithmetic, and the probe on a real (tiny) model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_core.models import build_model
from fer_core.training.time_budget import StepTiming, measure_step_timing, plan_epochs, planned_seconds

TIMING = StepTiming(first_step_seconds=5.0, step_seconds=0.15, val_pass_seconds=3.0)


def test_plan_takes_the_most_epochs_that_fit():
    plan = plan_epochs(budget_seconds=29 * 60, elapsed_seconds=20, max_epochs=40, steps_per_epoch=449,
                       validate_last=3, timing=TIMING)
    spent = 20 + planned_seconds(plan.epochs, 449, 3, TIMING)
    assert plan.fits and plan.planned_seconds == pytest.approx(spent) and spent <= 29 * 60
    assert 20 + planned_seconds(plan.epochs + 1, 449, 3, TIMING) > 29 * 60  # one more would not fit
    # 449 steps x 0.15 s x 1.05 + 1 s = 71.7 s an epoch: 23 of them fit in 29 minutes, less 20 s, 5 s, 9 s, 15 s.
    assert plan.epochs == 23
    assert "23 epochs" in plan.summary() and plan.as_dict()["timing"]["step_seconds"] == 0.15


def test_plan_counts_every_val_pass_without_validate_last():
    every = plan_epochs(600, 0, 100, 100, 0, StepTiming(0.0, 0.1, 10.0))
    last = plan_epochs(600, 0, 100, 100, 1, StepTiming(0.0, 0.1, 10.0))
    assert every.epochs < last.epochs


def test_plan_stops_at_the_epoch_cap_and_trains_one_epoch_when_none_fits():
    assert plan_epochs(10_000, 0, 7, 10, 0, TIMING).epochs == 7
    tight = plan_epochs(30, 25, 40, 449, 3, TIMING)
    assert tight.epochs == 1 and not tight.fits and "over the budget" in tight.summary()


def test_probe_times_real_steps_and_a_val_pass():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (160, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, 160)]
    built = []

    def build():
        model = build_model("reference", filters=[4, 8, 8], dense_units=8, augment_strength=0.0)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        built.append(model)
        return model

    def fit_input(images):
        return {"x": x[:images], "y": y[:images], "batch_size": 16}

    timing = measure_step_timing(build, fit_input, x[:100], y[:100], batch_size=16, steps=8)
    # The throwaway model took the steps; under JAX also a second, whole-fit timing of twice as many.
    steps = 8 + (min(160, 2 * 8 * 16) // 16 if keras.backend.backend() == "jax" else 0)
    assert len(built) == 1 and built[0].optimizer.iterations.numpy() == steps
    assert timing.first_step_seconds > 0 and timing.step_seconds > 0 and timing.val_pass_seconds > 0
    assert keras.config.dtype_policy().name == "float32"
