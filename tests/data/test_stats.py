"""Dataset statistics: class table, pixel histograms, exact duplicates and leaks."""

from __future__ import annotations

import numpy as np

from fer_core import CLASSES
from fer_core.data.dataset import FERDataset, LoadReport, Split
from fer_core.data.stats import class_count_table, find_duplicates, pixel_histograms


def make_split(images: list[np.ndarray], labels: list[int]) -> Split:
    return Split(np.stack(images).astype(np.uint8), np.asarray(labels), [f"f{i}" for i in range(len(labels))])


def test_duplicates_within_and_across_splits():
    a, b, c, d = (np.full((48, 48), v, np.uint8) for v in (10, 20, 30, 40))
    train = make_split([a, a, a, b, c], [0, 0, 1, 2, 3])  # a three times (one conflicting label)
    val = make_split([b, d], [2, 4])  # b leaks from train
    test = make_split([d, c], [4, 3])  # d is in val too, c in train
    report = find_duplicates(FERDataset({"train": train, "val": val, "test": test}, LoadReport("x")))
    assert report.within == {"train": 2, "val": 0, "test": 0}
    assert report.across == {"train/val": 1, "train/test": 1, "val/test": 1}
    assert report.leaks == {"train/val": 1, "train/test": 1}
    assert sum(g.conflicting_labels for g in report.groups) == 1
    assert all(len(g.splits) == 2 for g in report.groups[:3])  # the cross-split groups come first
    table = report.summary_table()
    assert list(table["images"]) == [2, 0, 0, 1, 1, 1]


def test_class_table_and_histograms():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (48, 48)) for _ in range(14)]
    split = make_split(images, [i % 7 for i in range(14)])
    dataset = FERDataset({"train": split}, LoadReport("x"))
    table = class_count_table(dataset)
    assert list(table.index) == list(CLASSES) and table["train"].sum() == 14
    hist = pixel_histograms(split, bins=16)
    assert set(hist["class"]) == set(CLASSES) and len(hist) == 7 * 16
    assert np.allclose(hist.groupby("class")["share"].sum(), 1.0)
