"""Fine-tuning on "your own faces": a small dataset from another camera, four ways to use it.

Usage: python benchmarks/bench_own_data.py [--data FER2013.zip] [--per-class 100 300] [--out /tmp/own_data]
           [--epochs 30] [--finetune-epochs 15]

The "own data" is built from what is here: ``--per-class`` faces of each class drawn (seeded)
from FER2013 Training, each degraded the way a different camera would: upscaled to 96-160 px,
colour-tinted, blurred and JPEG-recompressed, written as class folders of colour photos. Its val
split is the same degradation of the whole of PublicTest (``--harsh``: a poor webcam's instead).
Note that the default model was trained on FER2013 Training, so the faces themselves (not their
degradation) are known to it: this measures adapting to a camera, not to new people. Then, on
each size:

* from scratch: the ``quick`` preset's network and recipe, ``--epochs`` epochs;
* the default model as shipped (``models/default.keras``), not fine-tuned;
* fine-tuned head only: ``--init-from default --freeze body``;
* fine-tuned fully: ``--init-from default`` with nothing frozen.

It prints one row per run (val accuracy, macro-F1, fear recall, seconds) and writes the same as
``results.json`` in ``--out``. The figures are in docs/results.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.zip"


def degrade(face: np.ndarray, rng: np.random.Generator, harsh: bool = False) -> bytes:
    """One 48x48 grey face as another camera might give it: bigger, tinted, soft, recompressed.
    ``harsh``: a poor webcam instead: a 24-32 px sensor, stronger blur, sensor noise, a
    different exposure (gamma) and heavy JPEG compression."""
    image = Image.fromarray(face, mode="L")
    if harsh:
        low = int(rng.integers(24, 33))
        image = image.resize((low, low), Image.Resampling.BILINEAR)
    side = int(rng.integers(96, 161))
    image = image.resize((side, side), Image.Resampling.BICUBIC).convert("RGB")
    pixels = np.asarray(image, dtype=np.float32) * rng.uniform(0.8, 1.2, size=3)
    if harsh:
        pixels = 255 * (np.clip(pixels, 0, 255) / 255) ** rng.uniform(0.6, 1.6)
        pixels = pixels + rng.normal(0, rng.uniform(4, 12), size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    blur = rng.uniform(1.0, 2.5) if harsh else rng.uniform(0.5, 1.5)
    image = image.filter(ImageFilter.GaussianBlur(radius=float(blur)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(10, 36) if harsh else rng.integers(30, 71)))
    return buffer.getvalue()


def write_own_dataset(root: Path, train_split, val_split, per_class: int, seed: int, harsh: bool = False) -> Path:
    from fer_core.labels import CLASSES

    rng = np.random.default_rng(seed)
    for split_name, split, take in (("train", train_split, per_class), ("val", val_split, None)):
        for label, name in enumerate(CLASSES):
            folder = root / split_name / name
            folder.mkdir(parents=True, exist_ok=True)
            indices = np.flatnonzero(split.labels == label)
            if take is not None:
                indices = rng.choice(indices, size=min(take, len(indices)), replace=False)
            for k, index in enumerate(indices):
                (folder / f"{k:05d}.jpg").write_bytes(degrade(split.images[index], rng, harsh))
    return root


def summary(metrics: dict, seconds: float) -> dict:
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4),
            "fear_recall": round(metrics["per_class"]["fear"]["recall"], 3), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--per-class", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--out", default="/tmp/own_data")
    parser.add_argument("--epochs", type=int, default=30, help="from scratch")
    parser.add_argument("--finetune-epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--harsh", action="store_true", help="a poor webcam's degradation (see degrade)")
    args = parser.parse_args()

    import fer_core
    from fer_core.training.presets import preset_values

    out = Path(args.out)
    source = fer_core.load_dataset(args.data)
    results = []
    for per_class in args.per_class:
        root = write_own_dataset(out / f"own_{per_class}{'_harsh' if args.harsh else ''}", source.split("train"),
                                 source.split("val"), per_class, args.seed, args.harsh)
        own = fer_core.load_dataset(root)
        n_train = len(own.split("train"))
        common = {"data_fraction": 1.0, "time_budget": 0, "runs_dir": out / "runs", "seed": args.seed}
        quick = {k: v for k, v in preset_values("quick").items() if k not in ("time_budget", "epochs")}
        recipes = {
            "from scratch (quick preset's network)": {**quick, "epochs": args.epochs, "validate_last": 5},
            "fine-tuned, head only (--freeze body)": {"init_from": "default", "freeze": "body", "lr": 1e-3,
                                                       "optimizer": "adamw", "epochs": args.finetune_epochs,
                                                       "augment_strength": 0.5, "validate_last": 5},
            "fine-tuned, everything": {"init_from": "default", "lr": 3e-4, "optimizer": "adamw",
                                       "weight_decay": 0.01, "epochs": args.finetune_epochs,
                                       "augment_strength": 0.5, "validate_last": 5},
        }
        started = time.perf_counter()
        shipped = fer_core.evaluate("default", own, split="val")
        rows = [("the default model, not fine-tuned", summary(shipped, time.perf_counter() - started))]
        for name, recipe in recipes.items():
            started = time.perf_counter()
            run_dir = fer_core.train(root, **{**common, **recipe})
            metrics = json.loads((run_dir / "metrics.json").read_text())
            rows.append((name, {**summary(metrics, time.perf_counter() - started), "run": str(run_dir)}))
        for name, row in rows:
            results.append({"per_class": per_class, "train_images": n_train, "harsh": args.harsh, "method": name,
                            **row})
            print(f"{per_class:4d}/class ({n_train:5d} images)  {name:40s} accuracy {row['accuracy']:.4f}  "
                  f"macro-F1 {row['macro_f1']:.4f}  fear recall {row['fear_recall']:.3f}  {row['seconds']:7.1f} s",
                  flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
