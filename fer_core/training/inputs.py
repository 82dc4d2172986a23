"""A run's data as the model takes it: the dataset loaded (through the cache), the train split cut
to the run's data fraction, the val split named by the config; pixels and one-hot labels."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fer_core.data.dataset import FERDataset, LoadOptions, Split, stratified_fraction
from fer_core.data.loaders import load_dataset
from fer_core.labels import CLASSES
from fer_core.training.config import TrainConfig
from fer_core.training.progress import ProgressFile


@dataclass
class PreparedData:
    train: Split
    val: Split
    val_name: str


def prepare_data(config: TrainConfig, progress: ProgressFile | None = None) -> PreparedData:
    """Load the dataset (through the cache) and pick the train and val splits."""

    def report(done: int, total: int) -> None:
        if progress:
            progress.update(phase="loading_data", step=done, steps=total)

    options = LoadOptions(strict=config.strict, seed=config.seed, detect_faces=config.detect_faces)
    dataset: FERDataset = load_dataset(config.data, options, progress=report)
    if dataset.report.skipped or dataset.report.no_face:
        logging.getLogger("fer_core").warning("data: %s", dataset.report.summary())
    train = stratified_fraction(dataset.split(config.train_split), config.data_fraction, config.seed)
    return PreparedData(train, dataset.split(config.val_split), config.val_split)


def to_model_inputs(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images -> float32 (N, 48, 48, 1); labels -> one-hot float32."""
    x = split.images.astype("float32")[..., None]
    y = np.eye(len(CLASSES), dtype="float32")[split.labels]
    return x, y

