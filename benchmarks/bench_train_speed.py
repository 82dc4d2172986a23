"""Training throughput (images/s) on this machine: of model configurations, and of each augmentation.

Usage:
    python benchmarks/bench_train_speed.py [--images 3072] [--batch-size 64] \
        [--config 'reference' --config 'vgg:filters=32,64,128,256;convs_per_stage=1' ...] \
        [--policy float32 --policy mixed_bfloat16] [--augmentation none --augmentation full ...]

Each config is ``ARCH[:key=value;key=value]`` (filters as a comma list), built under each Keras
dtype policy given (``mixed_bfloat16``: bfloat16 compute, float32 weights; ``auto``: what
``--mixed-precision`` picks on this machine). Each ``--augmentation`` names one setting of
``AUGMENTATIONS`` below (``all`` = every one): no augmentation, each transform alone, the full
set, and for comparison the Keras preprocessing layers this project used before
(``keras-layers``). The backend is ``KERAS_BACKEND``'s: run the script once per backend.

One ``fit`` call runs ``--repeats`` + 1 epochs on synthetic 48x48 images after a short warm-up
fit (compilation); the rate is taken over the epochs after the first (whose first step pays
the input pipeline's start-up), from epoch-end times only, so per-step callbacks do not force
the device to synchronise. Best and worst epoch are printed. Run it with nothing else busy.
``--onednn 0`` turns TensorFlow's oneDNN kernels off, as TensorFlow's own default does on AMD
CPUs (``fer_core`` turns them on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (model builder arguments, numpy batch arguments for TrainingBatches)
AUGMENTATIONS: dict[str, tuple[dict, dict]] = {
    "none": ({}, {}),
    "flip": ({"flip": True}, {}),
    "shift4": ({"crop_padding": 4}, {}),
    "flip+shift4": ({"flip": True, "crop_padding": 4}, {}),
    "rotation": ({"augment_args": {"rotation": 10.0}}, {}),
    "zoom": ({"augment_args": {"zoom": 0.1}}, {}),
    "contrast": ({"augment_args": {"contrast": 0.3}}, {}),
    "erasing0.25": ({"erasing": 0.25}, {}),
    "photo0.3": ({"photo_style": 0.3}, {}),
    "mixup": ({}, {"mixup": 0.2}),
    "cutmix": ({}, {"cutmix": 1.0}),
    "full": ({"augment_strength": 0.5, "erasing": 0.25}, {}),
    "full+mixup": ({"augment_strength": 0.5, "erasing": 0.25}, {"mixup": 0.2}),
    "keras-layers": ({"legacy": True}, {}),
}


def parse(spec: str) -> tuple[str, dict]:
    arch, _, rest = spec.partition(":")
    kwargs: dict = {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        kwargs[key] = [int(v) for v in value.split(",")] if "," in value else (
            float(value) if "." in value else int(value))
    return arch, kwargs


def legacy_keras_augmentation(strength: float = 0.5, erasing: float = 0.25):
    """The Keras preprocessing layers fer_core used before FaceAugment (for comparison only)."""
    from keras import Sequential, layers

    return Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.05 * strength, fill_mode="nearest"),
        layers.RandomTranslation(0.1 * strength, 0.1 * strength, fill_mode="nearest"),
        layers.RandomZoom(0.1 * strength, fill_mode="nearest"),
        layers.RandomContrast(0.3 * strength, value_range=(0, 255)),
        layers.RandomErasing(factor=erasing, scale=(0.02, 0.2), value_range=(0, 255)),
    ], name="keras_layers")


def build(arch: str, kwargs: dict, augmentation: dict):
    """The model with ``augmentation`` in front (FaceAugment, or the old Keras layers)."""
    import keras

    from fer_core.data.augmentation import FaceAugment
    from fer_core.models import build_model

    augmentation = dict(augmentation)
    legacy, layer_args = augmentation.pop("legacy", False), augmentation.pop("augment_args", None)
    model = build_model(arch, **kwargs, **augmentation)
    if not legacy and not layer_args:
        return model
    front = legacy_keras_augmentation() if legacy else FaceAugment(**layer_args, name="augmentation")
    inputs = keras.Input((48, 48, 1))
    return keras.Model(inputs, model(front(inputs)))


class EpochClock:
    """Epoch end times of a fit call, without per-step hooks (which would force a device sync)."""

    def __new__(cls):
        import keras

        class _Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.ends = [time.perf_counter()]

            def on_epoch_end(self, epoch, logs=None):
                self.ends.append(time.perf_counter())

        return _Clock()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=3072)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--augmentation", action="append", default=[],
                        help=f"one of: all, {', '.join(AUGMENTATIONS)} (repeatable; default none)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--legacy-images", type=int, default=1024,
                        help="images an epoch for keras-layers (about a second a step under JAX on a GPU)")
    parser.add_argument("--onednn", choices=["0", "1"], default="1", help="TF_ENABLE_ONEDNN_OPTS")
    parser.add_argument("--policy", action="append", default=[], help="Keras dtype policy, or auto (repeatable)")
    args = parser.parse_args()
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn  # before fer_core (and so TensorFlow) is imported

    import keras
    import numpy as np

    from fer_core.data.batches import TrainingBatches
    from fer_core.runs.hardware import device_description, dtype_policy, mixed_precision_for_this_machine
    from fer_core.training.config import TrainConfig
    from fer_core.training.optim import compile_model

    names = list(AUGMENTATIONS) if "all" in args.augmentation else (args.augmentation or ["none"])
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        parser.error(f"unknown augmentation {unknown}; known: {', '.join(AUGMENTATIONS)}")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.images, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, args.images)]
    print(f"backend {keras.backend.backend()} on {device_description()}, batch {args.batch_size}, "
          f"{args.images} images an epoch, TF_ENABLE_ONEDNN_OPTS={args.onednn}", flush=True)
    for spec in args.config or ["reference"]:
        for policy in args.policy or ["float32"]:
            policy = (mixed_precision_for_this_machine() or "float32") if policy == "auto" else policy
            bare = None
            for name in names:
                arch, kwargs = parse(spec)
                model_augmentation, batch_augmentation = AUGMENTATIONS[name]
                with dtype_policy(policy):
                    model = build(arch, kwargs, model_augmentation)
                images = min(args.images, args.legacy_images) if name == "keras-layers" else args.images
                steps = images // args.batch_size
                compile_model(model, TrainConfig(data="-", model=arch), steps_per_epoch=steps)

                def fit_input(n: int) -> dict:
                    if batch_augmentation:
                        return {"x": TrainingBatches(x[:n], y[:n], args.batch_size, seed=0, **batch_augmentation)}
                    return {"x": x[:n], "y": y[:n], "batch_size": args.batch_size}

                model.fit(**fit_input(args.batch_size * 4), epochs=1, verbose=0)
                clock = EpochClock()
                model.fit(**fit_input(images), epochs=args.repeats + 1, verbose=0, callbacks=[clock])
                rates = [images / seconds for seconds in np.diff(clock.ends)[1:]]
                bare = bare or (max(rates) if name == "none" else None)
                versus = f"  {bare / max(rates):5.2f}x the bare step" if bare else ""
                print(f"{spec:28s} {policy:15s} {name:13s} {model.count_params():>10,d} params  best {max(rates):7.0f} "
                      f"worst {min(rates):7.0f} images/s  {28709 / max(rates):6.1f} s per FER2013 epoch{versus}",
                      flush=True)


if __name__ == "__main__":
    main()
