"""Load FER2013 in the forms users actually have, into uint8 (N, 48, 48) arrays.

Supported sources:

* the original ``fer2013.csv`` (columns ``emotion,pixels[,Usage]``);
* the Kaggle layout, as a folder or the ``.zip`` itself (``train/<class>/*.jpg``,
  ``test/<class>/*.jpg``); file-name prefixes ``Training_``, ``PublicTest_``,
  ``PrivateTest_`` give the standard splits train / val / test;
* any folder or zip of class sub-folders of face images (any size, colour or grey);
* a ``.ferpack`` made from any of these by ``python -m fer_core pack`` (``fer_core.data.pack``).

Where names carry no usage, ``train/`` is train, ``test/`` is test and val is a
stratified, seeded slice of train. Bad items are skipped and counted in the
``LoadReport`` unless ``strict=True``, which raises on the first one.
Decoded datasets are cached on disk keyed by the source's bytes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

import numpy as np

from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.data.images import MAX_IMAGE_BYTES, DataError, decode_face_image, image_to_face_array, read_image_file
from fer_core.fileio import atomic_path, write_json_atomic

SPLITS: tuple[str, ...] = ("train", "val", "test")
CACHE_FORMAT_VERSION = 1
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


class SplitNotFoundError(DataError, KeyError):
    """The dataset has no such split; the message lists the splits it has."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


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
    # Predict page does (fer_core.data.faces); an image with no face found is used whole and listed.
    detect_faces: bool = False


# --------------------------------------------------------------------------- sources


@dataclass
class ArchiveEntry:
    name: str  # path relative to the dataset root, posix style
    read: Callable[[], bytes]


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip may hold before it is refused (a zip bomb inflates a few MB into many GB). Sizes
    are the inflated sizes the zip declares, which are also the most Python reads of a member.
    Set with ``FER_ZIP_MAX_MEMBER_MB``, ``FER_ZIP_MAX_TOTAL_MB`` and ``FER_ZIP_MAX_MEMBERS``."""

    max_member_bytes: int = MAX_IMAGE_BYTES  # one image, inflated: more is skipped as a bad item
    max_total_bytes: int = 2 * 2**30  # the whole zip, inflated (FER2013: 51 MB): more refuses the zip
    max_members: int = 500_000  # FER2013: 35,887 images

    @classmethod
    def from_env(cls) -> "ArchiveLimits":
        def number(name: str, default: int, scale: int = 1) -> int:
            raw = os.environ.get(name)
            try:
                return int(float(raw) * scale) if raw else default
            except ValueError:
                raise DataError(f"{name} must be a number, got '{raw}'") from None

        return cls(number("FER_ZIP_MAX_MEMBER_MB", cls.max_member_bytes, 2**20),
                   number("FER_ZIP_MAX_TOTAL_MB", cls.max_total_bytes, 2**20),
                   number("FER_ZIP_MAX_MEMBERS", cls.max_members))


def zip_entries(zf: zipfile.ZipFile, limits: ArchiveLimits | None = None) -> list[ArchiveEntry]:
    """The zip's files, each read only when asked for; members over the size limit, encrypted,
    compressed with an unknown method or damaged fail alone, as bad items (``DataError``)."""
    limits = limits or ArchiveLimits.from_env()
    infos = [info for info in zf.infolist() if not info.is_dir()]
    if len(infos) > limits.max_members:
        raise DataError(f"the zip holds {len(infos):,} files; the limit is {limits.max_members:,} "
                        "(FER_ZIP_MAX_MEMBERS)")
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise DataError(f"the zip would inflate to {total / 2**20:,.0f} MB; the limit is "
                        f"{limits.max_total_bytes / 2**20:,.0f} MB (FER_ZIP_MAX_TOTAL_MB)")
    entries = []
    for info in infos:
        name = info.filename
        if "__MACOSX" in name.split("/") or PurePosixPath(name).name.startswith("."):
            continue
        entries.append(ArchiveEntry(name, lambda info=info: _read_member(zf, info, limits)))
    return entries


ZIP_OPEN_ERRORS = (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError, zlib.error)


def open_zip(source: str | os.PathLike | BinaryIO) -> zipfile.ZipFile:
    """``zipfile.ZipFile(source)``, or a ``DataError`` saying the file is not a valid zip: a mangled
    central directory can raise any of ``ZIP_OPEN_ERRORS`` (NotImplementedError for a made-up
    'zip file version 6.4', found by tests/test_fuzz.py's long run), not only BadZipFile."""
    try:
        return zipfile.ZipFile(source)
    except ZIP_OPEN_ERRORS as exc:
        raise DataError(f"not a valid zip file ({type(exc).__name__}: {exc})") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    if info.file_size > limits.max_member_bytes:
        raise DataError(f"zip member too large when inflated ({info.file_size / 2**20:,.0f} MB; the limit is "
                        f"{limits.max_member_bytes / 2**20:,.0f} MB)")
    try:
        return zf.read(info)
    except NotImplementedError as exc:  # (a RuntimeError too: it must come first)
        raise DataError(f"zip member compressed with a method Python cannot read ({exc})") from None
    except RuntimeError as exc:  # zipfile's word for an encrypted member
        raise DataError(f"encrypted zip member ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise DataError(f"damaged zip member ({type(exc).__name__}: {exc})") from None


def folder_entries(root: Path) -> list[ArchiveEntry]:
    """The folder's files (links followed to regular files only, when read: ``read_image_file``)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            full = Path(dirpath) / filename
            entries.append(ArchiveEntry(full.relative_to(root).as_posix(), lambda full=full: read_image_file(full)))
    return entries


def _strip_common_root(entries: list[ArchiveEntry]) -> list[ArchiveEntry]:
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


def _classify_entries(
    entries: list[ArchiveEntry], report: LoadReport, strict: bool
) -> list[tuple[ArchiveEntry, str | None, int]]:
    """Assign each image entry a split (or None = unassigned) and a class index."""
    assigned: list[tuple[ArchiveEntry, str | None, int]] = []
    for entry in entries:
        path = PurePosixPath(entry.name)
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            _problem(report, strict, entry.name, f"not an image file (extension '{path.suffix or 'none'}')")
            continue
        parts = path.parts
        split: str | None = None
        if len(parts) >= 3 and parts[0].lower() in SPLIT_FOLDER_NAMES:
            split = SPLIT_FOLDER_NAMES[parts[0].lower()]
            class_folder = parts[-2]
        elif len(parts) >= 2:
            class_folder = parts[-2]
        else:
            _problem(report, strict, entry.name, "image is not inside a class folder")
            continue
        label = CLASS_SYNONYMS.get(class_folder.lower())
        if label is None:
            _problem(
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


def _problem(report: LoadReport, strict: bool, item: str, reason: str) -> None:
    if strict:
        raise DataError(f"{report.source}: {item}: {reason}")
    report.problems.append(Problem(item, reason))


def _decode_all(
    items: list[tuple[ArchiveEntry, str | None, int]],
    report: LoadReport,
    strict: bool,
    progress: Callable[[int, int], None] | None,
    detect_faces: bool = False,
) -> list[tuple[str, str | None, int, np.ndarray]]:
    def work(item: tuple[ArchiveEntry, str | None, int]):
        entry, split, label = item
        try:
            if detect_faces:
                return (entry.name, split, label, *_face_of_photo(entry.read()), None)
            return entry.name, split, label, decode_face_image(entry.read()), True, None
        except DataError as exc:
            return entry.name, split, label, None, False, str(exc)

    decoded = []
    total = len(items)
    # The face detector is one shared model per process: photos go through it one at a time.
    workers = 1 if detect_faces else min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (name, split, label, array, found, error) in enumerate(pool.map(work, items, chunksize=256), 1):
            if error is not None:
                _problem(report, strict, name, error)
            else:
                decoded.append((name, split, label, array))
                if not found:
                    report.no_face.append(name)
            if progress and (done % 1000 == 0 or done == total):
                progress(done, total)
    return decoded


def _face_of_photo(data: bytes) -> tuple[np.ndarray, bool]:
    """The photo's largest face cropped as Predict crops it, or the whole photo if none is found."""
    from fer_core.data.faces import decode_photo, largest_face_crop

    image = decode_photo(data)
    face = largest_face_crop(image)
    return (face, True) if face is not None else (image_to_face_array(image), False)


def _splits_from_images(decoded: list[tuple[str, str | None, int, np.ndarray]]) -> dict[str, Split]:
    by_split: dict[str, list[tuple[str, int, np.ndarray]]] = {}
    for name, split, label, array in decoded:
        by_split.setdefault(split or "train", []).append((name, label, array))
    splits = {}
    for split_name, rows in by_split.items():
        splits[split_name] = Split(
            images=np.stack([r[2] for r in rows]).astype(np.uint8),
            labels=np.array([r[1] for r in rows], dtype=np.int64),
            files=[r[0] for r in rows],
        )
    return splits


def _carve_val(splits: dict[str, Split], options: LoadOptions) -> dict[str, Split]:
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


def _order_splits(splits: dict[str, Split]) -> dict[str, Split]:
    return {name: splits[name] for name in SPLITS if name in splits}


def _load_image_tree(
    entries: list[ArchiveEntry], source: str, options: LoadOptions, progress: Callable[[int, int], None] | None
) -> FERDataset:
    report = LoadReport(source=source)
    entries = _strip_common_root(entries)
    items = _classify_entries(entries, report, options.strict)
    decoded = _decode_all(items, report, options.strict, progress, options.detect_faces)
    if not decoded:
        raise DataError(f"{source}: no usable images found ({report.summary()})")
    splits = _carve_val(_splits_from_images(decoded), options)
    return FERDataset(_order_splits(splits), report)


def image_entries_by_split(path: str | os.PathLike) -> list[tuple[str, str, bytes]]:
    """(split, name, bytes) of each image file in a folder or zip dataset, classified exactly as
    ``load_dataset`` classifies them ('train' where the source names no split); items it would
    skip are left out. For ``fer_core.data.pack``, which stores the files' own bytes."""
    path = Path(path).expanduser()

    def classified(entries: list[ArchiveEntry]) -> list[tuple[str, str, bytes]]:
        items = _classify_entries(_strip_common_root(entries), LoadReport(str(path)), strict=False)
        return [(split or "train", entry.name, entry.read()) for entry, split, _ in items]

    if path.is_dir():
        return classified(folder_entries(path))
    try:
        zf = open_zip(path)
    except DataError as exc:
        raise DataError(f"{path}: not a dataset folder or {exc}") from None
    try:
        with zf:  # a member's limits or damage are its own DataError, as load_dataset reports them
            return classified(zip_entries(zf))
    except ZIP_OPEN_ERRORS as exc:
        raise DataError(f"{path}: not a dataset folder or a valid zip file ({exc})") from None


def _load_pack(path: Path, options: LoadOptions, progress: Callable[[int, int], None] | None) -> FERDataset:
    from fer_core.data.packfile import PackError, read_pack

    try:
        images = read_pack(path)
    except PackError as exc:
        raise DataError(str(exc)) from exc
    entries = [ArchiveEntry(image.name, lambda data=image.data: data) for image in images]
    if not entries:
        raise DataError(f"{path}: the pack holds no images")
    return _load_image_tree(entries, str(path), options, progress)


CSV_FIELD_LIMIT = 64 * 2**20  # characters in one CSV field; a real pixels field has about 9,000


def _csv_rows(reader, report: LoadReport, strict: bool):
    """(line number, row) for each row the reader can parse; a row it cannot (an unclosed quote
    swallowing the file, a field over ``CSV_FIELD_LIMIT``) is a bad row, and reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            _problem(report, strict, f"row {reader.line_num}", f"not a readable CSV row ({exc})")
            continue
        yield reader.line_num, row


def _load_csv(path: Path, options: LoadOptions, progress: Callable[[int, int], None] | None) -> FERDataset:
    report = LoadReport(source=str(path))
    rows: dict[str, tuple[list[np.ndarray], list[int], list[str]]] = {}
    # Bytes that are not UTF-8 become U+FFFD, so a damaged row is reported as a bad row, by number,
    # and the rest of the file still loads; a field may be as long as a real pixels field many times.
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise DataError(f"{path}: the CSV file is empty") from None
        except csv.Error as exc:
            raise DataError(f"{path}: the CSV header cannot be read ({exc})") from None
        if "emotion" not in header or "pixels" not in header:
            raise DataError(f"{path}: CSV header must have 'emotion' and 'pixels' columns, found {header}")
        emotion_col, pixels_col = header.index("emotion"), header.index("pixels")
        usage_col = header.index("usage") if "usage" in header else None
        expected = IMAGE_SIZE * IMAGE_SIZE
        for line_number, row in _csv_rows(reader, report, options.strict):
            item = f"row {line_number}"
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                _problem(report, options.strict, item, f"expected {len(header)} columns, found {len(row)}")
                continue
            try:
                label = int(row[emotion_col])
            except ValueError:
                _problem(report, options.strict, item, f"emotion '{row[emotion_col]}' is not an integer")
                continue
            if not 0 <= label < len(CLASSES):
                _problem(report, options.strict, item, f"unknown label {label} (expected 0-{len(CLASSES) - 1})")
                continue
            try:
                pixels = np.array(row[pixels_col].split(), dtype=np.int64)
            except (ValueError, OverflowError):
                _problem(report, options.strict, item, "pixels are not all integers (or too large for one)")
                continue
            if pixels.size != expected:
                _problem(report, options.strict, item, f"expected {expected} pixels, found {pixels.size}")
                continue
            if pixels.min() < 0 or pixels.max() > 255:
                _problem(report, options.strict, item, "pixel values outside 0-255")
                continue
            split = "train"
            if usage_col is not None:
                usage = row[usage_col].strip().lower()
                if usage not in USAGE_NAMES:
                    _problem(report, options.strict, item, f"unknown Usage '{row[usage_col]}'")
                    continue
                split = USAGE_NAMES[usage]
            images, labels, names = rows.setdefault(split, ([], [], []))
            images.append(pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
            labels.append(label)
            names.append(item)
            if progress and line_number % 2000 == 0:
                progress(line_number, 0)
    if not rows:
        raise DataError(f"{path}: no usable rows ({report.summary()})")
    splits = {
        name: Split(np.stack(images), np.array(labels, dtype=np.int64), names)
        for name, (images, labels, names) in rows.items()
    }
    return FERDataset(_order_splits(_carve_val(splits, options)), report)


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    env = os.environ.get("FER_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fer_studio"


def content_key(path: Path, options: LoadOptions) -> str:
    """A hash of the source's bytes (every file's, for a folder) and the load options."""
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_FORMAT_VERSION}|{options.strict}|{options.val_fraction}|{options.seed}|"
                  f"{options.detect_faces}".encode())
    if path.is_dir():
        for entry in folder_entries(path):
            digest.update(entry.name.encode())
            digest.update(b"\0")
            try:
                digest.update(hashlib.sha256(entry.read()).digest())
            except DataError as exc:  # a file that will be skipped: what is wrong with it is its content here
                digest.update(f"unreadable: {exc}".encode())
    else:
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:32]


def _save_cache(path: Path, dataset: FERDataset) -> None:
    arrays = {}
    for name, split in dataset.splits.items():
        arrays[f"{name}_images"] = split.images
        arrays[f"{name}_labels"] = split.labels
        arrays[f"{name}_files"] = np.array(split.files, dtype=np.str_)
    with atomic_path(path.with_suffix(".npz")) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json_atomic(
        path.with_suffix(".json"),
        {
            "source": dataset.report.source,
            "splits": list(dataset.splits),
            "problems": [[p.item, p.reason] for p in dataset.report.problems],
            "no_face": dataset.report.no_face,
        },
    )


def _load_cache(path: Path) -> FERDataset | None:
    meta_path, npz_path = path.with_suffix(".json"), path.with_suffix(".npz")
    if not (meta_path.exists() and npz_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(npz_path, allow_pickle=False) as npz:
            splits = {
                name: Split(npz[f"{name}_images"], npz[f"{name}_labels"], npz[f"{name}_files"].tolist())
                for name in meta["splits"]
            }
    except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile):
        return None  # a damaged cache entry is rebuilt, never trusted
    report = LoadReport(meta["source"], [Problem(i, r) for i, r in meta["problems"]], from_cache=True,
                        no_face=list(meta.get("no_face", [])))
    return FERDataset(splits, report)


# --------------------------------------------------------------------------- entry point


def existing_dataset_path(path: str | os.PathLike) -> Path:
    """The dataset path, checked to exist (an empty path is an error, not the current folder)."""
    if not str(path).strip():
        raise DataError("no dataset given (an empty path)")
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"{path}: not a regular file or folder (a pipe, device or socket)")
    return path


def load_dataset(
    path: str | os.PathLike,
    options: LoadOptions | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> FERDataset:
    """Load a FER dataset from a CSV file, a zip, or a folder; see the module docstring."""
    options = options or LoadOptions()
    path = existing_dataset_path(path)
    cache_file = None
    if use_cache:
        cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
        cache_file = cache_root / content_key(path, options)
        cached = _load_cache(cache_file)
        if cached is not None:
            cached.report.source = str(path)
            return cached

    if path.is_dir():
        entries = folder_entries(path)
        if not entries:
            raise DataError(f"{path}: the folder is empty")
        dataset = _load_image_tree(entries, str(path), options, progress)
    elif path.suffix.lower() == ".zip":
        try:
            zf = open_zip(path)
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
        try:
            with zf:
                entries = zip_entries(zf)
                if not entries:
                    raise DataError(f"{path}: the zip file holds no files")
                dataset = _load_image_tree(entries, str(path), options, progress)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{path}: not a valid zip file ({exc})") from exc
    elif path.suffix.lower() == ".csv":
        dataset = _load_csv(path, options, progress)
    elif path.suffix.lower() == ".ferpack":
        dataset = _load_pack(path, options, progress)
    else:
        raise DataError(f"{path}: unsupported dataset (expected a .csv file, a .zip file, a .ferpack file or a "
                        "folder)")

    if cache_file is not None:
        try:
            _save_cache(cache_file, dataset)
        except OSError:
            pass  # an unwritable cache only costs speed
    return dataset


def stratified_fraction(split: Split, fraction: float, seed: int) -> Split:
    """A stratified, seeded subset of a split, for quick runs."""
    if fraction >= 1.0:
        return split
    if not 0 < fraction < 1:
        raise ValueError(f"data fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(split.labels):
        idx = np.flatnonzero(split.labels == label)
        count = max(1, int(round(len(idx) * fraction)))
        keep.append(rng.choice(idx, size=count, replace=False))
    return split.subset(np.sort(np.concatenate(keep)))
