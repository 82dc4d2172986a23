"""Print fer_core's headline timings on this machine.

    .venv/bin/python benchmarks/bench_core.py [--data PATH] [--train-images N]

Figures: cold and warm load of the dataset (cold = empty cache), training images/s of the
reference model (steady state, second epoch), and evaluation images/s (full val split,
plus the wall time of the whole evaluate-and-report step).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared/datasets/fer2013/fer2013-train-publictest.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--train-images", type=int, default=4096, help="images per timed training epoch")
    parser.add_argument("--model", default="default", help="model for the evaluation timing")
    args = parser.parse_args()

    import keras
    import numpy as np

    from fer_core.data.loaders import load_dataset
    from fer_core.evaluation.metrics import write_report
    from fer_core.runtime.model import predict_probabilities
    from fer_core.runtime.loading import load_model
    from fer_core.models import build_model
    from fer_core.training.config import TrainConfig
    from fer_core.training.optim import compile_model
    from fer_core.training.inputs import to_model_inputs

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        dataset = load_dataset(args.data, cache_dir=cache)
        cold = time.perf_counter() - start
        warm_times = []
        for _ in range(3):
            start = time.perf_counter()
            load_dataset(args.data, cache_dir=cache)
            warm_times.append(time.perf_counter() - start)
    sizes = ", ".join(f"{name} {len(split)}" for name, split in dataset.splits.items())
    print(f"load {Path(args.data).name} ({sizes}): cold {cold:.2f} s, warm {min(warm_times):.2f} s "
          f"(best of 3; median {np.median(warm_times):.2f} s)")

    train = dataset.split("train")
    n = min(args.train_images, len(train))
    x, y = to_model_inputs(train.subset(np.arange(n)))
    config = TrainConfig(data=args.data, augment_strength=0.5)
    model = compile_model(build_model("reference", **config.model_kwargs()), config, steps_per_epoch=n // 64)

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    timer = Timer()
    model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[timer])  # epoch 1 includes tracing
    rate = n / timer.seconds
    print(f"training, reference CNN, batch 64, augmentation 0.5: {rate:.0f} images/s "
          f"(a full 28,709-image epoch ~ {28709 / rate:.0f} s)")

    val = dataset.split("val")
    model = load_model(args.model)
    predict_probabilities(model, val.images[:256])  # warm-up trace
    start = time.perf_counter()
    probabilities = predict_probabilities(model, val.images)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        write_report(out, "val", val, probabilities)
        report = time.perf_counter() - start
    print(f"evaluation, {args.model} model on val ({len(val)} images): {len(val) / seconds:.0f} images/s "
          f"({seconds:.2f} s predict + {report:.2f} s metrics and report files)")


if __name__ == "__main__":
    main()
