"""Mixup, cutmix and class weights in the training batches."""

from __future__ import annotations

import numpy as np

from fer_core.data.batches import TrainingBatches, class_weights


def data(n: int = 40):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (n, 48, 48, 1)).astype("float32")
    labels = np.arange(n) % 7
    return x, np.eye(7, dtype="float32")[labels], labels


def test_class_weights_lift_rare_classes_and_average_one():
    labels = np.array([3] * 70 + [1] * 5 + [0, 2, 4, 5, 6] * 5)
    for mode in ("balanced", "sqrt"):
        weights = class_weights(labels, mode)
        assert weights[1] > weights[3] and abs(weights[labels].mean() - 1) < 1e-9
    assert class_weights(labels, "balanced")[1] > class_weights(labels, "sqrt")[1]
    assert class_weights(labels, "none") is None


def test_mixup_and_cutmix_blend_labels_like_pixels():
    x, y, labels = data()
    for kind in ("mixup", "cutmix"):
        batches = TrainingBatches(x, y, 16, seed=3, **{kind: 1.0}, weights=class_weights(labels, "balanced"))
        xb, yb, wb = batches[0]
        assert xb.shape == (16, 48, 48, 1) and wb.shape == (16,)
        np.testing.assert_allclose(yb.sum(axis=1), 1.0, rtol=1e-6)
        assert (yb > 0).sum(axis=1).max() == 2  # each image is a blend of two
        again = TrainingBatches(x, y, 16, seed=3, **{kind: 1.0}, weights=class_weights(labels, "balanced"))[0]
        np.testing.assert_array_equal(again[0], xb)  # same seed and epoch, same batch


def test_epochs_reshuffle_and_cover_every_image():
    x, y, _ = data(40)
    batches = TrainingBatches(x, y, 16, seed=1)
    assert len(batches) == 3
    first = np.concatenate([batches[i][1].argmax(1) for i in range(3)])
    batches.on_epoch_end()
    second = np.concatenate([batches[i][1].argmax(1) for i in range(3)])
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)
    resumed = TrainingBatches(x, y, 16, seed=1, start_epoch=1)
    np.testing.assert_array_equal(np.concatenate([resumed[i][1].argmax(1) for i in range(3)]), second)
