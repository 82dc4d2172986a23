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
from fer_core.runs.progress import ProgressFile


@dataclass
class PreparedData:
    train: Split
    val: Split
    val_name: str
    train_targets: np.ndarray | None = None  # FER+ targets for ``train``'s faces (--labels ferplus-*)

    def train_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The train split's pixels and targets: one-hot FER2013 labels, or the FER+ targets."""
        x, y = to_model_inputs(self.train)
        return x, (y if self.train_targets is None else self.train_targets)


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
    val = dataset.split(config.val_split)
    if config.labels == "fer2013":
        return PreparedData(train, val, config.val_split)
    return _with_ferplus(config, train, val)


def _with_ferplus(config: TrainConfig, train: Split, val: Split) -> PreparedData:
    """Train on FER+'s targets (faces without one left out, and said so); val keeps FER2013's
    labels, so the best epoch and every reported figure stay comparable with every other run."""
    from fer_core.data.ferplus import ferplus_targets, read_ferplus
    from fer_core.errors import ConfigError

    if not config.ferplus:
        raise ConfigError(f"--labels {config.labels} needs --ferplus CSV (the FER+ votes file, e.g. "
                          "../shared/datasets/ferplus/ferplus-train-publictest.csv)")
    targets, kept = ferplus_targets(read_ferplus(config.ferplus), train.files, config.labels, config.train_split)
    indices = np.flatnonzero(kept)
    logging.getLogger("fer_core").info("labels %s: %d of %d training faces have a FER+ target", config.labels,
                                       len(indices), len(train))
    return PreparedData(train.subset(indices), val, config.val_split, targets[indices])


def to_model_inputs(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images -> float32 (N, 48, 48, 1); labels -> one-hot float32."""
    x = split.images.astype("float32")[..., None]
    y = np.eye(len(CLASSES), dtype="float32")[split.labels]
    return x, y

