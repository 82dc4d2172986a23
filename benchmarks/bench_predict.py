"""The model part of answering a face: a 48x48 crop to 7 probabilities, per call, on this machine.

Usage: python benchmarks/bench_predict.py [--model default] [--calls 50]

Times one face through the model, with and without flip TTA, two ways: Keras's ``model.predict``
(which builds a data pipeline and callbacks on every call: how the Predict page called the model
before) and ``predict_on_batch`` (the compiled predict step reused: how fer_core calls it now,
``fer_core.evaluation.metrics.predict_probabilities``). Prints p50 and p95 in milliseconds after
a few warm-up calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def timed(call, calls: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    from fer_core.runtime.loading import load_model

    face = np.random.default_rng(0).uniform(0, 255, (1, 48, 48, 1)).astype("float32")
    print(f"model {args.model}: one face, {args.calls} calls; milliseconds")
    print("TTA    model.predict p50 / p95    predict_on_batch p50 / p95")
    for tta in ("none", "flip"):
        model = load_model(args.model, tta=tta)
        slow = timed(lambda: model.predict(face, verbose=0), args.calls)
        fast = timed(lambda: model.predict_on_batch(face), args.calls)
        print(f"{tta:5s}  {slow[0]:8.1f} / {slow[1]:6.1f}         {fast[0]:8.1f} / {fast[1]:6.1f}")


if __name__ == "__main__":
    main()
