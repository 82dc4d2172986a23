"""FER+ labels (Barsoum et al. 2016): ten annotators' votes for each FER2013 face, as another set of
labels for the same images.

The file (``ferplus-train-publictest.csv``, MIT, made from microsoft/FERPlus's ``fer2013new.csv``)
has a row per image of the Kaggle zip: ``path`` (the zip member, e.g.
``train/angry/Training_10118481.jpg``), ``usage``, ``fer2013_label``, then the vote counts for
``neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF`` (NF: not a
face). Three ways to use them:

- ``fer2013``: FER2013's own labels (nothing here is read);
- ``ferplus-majority``: FER+'s majority rule (single votes dropped, then more than half of the rest),
  mapped to FER2013's classes; faces without a majority, or whose majority is contempt, unknown or
  not a face, are left out;
- ``ferplus-soft``: the vote distribution over FER2013's seven classes as the target (contempt,
  unknown and NF votes dropped); faces with no vote left are left out.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from fer_core.errors import ConfigError, DataError
from fer_core.labels import CLASSES

LABEL_SOURCES = ("fer2013", "ferplus-majority", "ferplus-soft")  # TrainConfig.labels' choices
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown",
                "NF")
TO_FER2013 = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy", "sadness": "sad",
              "surprise": "surprise", "neutral": "neutral"}
NOT_A_CLASS = ("contempt", "unknown", "NF")
MIN_MATCHED = 0.5  # a FER+ file that names fewer of a split's images than this is for another dataset


@dataclass(frozen=True)
class FerPlusVotes:
    """The votes of the images a FER+ file names, by their file name (without folders)."""

    votes: dict[str, np.ndarray]  # file name -> the 10 counts, VOTE_COLUMNS order

    def for_files(self, files: list[str]) -> np.ndarray:
        """(N, 10) counts for these dataset files, in order; a row of -1 where the file has none."""
        missing = np.full(len(VOTE_COLUMNS), -1.0)
        return np.stack([self.votes.get(PurePosixPath(f).name, missing) for f in files]) if files else \
            np.zeros((0, len(VOTE_COLUMNS)))


def read_ferplus(path: str | os.PathLike) -> FerPlusVotes:
    """The FER+ file, checked: its header names the vote columns; every count a whole number."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the FER+ file ({getattr(exc, 'strerror', None) or exc})") from None
    if not rows or not {"path", *VOTE_COLUMNS} <= set(rows[0]):
        raise DataError(f"{path}: not a FER+ votes file (it needs the columns path, {', '.join(VOTE_COLUMNS)})")
    try:
        votes = {PurePosixPath(row["path"]).name: np.array([float(row[c]) for c in VOTE_COLUMNS]) for row in rows}
    except (TypeError, ValueError):
        raise DataError(f"{path}: a vote count is not a number") from None
    return FerPlusVotes(votes)


def seven_class_votes(counts: np.ndarray) -> np.ndarray:
    """(N, 10) FER+ counts -> (N, 7) counts in FER2013's class order (contempt, unknown, NF dropped)."""
    columns = [VOTE_COLUMNS.index(next(k for k, v in TO_FER2013.items() if v == c)) for c in CLASSES]
    return counts[:, columns]


def without_single_votes(counts: np.ndarray) -> np.ndarray:
    """FER+'s first step: a class one annotator alone voted for gets no votes."""
    return np.where(counts > 1, counts, 0)


def majority(counts: np.ndarray) -> np.ndarray:
    """FER+'s majority label of each row as a FER2013 class index, -1 where there is none (no
    majority after dropping single votes, a majority of contempt, unknown or not a face, no votes)."""
    kept = without_single_votes(counts)
    total = kept.sum(axis=1)
    top = kept.argmax(axis=1)
    labels = np.full(len(counts), -1)
    for i, (t, n) in enumerate(zip(top, total)):
        if n > 0 and kept[i, t] > n / 2 and VOTE_COLUMNS[t] not in NOT_A_CLASS and counts[i, 0] >= 0:
            labels[i] = CLASSES.index(TO_FER2013[VOTE_COLUMNS[t]])
    return labels


def ferplus_targets(votes: FerPlusVotes, files: list[str], source: str, split_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, 7) float32, kept (N,) bool) for the files of a split under ``source``
    (``ferplus-majority``: one-hot; ``ferplus-soft``: the vote shares). ``DataError`` when the
    FER+ file names under half of the split's images (a file for another dataset)."""
    if source not in LABEL_SOURCES[1:]:
        raise ConfigError(f"labels must be one of {', '.join(LABEL_SOURCES)}, got '{source}'")
    counts = votes.for_files(files)
    matched = counts[:, 0] >= 0
    if len(files) and matched.mean() < MIN_MATCHED:
        raise DataError(f"the FER+ file names {int(matched.sum()):,} of the {len(files):,} {split_name} images: it "
                        "does not match this dataset (it is made for the Kaggle zip's file names)")
    if source == "ferplus-majority":
        labels = majority(counts)
        kept = labels >= 0
        targets = np.eye(len(CLASSES), dtype="float32")[np.where(kept, labels, 0)]
    else:
        seven = np.where(matched[:, None], seven_class_votes(counts), 0)
        total = seven.sum(axis=1, keepdims=True)
        kept = total[:, 0] > 0
        targets = (seven / np.maximum(total, 1)).astype("float32")
    return targets, kept


def agreement(votes: FerPlusVotes, files: list[str], predicted: np.ndarray) -> dict:
    """How often ``predicted`` (class indices for ``files``) matches FER+'s majority, over the faces
    that have one; also per class of the majority."""
    labels = majority(votes.for_files(files))
    kept = labels >= 0
    if not kept.any():
        raise DataError("none of these images has a FER+ majority label: the FER+ file does not match them")
    per_class = {c: (float((predicted[kept & (labels == k)] == k).mean()) if (kept & (labels == k)).any() else None)
                 for k, c in enumerate(CLASSES)}
    agreeing = int((predicted[kept] == labels[kept]).sum())
    return {"faces": int(kept.sum()), "agreeing": agreeing, "agreement": agreeing / int(kept.sum()),
            "recall_by_ferplus_class": per_class, "majority_counts": {c: int((labels == k).sum())
                                                                     for k, c in enumerate(CLASSES)}}


def label_table(votes: FerPlusVotes, files: list[str], labels: np.ndarray) -> list[dict]:
    """Per FER2013 class of a split: its images, how many FER+ names, how often FER+'s majority
    agrees with the FER2013 label, and how many FER+ calls not a face, unknown or contempt, or
    gives no majority (the Dataset page's FER+ tab)."""
    counts = votes.for_files(files)
    matched = counts[:, 0] >= 0
    ferplus = majority(counts)
    top = np.array([VOTE_COLUMNS[t] for t in without_single_votes(counts).argmax(axis=1)]) if len(files) else \
        np.array([])
    rows = []
    for k, name in enumerate(CLASSES):
        mine = labels == k
        has = mine & matched
        with_majority = has & (ferplus >= 0)
        rows.append({"FER2013 class": name, "images": int(mine.sum()), "in FER+": int(has.sum()),
                     "FER+ majority agrees": (float((ferplus[with_majority] == k).mean())
                                              if with_majority.any() else None),
                     "FER+: not a face": int((has & (top == "NF") & (ferplus < 0)).sum()),
                     "FER+: unknown or contempt": int((has & np.isin(top, ["unknown", "contempt"]) & (ferplus < 0)).sum()),
                     "FER+: no majority": int((has & (ferplus < 0) & ~np.isin(top, list(NOT_A_CLASS))).sum())})
    return rows
