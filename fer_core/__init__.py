"""FER Studio core library: FER2013 data, Keras models, training, tuning, evaluation, faces.

The public API for notebooks and scripts is the functions below; the dashboard and the command
line (``python -m fer_core``) call the same code. They are entry points: each reads the settings
(``fer_core.settings.Settings.load``: the cache folder, the archive and video limits, the default
model, the thread count) and hands them down as values.

Layout by concern, each layer importing only the layers below it (``tests/test_layout.py``
checks this, that there are no import cycles, and each package's size):

    cli                the command line, one module per family of commands
    app, serve         the dashboard's glue and widgets; the HTTP API
    training           the training step, Keras-Tuner searches, presets, time budgets, the job queue
    runs               what a run leaves on disk: the registry, progress, history, provenance, bundling
    cluster            collections and videos in chunks on a Dask cluster
    answering          ``AnswerSpec`` (how a model answers) and ``Answerer`` (a model ready to answer)
    export             ONNX (float32, int8), LiteRT, SavedModel, checked against Keras
    evaluation         metrics, intervals, calibration, operating points, labelled photos, heat maps
    media              photos, photo collections, videos and the live camera, answered
    runtime            model files: safe loading, cards, TTA, ensembles, exported models without TensorFlow
    models             the architecture registry (reference CNN, VGG, ResNet) and their layers
    data               dataset readers and cache, statistics, batches, augmentation, photo and video files
    faces              decoding photos, face detection, framing a face, tracking
    labels, errors, options, fileio, settings, charts
                       the class order; the one error family (``FerError``); options described once;
                       atomic files; every path and limit (``Settings``); plotly figures

Each function imports its implementation when first called, so ``import fer_core`` stays cheap
(no TensorFlow until a model is needed) and changes nothing in the process (no environment
variable is set: TensorFlow's oneDNN switch is the CLI's and the dashboard's start-up, in
``fer_core.settings.use_onednn``). The class order is FER2013's own and is used
everywhere (labels are indices into ``CLASSES``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.errors import ConfigError

__version__ = "0.2.0"
__all__ = ["CLASSES", "IMAGE_SIZE", "answer_spec", "evaluate", "load_dataset", "load_model", "predict_collection",
           "predict_photos", "predict_video", "train", "tune"]


def _settings():
    from fer_core.settings import Settings

    return Settings.load()


def load_dataset(path: str | os.PathLike, *, strict: bool = False, use_cache: bool = True):
    """Load a dataset: ``fer2013.csv``, the Kaggle layout (folder or ``.zip``), class folders of
    your own photos, or a ``.ferpack``. Returns a ``FERDataset``: ``.splits`` maps 'train',
    'val', 'test' to ``Split`` objects (uint8 ``images`` (N, 48, 48), ``labels``, ``files``);
    ``.report`` lists skipped items. Decoded datasets are cached on disk."""
    from fer_core.data.archives import ArchiveLimits
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset as load

    settings = _settings()
    return load(path, LoadOptions(strict=strict), use_cache=use_cache, cache_dir=settings.cache_dir,
                limits=ArchiveLimits.from_settings(settings))


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
    from fer_core.runtime.loading import load_model as load

    return load(model, tta=tta, settings=_settings())


def evaluate(model: str | os.PathLike = "default", data: Any = None, *, split: str = "val",
             tta: str | None = None) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix of a
    model on a split; ``data`` is a dataset path or what ``load_dataset`` returned."""
    from fer_core.evaluation.metrics import compute_metrics
    from fer_core.runtime.model import predict_probabilities

    if data is None:
        raise ConfigError("evaluate needs data: a dataset path or a loaded dataset")
    part = (data if hasattr(data, "splits") else load_dataset(data)).split(split)
    return compute_metrics(part.labels, predict_probabilities(load_model(model, tta=tta), part.images), split)


def answer_spec(model: str | os.PathLike = "default", **options: Any):
    """How the Predict paths answer, resolved once (``fer_core.answering.spec.AnswerSpec``):
    ``model`` and any of ``tta`` ('auto': the TTA that scored highest on PublicTest by the model's
    card), ``detector`` ('blazeface', 'mtcnn', 'haar', 'none' for whole images), ``margin``,
    ``operating_point``, ``calibrated`` (default True: the card's temperature applied)."""
    from fer_core.answering.spec import AnswerSpec

    return AnswerSpec.resolve(model, settings=_settings(), **options)


def _answerer(spec, options: dict[str, Any], settings=None):
    from fer_core.answering.spec import AnswerSpec

    if spec is None:
        spec = AnswerSpec.resolve(settings=settings or _settings(), **options)
    return spec.load()


def predict_photos(photos: Iterable[str | os.PathLike], spec=None, **options: Any) -> list:
    """Find and classify every face in photo files: one ``PhotoResult`` per photo, each with its
    ``faces`` (box, ``top`` class, 7 ``probabilities``) or its ``error``; ``.to_dict()`` for JSON.
    ``spec``: an ``answer_spec(...)``; or its values as keywords (``model='quick', tta='flip'``)."""
    return _answerer(spec, options).files(list(photos))


def predict_video(video: str | os.PathLike, spec=None, *, fps: float = 5.0,
                  annotated_path: str | os.PathLike | None = None, **options: Any):
    """Expressions over time in a video (mp4, webm, mov, avi): ``fps`` frames sampled a second, each
    face followed across frames. A ``VideoAnalysis``: ``.table()`` (one row per face per sampled
    frame: time, person, box, top, 7 probabilities), ``.shares()`` (share of time per expression
    per person), ``.to_json()``; ``annotated_path`` also writes an annotated MP4. ``spec`` or its
    values as keywords, as ``predict_photos``."""
    from fer_core.data.video_files import VideoLimits
    from fer_core.media.video import VideoOptions

    settings = _settings()
    return _answerer(spec, options, settings).video(video, VideoOptions(fps=fps), annotated_path=annotated_path,
                                                    limits=VideoLimits.from_settings(settings))


def predict_collection(collection: str | os.PathLike, spec=None, **options: Any):
    """Every face in a folder or a ``.zip`` of photos (read in memory). A ``CollectionAnalysis``:
    ``.table()`` (one row per face), ``.distribution()`` (faces per class), ``.confidences()``,
    ``.faces_by_class()``, ``.skipped`` (files not read, with the reason). ``spec`` or its values as
    keywords, as ``predict_photos``."""
    return _answerer(spec, options).collection(collection)
