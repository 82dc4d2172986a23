"""FER Studio core library: FER2013 data, Keras models, training, tuning, evaluation, faces.

The public API for notebooks and scripts is the nine functions below; the dashboard and the
command line (``python -m fer_core``) call the same code.

Layout by concern, each layer importing only the layers below it (``tests/test_layout.py``
checks this and that there are no import cycles):

    cli, app, serve
                   the command line (one module per family of commands); the dashboard's glue,
                   forms made from configs, plotly figures; the HTTP API
    training       configs, runs, Keras-Tuner searches, presets, time budgets, the run registry, bundling
    inference      safe loading and saving, TTA, ensembles, evaluation, photos, videos, model cards,
                   export (ONNX, int8, LiteRT) and the TensorFlow-free runtime for exported models
    models         the architecture registry (reference CNN, VGG, ResNet) and their layers
    data           dataset readers and cache, statistics, batches, augmentation, ``.ferpack``, photo
                   and video files
    labels, errors, options, fileio, settings
                   the class order; the one error family (``FerError``); options described once;
                   atomic files; every path and limit (``Settings``)

Each function imports its implementation when first called, so ``import fer_core`` stays cheap
(no TensorFlow until a model is needed). The class order is FER2013's own and is used
everywhere (labels are indices into ``CLASSES``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# TensorFlow turns its oneDNN kernels on only for some Intel CPUs; on this project's AMD EPYC
# machines turning them on doubles CPU training speed (docs/performance.md).
# It must be set before TensorFlow is imported; a user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from fer_core.labels import CLASSES, IMAGE_SIZE  # noqa: E402
from fer_core.errors import ConfigError

__version__ = "0.2.0"
__all__ = ["CLASSES", "IMAGE_SIZE", "answer_spec", "evaluate", "load_dataset", "load_model", "predict_collection", "predict_photos",
           "predict_video", "train", "tune"]


def load_dataset(path: str | os.PathLike, *, strict: bool = False, use_cache: bool = True):
    """Load a dataset: ``fer2013.csv``, the Kaggle layout (folder or ``.zip``), class folders of
    your own photos, or a ``.ferpack``. Returns a ``FERDataset``: ``.splits`` maps 'train',
    'val', 'test' to ``Split`` objects (uint8 ``images`` (N, 48, 48), ``labels``, ``files``);
    ``.report`` lists skipped items. Decoded datasets are cached on disk."""
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset as load

    return load(path, LoadOptions(strict=strict), use_cache=use_cache)


def train(data: str | os.PathLike, *, preset: str | None = None, runs_dir: str | os.PathLike = "runs",
          verbose: int | str = 0, **options: Any) -> Path:
    """Train a model and return its run folder (``model.keras``, ``metrics.json``, ``history.csv``...).

    ``preset`` ('quick' for a CPU, 'gpu') starts from a measured recipe; ``options`` are any
    ``TrainConfig`` fields (``epochs=5``, ``model='vgg'``, ``data_fraction=0.1``, ...) and win over it."""
    from fer_core.training.presets import with_preset
    from fer_core.training.config import TrainConfig
    from fer_core.training.train import train as run

    values = {**with_preset(preset, options), "data": str(data)}
    return run(TrainConfig(**values), runs_dir, verbose=verbose)


def tune(data: str | os.PathLike, *, runs_dir: str | os.PathLike = "runs", verbose: int | str = 0,
         **options: Any) -> Path:
    """Run a Keras-Tuner search (``tuner='random'|'hyperband'|'bayesian'``, ``max_trials``,
    ``epochs``, ranges: any ``TuneConfig`` field) and return its run folder (``trials.csv``,
    ``best_hyperparameters.json``, the best model)."""
    from fer_core.training.config import TuneConfig
    from fer_core.training.tune import tune as run

    return run(TuneConfig(data=str(data), **options), runs_dir, verbose=verbose)


def load_model(model: str | os.PathLike = "default", *, tta: str | None = None):
    """A Keras model, loaded in safe mode: 'default', a bundled name ('quick', 'reference'), a run
    folder or a ``.keras`` file; ``tta`` 'flip' or 'multicrop' averages over mirrored (and shifted)
    views (None: none). An exported ``.onnx`` or ``.tflite`` file loads without TensorFlow, its TTA
    inside. Either maps (N, 48, 48, 1) pixels 0-255 to 7 probabilities in ``CLASSES`` order."""
    from fer_core.inference.loading import load_model as load

    return load(model, tta=tta)


def evaluate(model: str | os.PathLike = "default", data: Any = None, *, split: str = "val",
             tta: str | None = None) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix of a
    model on a split; ``data`` is a dataset path or what ``load_dataset`` returned."""
    from fer_core.inference.evaluation import compute_metrics
    from fer_core.inference.runtime import predict_probabilities

    if data is None:
        raise ConfigError("evaluate needs data: a dataset path or a loaded dataset")
    part = (data if hasattr(data, "splits") else load_dataset(data)).split(split)
    return compute_metrics(part.labels, predict_probabilities(load_model(model, tta=tta), part.images), split)


def answer_spec(model: str | os.PathLike = "default", **options: Any):
    """How the Predict paths answer, resolved once (``fer_core.inference.answering.AnswerSpec``):
    ``model`` and any of ``tta`` ('auto': the TTA that scored highest on PublicTest by the model's
    card), ``detector`` ('blazeface', 'mtcnn', 'haar', 'none' for whole images), ``margin``,
    ``operating_point``, ``calibrated`` (default True: the card's temperature applied)."""
    from fer_core.inference.answering import AnswerSpec

    return AnswerSpec.resolve(model, **options)


def _spec_and_model(spec, options: dict[str, Any]):
    spec = spec if spec is not None else answer_spec(**options)
    return spec, spec.load()


def predict_photos(photos: Iterable[str | os.PathLike], spec=None, **options: Any) -> list:
    """Find and classify every face in photo files: one ``PhotoResult`` per photo, each with its
    ``faces`` (box, ``top`` class, 7 ``probabilities``) or its ``error``; ``.to_dict()`` for JSON.
    ``spec``: an ``answer_spec(...)``; or its values as keywords (``model='quick', tta='flip'``)."""
    from fer_core.inference.photos import analyze_files

    spec, model = _spec_and_model(spec, options)
    return analyze_files(model, list(photos), spec)


def predict_video(video: str | os.PathLike, spec=None, *, fps: float = 5.0,
                  annotated_path: str | os.PathLike | None = None, **options: Any):
    """Expressions over time in a video (mp4, webm, mov, avi): ``fps`` frames sampled a second, each
    face followed across frames. A ``VideoAnalysis``: ``.table()`` (one row per face per sampled
    frame: time, person, box, top, 7 probabilities), ``.shares()`` (share of time per expression
    per person), ``.to_json()``; ``annotated_path`` also writes an annotated MP4. ``spec`` or its
    values as keywords, as ``predict_photos``."""
    from fer_core.inference.video_analysis import VideoOptions, analyze_video

    spec, model = _spec_and_model(spec, options)
    return analyze_video(model, video, spec, VideoOptions(fps=fps), annotated_path=annotated_path)


def predict_collection(collection: str | os.PathLike, spec=None, **options: Any):
    """Every face in a folder or a ``.zip`` of photos (read in memory). A ``CollectionAnalysis``:
    ``.table()`` (one row per face), ``.distribution()`` (faces per class), ``.confidences()``,
    ``.faces_by_class()``, ``.skipped`` (files not read, with the reason). ``spec`` or its values as
    keywords, as ``predict_photos``."""
    from fer_core.inference.photo_collections import analyze_collection

    spec, model = _spec_and_model(spec, options)
    return analyze_collection(model, collection, spec)
