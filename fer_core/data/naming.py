"""How a dataset's file names say what each image is: its class (a folder named for it or a
synonym), its split (a split folder, or FER2013's ``Training_``/``PublicTest_``/``PrivateTest_``
prefixes), and which files are images at all."""

from __future__ import annotations

from pathlib import PurePosixPath

from fer_core.data.archives import ArchiveEntry
from fer_core.data.dataset import LoadReport, record_problem
from fer_core.labels import CLASSES

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm"}

CLASS_SYNONYMS: dict[str, int] = {}
for _index, _names in enumerate(
    [
        ("angry", "anger", "mad", "0"),
        ("disgust", "disgusted", "disgusting", "1"),
        ("fear", "fearful", "scared", "afraid", "2"),
        ("happy", "happiness", "joy", "happiness_joy", "3"),
        ("sad", "sadness", "unhappy", "4"),
        ("surprise", "surprised", "surprising", "5"),
        ("neutral", "neutrality", "calm", "6"),
    ]
):
    for _name in _names:
        CLASS_SYNONYMS[_name] = _index

SPLIT_FOLDER_NAMES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}
USAGE_NAMES: dict[str, str] = {
    "training": "train",
    "train": "train",
    "publictest": "val",
    "val": "val",
    "privatetest": "test",
    "test": "test",
}
FILE_PREFIX_SPLITS: dict[str, str] = {
    "training_": "train",
    "publictest_": "val",
    "privatetest_": "test",
}


def strip_common_root(entries: list[ArchiveEntry]) -> list[ArchiveEntry]:
    """Drop a single top folder that holds everything (``fer2013/train/...`` -> ``train/...``)."""
    while entries:
        images = [e for e in entries if PurePosixPath(e.name).suffix.lower() in IMAGE_EXTENSIONS] or entries
        parts = [PurePosixPath(e.name).parts for e in images]
        if any(len(p) < 3 for p in parts):
            break
        first = {p[0] for p in parts}
        if len(first) != 1:
            break
        top = next(iter(first))
        if top.lower() in SPLIT_FOLDER_NAMES or top.lower() in CLASS_SYNONYMS:
            break
        entries = [
            ArchiveEntry(PurePosixPath(*PurePosixPath(e.name).parts[1:]).as_posix(), e.read)
            for e in entries
            if PurePosixPath(e.name).parts[0] == top and len(PurePosixPath(e.name).parts) > 1
        ]
    return entries


def classify_entries(
    entries: list[ArchiveEntry], report: LoadReport, strict: bool
) -> list[tuple[ArchiveEntry, str | None, int]]:
    """Assign each image entry a split (or None = unassigned) and a class index."""
    assigned: list[tuple[ArchiveEntry, str | None, int]] = []
    for entry in entries:
        path = PurePosixPath(entry.name)
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            record_problem(report, strict, entry.name, f"not an image file (extension '{path.suffix or 'none'}')")
            continue
        parts = path.parts
        split: str | None = None
        if len(parts) >= 3 and parts[0].lower() in SPLIT_FOLDER_NAMES:
            split = SPLIT_FOLDER_NAMES[parts[0].lower()]
            class_folder = parts[-2]
        elif len(parts) >= 2:
            class_folder = parts[-2]
        else:
            record_problem(report, strict, entry.name, "image is not inside a class folder")
            continue
        label = CLASS_SYNONYMS.get(class_folder.lower())
        if label is None:
            record_problem(
                report,
                strict,
                entry.name,
                f"unknown class folder '{class_folder}' (expected one of {', '.join(CLASSES)} or a synonym)",
            )
            continue
        lowered = path.name.lower()
        for prefix, prefix_split in FILE_PREFIX_SPLITS.items():
            if lowered.startswith(prefix):
                split = prefix_split
                break
        assigned.append((entry, split, label))
    return assigned
