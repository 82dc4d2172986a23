"""Training throughput (images/s) of model configurations on this machine, to choose a CPU preset.

Usage: python benchmarks/bench_train_speed.py [--images 3072] [--batch-size 64] \
           [--config 'reference' --config 'vgg:filters=32,64,128,256;convs_per_stage=1' ...]

Each config is ``ARCH[:key=value;key=value]`` (filters as a comma list). One warm-up epoch
(compilation), then ``--repeats`` timed epochs on synthetic 48x48 images; the best and worst are
printed, because on this shared 2-core machine one epoch's rate can swing by a third.
Run it with nothing else busy. ``--onednn 0`` turns TensorFlow's oneDNN kernels off, as
TensorFlow's own default does on AMD CPUs (``fer_core`` turns them on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    args = parser.parse_args()
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn  # before fer_core (and so TensorFlow) is imported

    import keras
    import numpy as np

    from fer_core.models import build_model
    from fer_core.training import TrainConfig, compile_model

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, args.images)]
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores, batch {args.batch_size}, "
          f"augment {args.augment}, TF_ENABLE_ONEDNN_OPTS={args.onednn}")
    for spec in args.config or ["reference"]:
        arch, kwargs = parse(spec)
        model = build_model(arch, augment_strength=args.augment, **kwargs)
        compile_model(model, TrainConfig(data="-", model=arch), steps_per_epoch=args.images // args.batch_size)
        model.fit(x[:args.batch_size * 4], y[:args.batch_size * 4], batch_size=args.batch_size, epochs=1, verbose=0)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
            rates.append(args.images / (time.perf_counter() - start))
        print(f"{spec:60s} {model.count_params():>10,d} params  best {max(rates):5.0f} worst {min(rates):5.0f} "
              f"images/s  {28709 / max(rates):5.0f} s per FER2013 epoch at best")


if __name__ == "__main__":
    main()
