"""Training throughput (images/s) of model configurations on this machine, to choose a CPU preset.

Usage: python benchmarks/bench_train_speed.py [--images 3072] [--batch-size 64] \
           [--config 'reference' --config 'vgg:filters=32,64,128,256;convs_per_stage=1' ...] \
           [--policy float32 --policy mixed_bfloat16]

Each config is ``ARCH[:key=value;key=value]`` (filters as a comma list), built under each Keras
dtype policy given (``mixed_bfloat16``: bfloat16 compute, float32 weights). One warm-up epoch
(compilation), then ``--repeats`` timed epochs on synthetic 48x48 images. Each ``fit`` call's
first step also pays several seconds of input-pipeline start (paid once per real run, not once
per epoch), so the rate is measured over the steps after it: best and worst epoch are printed.
Run it with nothing else busy. ``--onednn 0`` turns TensorFlow's oneDNN kernels off, as
TensorFlow's own default does on AMD CPUs (``fer_core`` turns them on).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse(spec: str) -> tuple[str, dict]:
    arch, _, rest = spec.partition(":")
    kwargs: dict = {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        kwargs[key] = [int(v) for v in value.split(",")] if "," in value else (
            float(value) if "." in value else int(value))
    return arch, kwargs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=3072)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augment", type=float, default=0.5)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--onednn", choices=["0", "1"], default="1", help="TF_ENABLE_ONEDNN_OPTS")
    parser.add_argument("--policy", action="append", default=[], help="Keras dtype policy (repeatable)")
    args = parser.parse_args()
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn  # before fer_core (and so TensorFlow) is imported

    import keras
    import numpy as np

    from fer_core.hardware import dtype_policy
    from fer_core.models import build_model
    from fer_core.time_budget import StepClock
    from fer_core.training import TrainConfig, compile_model

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, args.images)]
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores, batch {args.batch_size}, "
          f"augment {args.augment}, TF_ENABLE_ONEDNN_OPTS={args.onednn}")
    for spec in args.config or ["reference"]:
        for policy in args.policy or ["float32"]:
            arch, kwargs = parse(spec)
            with dtype_policy(policy):
                model = build_model(arch, augment_strength=args.augment, **kwargs)
            compile_model(model, TrainConfig(data="-", model=arch), steps_per_epoch=args.images // args.batch_size)
            model.fit(x[:args.batch_size * 4], y[:args.batch_size * 4], batch_size=args.batch_size, epochs=1,
                      verbose=0)
            rates = []
            for _ in range(args.repeats):
                clock = StepClock()
                model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=[clock])
                steady = np.diff(clock.ends)[1:]  # after the first step
                rates.append(args.batch_size * len(steady) / steady.sum())
            print(f"{spec:60s} {policy:15s} {model.count_params():>10,d} params  best {max(rates):5.0f} "
                  f"worst {min(rates):5.0f} images/s  {28709 / max(rates):5.0f} s per FER2013 epoch at best")


if __name__ == "__main__":
    main()
