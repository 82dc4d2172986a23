"""Training batches with mixup, cutmix and class weights, as a ``keras.utils.PyDataset``.

These change the labels (or their weights) along with the pixels, so they cannot live inside the
model as the other augmentations do (``fer_core.data.augmentation``); mixing a batch in numpy costs
well under a millisecond (``benchmarks/bench_train_speed.py``).

Used when a recipe asks for any of those; plain runs hand numpy arrays to ``model.fit``.
Two threads prepare batches ahead of the training step (the numpy work releases the GIL), so
the step does not wait on them.
Each epoch shuffles with its own seed (``seed + epoch``), so a resumed run sees the same
batches it would have seen. Labels are one-hot; mixing blends them (and the sample weights)
in the same proportion as the pixels.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from fer_core.labels import CLASSES


def class_weights(labels: np.ndarray, mode: str) -> np.ndarray | None:
    """Per-class weights, mean 1 over the training images: 'balanced' = n / (k * count),
    'sqrt' = its square root (a gentler lift for rare classes such as disgust)."""
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(float)
    weights = np.where(counts > 0, len(labels) / (len(CLASSES) * np.maximum(counts, 1)), 0.0)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return weights / (weights[labels].mean())


class TrainingBatches(keras.utils.PyDataset):
    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, mixup: float = 0.0,
                 cutmix: float = 0.0, weights: np.ndarray | None = None, start_epoch: int = 0):
        super().__init__(workers=2, use_multiprocessing=False, max_queue_size=8)
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.mixup, self.cutmix = mixup, cutmix
        self.sample_weights = weights[y.argmax(axis=1)].astype("float32") if weights is not None else None
        self.epoch = start_epoch
        self._shuffle()

    def _shuffle(self) -> None:
        self.rng = np.random.default_rng(self.seed + self.epoch)
        self.order = self.rng.permutation(len(self.x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._shuffle()

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.x[rows].copy(), self.y[rows].copy()
        w = None if self.sample_weights is None else self.sample_weights[rows].copy()
        rng = np.random.default_rng((self.seed, self.epoch, index))
        kinds = [k for k, alpha in (("mixup", self.mixup), ("cutmix", self.cutmix)) if alpha > 0]
        if kinds and len(rows) > 1:
            kind = kinds[rng.integers(len(kinds))]
            partner = rng.permutation(len(rows))
            lam = float(rng.beta(getattr(self, kind), getattr(self, kind)))
            if kind == "mixup":
                x = lam * x + (1 - lam) * x[partner]
            else:
                lam = self._paste_box(x, partner, lam, rng)
            y = lam * y + (1 - lam) * y[partner]
            if w is not None:
                w = lam * w + (1 - lam) * w[partner]
        return (x, y) if w is None else (x, y, w)

    @staticmethod
    def _paste_box(x: np.ndarray, partner: np.ndarray, lam: float, rng: np.random.Generator) -> float:
        """CutMix: paste a box covering (1 - lam) of the image from the partner; return the true share kept."""
        height, width = x.shape[1], x.shape[2]
        cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
        cy, cx = rng.integers(height), rng.integers(width)
        top, bottom = max(0, cy - cut_h // 2), min(height, cy + cut_h // 2)
        left, right = max(0, cx - cut_w // 2), min(width, cx + cut_w // 2)
        x[:, top:bottom, left:right] = x[partner, top:bottom, left:right]
        return 1.0 - (bottom - top) * (right - left) / (height * width)
