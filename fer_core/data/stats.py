"""What a dataset looks like: class counts, pixel histograms, exact duplicates.

FER2013 is known to hold repeated images, some of them across its splits; a face that is in
both train and test inflates the test score, so duplicates across splits are a leak.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from fer_core.labels import CLASSES
from fer_core.data.dataset import FERDataset, Split


def class_count_table(dataset: FERDataset) -> pd.DataFrame:
    """Rows: classes in FER2013 order; columns: splits; values: image counts."""
    return pd.DataFrame({name: split.class_counts() for name, split in dataset.splits.items()},
                        index=list(CLASSES)).rename_axis("class")


def pixel_histograms(split: Split, bins: int = 32) -> pd.DataFrame:
    """Share of pixels per intensity bin, per class (long format: class, intensity, share)."""
    edges = np.linspace(0, 256, bins + 1)
    rows = []
    for label, name in enumerate(CLASSES):
        pixels = split.images[split.labels == label]
        if len(pixels) == 0:
            continue
        counts, _ = np.histogram(pixels, bins=edges)
        share = counts / counts.sum()
        rows.extend({"class": name, "intensity": float((lo + hi) / 2), "share": float(s)}
                    for lo, hi, s in zip(edges[:-1], edges[1:], share))
    return pd.DataFrame(rows, columns=["class", "intensity", "share"])


@dataclass
class DuplicateGroup:
    """Images with identical pixels: (split, index, label) for each."""

    members: list[tuple[str, int, int]]

    @property
    def splits(self) -> set[str]:
        return {m[0] for m in self.members}

    @property
    def conflicting_labels(self) -> bool:
        return len({m[2] for m in self.members}) > 1


@dataclass
class DuplicateReport:
    groups: list[DuplicateGroup] = field(default_factory=list)
    within: dict[str, int] = field(default_factory=dict)  # split -> images that repeat another in it
    across: dict[str, int] = field(default_factory=dict)  # "train/val" -> images of the second seen in the first

    @property
    def leaks(self) -> dict[str, int]:
        """Cross-split overlaps that involve a held-out split (what inflates val or test scores)."""
        return {pair: n for pair, n in self.across.items() if n and pair.startswith("train/")}

    def summary_table(self) -> pd.DataFrame:
        rows = [{"where": f"within {s}", "images": n} for s, n in self.within.items()]
        rows += [{"where": f"in both {pair.replace('/', ' and ')}", "images": n} for pair, n in self.across.items()]
        return pd.DataFrame(rows, columns=["where", "images"])


def find_duplicates(dataset: FERDataset) -> DuplicateReport:
    """Exact pixel duplicates within each split and across every pair of splits."""
    owners: dict[bytes, list[tuple[str, int, int]]] = {}
    for name, split in dataset.splits.items():
        for i in range(len(split)):
            digest = hashlib.blake2b(split.images[i].tobytes(), digest_size=16).digest()
            owners.setdefault(digest, []).append((name, i, int(split.labels[i])))
    report = DuplicateReport()
    groups = [DuplicateGroup(m) for m in owners.values() if len(m) > 1]
    # Groups that cross splits first (they are the leaks), then bigger groups first.
    groups.sort(key=lambda g: (-len(g.splits), -len(g.members)))
    report.groups = groups
    names = list(dataset.splits)
    for name in names:
        report.within[name] = sum(
            max(0, sum(1 for m in g.members if m[0] == name) - 1) for g in groups)
    for first, second in combinations(names, 2):
        report.across[f"{first}/{second}"] = sum(
            sum(1 for m in g.members if m[0] == second) for g in groups if {first, second} <= g.splits)
    return report


NEAR_COPY_CORRELATION = 0.99  # pixel correlation above which two faces are one photo re-encoded or retouched


def copies_in(reference: Split, faces: Split, threshold: float = NEAR_COPY_CORRELATION,
              chunk: int = 512) -> np.ndarray:
    """For each face of ``faces``, whether ``reference`` (Training) holds an exact copy of it or a
    near one (pixel correlation above ``threshold``): the faces a model may have seen, which make a
    val figure optimistic. On FER2013, 294 PublicTest faces have one: 280 an exact copy, 14 more a
    near one at 0.99 (``tests/data/test_stats.py``).

    Correlations are dot products of mean-centred, unit-length pixel vectors, PublicTest against
    Training in chunks (3,589 x 28,709 x 2,304: a few seconds of BLAS on 2 cores). A flat image (one
    grey level) has no correlation; only an exact copy counts for it."""
    exact = {hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in reference.images}
    found = np.array([hashlib.blake2b(image.tobytes(), digest_size=16).digest() in exact for image in faces.images],
                     dtype=bool)
    if len(reference) == 0 or len(faces) == 0:
        return found
    train = _unit_rows(reference.images)
    for start in range(0, len(faces), chunk):
        rows = _unit_rows(faces.images[start:start + chunk])
        found[start:start + len(rows)] |= (rows @ train.T).max(axis=1) > threshold
    return found


def held_out_copies(dataset: FERDataset, split_name: str) -> np.ndarray | None:
    """``copies_in`` for a held-out split of ``dataset``: which of its faces have a copy in Training.
    None for Training itself, or for a dataset without one (nothing to leave out)."""
    if split_name == "train" or "train" not in dataset.splits:
        return None
    return copies_in(dataset.split("train"), dataset.split(split_name))


def _unit_rows(images: np.ndarray) -> np.ndarray:
    x = images.reshape(len(images), -1).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def conflicting_label_groups(report: DuplicateReport, split: str = "train") -> pd.DataFrame:
    """Groups of identical ``split`` images that carry different labels: one row per group, with
    the indices and the labels (the Dataset page's list)."""
    rows = []
    for group in report.groups:
        members = [m for m in group.members if m[0] == split]
        if len({m[2] for m in members}) > 1:
            rows.append({"images": len(members), "indices": ", ".join(str(m[1]) for m in members),
                         "labels": ", ".join(sorted({CLASSES[m[2]] for m in members}))})
    return pd.DataFrame(rows, columns=["images", "indices", "labels"])
