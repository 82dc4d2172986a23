"""What a loaded dataset is: its splits of 48x48 faces, the report of what was skipped, the load
options, and the few operations every reader shares (carving val, ordering splits, a bad item)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_core.errors import DataError, SplitNotFoundError
from fer_core.labels import CLASSES
from fer_core.errors import ConfigError

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class Problem:
    item: str  # file path inside the source, or "row N"
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass
class LoadReport:
    source: str
    problems: list[Problem] = field(default_factory=list)
    from_cache: bool = False
    no_face: list[str] = field(default_factory=list)  # with detect_faces: images used whole, no face found

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        if not self.problems:
            return "no problems" + self._no_face_note()
        head = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {self.skipped - 5} more)" if self.skipped > 5 else ""
        return f"skipped {self.skipped} bad item(s): {head}{more}" + self._no_face_note()

    def _no_face_note(self) -> str:
        if not self.no_face:
            return ""
        return (f"; no face found in {len(self.no_face)} image(s), used whole: {', '.join(self.no_face[:3])}"
                + (" ..." if len(self.no_face) > 3 else ""))


@dataclass
class Split:
    """One split: images (N, 48, 48) uint8, labels (N,) int64 indices into CLASSES, source names."""

    images: np.ndarray
    labels: np.ndarray
    files: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(c) for name, c in zip(CLASSES, counts)}

    def subset(self, indices: np.ndarray) -> "Split":
        return Split(self.images[indices], self.labels[indices], [self.files[i] for i in indices])


@dataclass
class FERDataset:
    splits: dict[str, Split]
    report: LoadReport

    def split(self, name: str) -> Split:
        if name not in self.splits:
            have = ", ".join(self.splits) or "none"
            raise SplitNotFoundError(f"this dataset has no '{name}' split; it has: {have}")
        return self.splits[name]

    def available_splits(self) -> list[str]:
        return list(self.splits)


@dataclass(frozen=True)
class LoadOptions:
    strict: bool = False
    val_fraction: float = 0.1  # used only where the source names no validation split
    seed: int = 1234
    # Whole photos rather than face crops: crop each image's largest face with the detector, as the
    # Predict page does (fer_core.faces.detectors); an image with no face found is used whole and listed.
    detect_faces: bool = False


def record_problem(report: LoadReport, strict: bool, item: str, reason: str) -> None:
    """A bad item: counted in ``report``, or with ``strict`` the end of loading (``DataError``)."""
    if strict:
        raise DataError(f"{report.source}: {item}: {reason}")
    report.problems.append(Problem(item, reason))


def carve_val(splits: dict[str, Split], options: LoadOptions) -> dict[str, Split]:
    """Where the source names no val split, take a stratified, seeded slice of train."""
    if "val" in splits or "train" not in splits or options.val_fraction <= 0:
        return splits
    from sklearn.model_selection import train_test_split

    train = splits["train"]
    indices = np.arange(len(train))
    counts = np.bincount(train.labels)
    n_classes = int((counts > 0).sum())
    n_val = int(np.ceil(len(train) * options.val_fraction))
    if len(train) < 2:
        return splits
    can_stratify = counts[counts > 0].min() >= 2 and n_classes <= n_val <= len(train) - n_classes
    stratify = train.labels if can_stratify else None  # too few images to keep every class in both
    train_idx, val_idx = train_test_split(
        indices, test_size=options.val_fraction, random_state=options.seed, stratify=stratify
    )
    out = dict(splits)
    out["train"] = train.subset(np.sort(train_idx))
    out["val"] = train.subset(np.sort(val_idx))
    return out


def order_splits(splits: dict[str, Split]) -> dict[str, Split]:
    return {name: splits[name] for name in SPLITS if name in splits}


def stratified_fraction(split: Split, fraction: float, seed: int) -> Split:
    """A stratified, seeded subset of a split, for quick runs."""
    if fraction >= 1.0:
        return split
    if not 0 < fraction < 1:
        raise ConfigError(f"data fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(split.labels):
        idx = np.flatnonzero(split.labels == label)
        count = max(1, int(round(len(idx) * fraction)))
        keep.append(rng.choice(idx, size=count, replace=False))
    return split.subset(np.sort(np.concatenate(keep)))
