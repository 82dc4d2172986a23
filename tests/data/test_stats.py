"""Dataset statistics: class table, pixel histograms, exact duplicates and leaks."""

from __future__ import annotations

import numpy as np

from fer_core import CLASSES
from fer_core.data.dataset import FERDataset, LoadReport, Split
from fer_core.data.stats import class_count_table, find_duplicates, pixel_histograms
from tests.conftest import SHARED_ZIP


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


def test_copies_in_training_are_exact_or_near_and_nothing_else():
    from fer_core.data.stats import conflicting_label_groups, copies_in

    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(4)]
    retouched = np.clip(faces[1].astype(int) + rng.integers(-3, 4, (48, 48)), 0, 255).astype(np.uint8)
    flat = np.full((48, 48), 90, np.uint8)
    train = make_split([faces[0], faces[1], flat, flat], [0, 1, 2, 3])
    val = make_split([faces[0], retouched, faces[2], np.full((48, 48), 91, np.uint8), flat], [0, 1, 2, 3, 4])
    assert copies_in(train, val).tolist() == [True, True, False, False, True]  # exact, near, new, flat-new, exact
    report = find_duplicates(FERDataset({"train": train, "val": val}, LoadReport("x")))
    table = conflicting_label_groups(report)
    assert len(table) == 1 and table.iloc[0]["labels"] == "fear, happy" and table.iloc[0]["images"] == 2


def test_the_shared_fer2013_has_294_publictest_faces_with_a_copy_in_training(fer2013_cache):
    import hashlib

    from fer_core.data.loaders import load_dataset
    from fer_core.data.stats import conflicting_label_groups, copies_in

    dataset = load_dataset(SHARED_ZIP, cache_dir=fer2013_cache)
    train, val = dataset.split("train"), dataset.split("val")
    exact = {hashlib.blake2b(i.tobytes(), digest_size=16).digest() for i in train.images}
    assert sum(hashlib.blake2b(i.tobytes(), digest_size=16).digest() in exact for i in val.images) == 280
    assert int(copies_in(train, val).sum()) == 294  # 280 exact and 14 near (pixel correlation > 0.99)
    assert len(conflicting_label_groups(find_duplicates(dataset))) == 39
