"""A user's corrections: the true class of faces the model answered, kept as a labelled photo set.

The Predict page lets a user set the class of any face it found. Each corrected photo is kept once
under the corrections folder (the ``corrections_dir`` setting; by default ``<data root>/corrections``)
under a name made of its content (``fileio.save_by_content``: a user's file name never becomes a
path), beside one ``labels.csv`` with a row a face:

    file,label,x,y,width,height,source,predicted,model,corrected_at

``x,y,width,height`` is the face's box in the photo as the detector found it (empty: the whole
photo was the face); ``source`` the photo's own name, ``predicted`` what the model had answered.
That is the labelled-photo-set format ``evaluate --data FOLDER --detector ...`` and ``adapt`` read
(``fer_core.evaluation.photo_evaluation``), so **Your photos** measures a model on the corrections
and **Adapt** learns from them; they are on disk, so they survive reloads and restarts.

Saving rewrites ``labels.csv`` atomically under a lock (two browser tabs correcting at once lose
nothing); a face set back to no class is taken out.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from fer_core.data.naming import CLASS_SYNONYMS, IMAGE_EXTENSIONS
from fer_core.data.photo_files import LABELS_FILE
from fer_core.errors import DataError
from fer_core.fileio import content_name, save_by_content, write_text_atomic
from fer_core.labels import CLASSES

COLUMNS = ("file", "label", "x", "y", "width", "height", "source", "predicted", "model", "corrected_at")
BOX_COLUMNS = ("x", "y", "width", "height")


@dataclass(frozen=True)
class Correction:
    """One face's true class: the stored photo's name, the class, the face's box (None: the whole
    photo), and where it came from."""

    file: str
    label: str
    box: tuple[int, int, int, int] | None = None
    source: str = ""
    predicted: str = ""
    model: str = ""
    corrected_at: str = ""

    @property
    def key(self) -> tuple[str, tuple[int, int, int, int] | None]:
        return self.file, self.box

    def row(self) -> dict[str, str]:
        values = {k: str(v) for k, v in asdict(self).items() if k != "box"}
        return {**values, **dict(zip(BOX_COLUMNS, map(str, self.box) if self.box else [""] * 4))}


def checked_class(label: str) -> str:
    """``label`` as one of the seven classes (synonyms accepted), else a ``DataError`` naming them."""
    index = CLASS_SYNONYMS.get(str(label).strip().lower())
    if index is None:
        raise DataError(f"'{label}' is not a class ({', '.join(CLASSES)})")
    return CLASSES[index]


def box_of(row: dict[str, str]) -> tuple[int, int, int, int] | None:
    """The face box of a labels row (``x,y,width,height``), None when the row has none (the whole
    photo, or a labels file without box columns); a ``DataError`` for a box that is not four numbers."""
    values = [(row.get(k) or "").strip() for k in BOX_COLUMNS]
    if not any(values):
        return None
    try:
        box = tuple(int(round(float(v))) for v in values)
    except ValueError:
        raise DataError(f"face box {','.join(values)} is not four numbers (x,y,width,height)") from None
    return box  # type: ignore[return-value]


class CorrectionStore:
    """The corrections folder: its photos and ``labels.csv``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.labels_path = self.folder / LABELS_FILE

    def read(self) -> list[Correction]:
        """Every correction kept ([] when there are none yet)."""
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{self.labels_path}: cannot read the corrections ({exc})") from None
        return [Correction(row["file"], row["label"], box_of(row), row.get("source", ""), row.get("predicted", ""),
                           row.get("model", ""), row.get("corrected_at", ""))
                for row in csv.DictReader(io.StringIO(text)) if row.get("file") and row.get("label")]

    def by_key(self) -> dict[tuple, Correction]:
        return {c.key: c for c in self.read()}

    def keep_photo(self, name: str, data: bytes) -> str:
        """The photo stored once by its content; the stored file's name (what ``labels.csv`` names)."""
        try:
            return save_by_content(self.folder, data, photo_suffix(name)).name
        except OSError as exc:
            raise DataError(f"cannot keep corrections in {self.folder} ({exc.strerror or exc}); set the "
                            "corrections_dir setting (FER_CORRECTIONS_DIR) to a writable folder") from None

    def save(self, name: str, data: bytes, faces: Iterable[tuple[tuple[int, int, int, int] | None, str | None, str]],
             model: str) -> int:
        """Set the classes of the faces of one photo (``name``, its bytes): for each face its box,
        its true class (None: no correction, any kept one is taken out) and what the model
        answered. Returns how many corrections that photo has now."""
        wanted = [(box, None if label in (None, "") else checked_class(label), predicted)
                  for box, label, predicted in faces]
        stored = self.keep_photo(name, data)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with self._locked():
            kept = self.by_key()
            for box, label, predicted in wanted:
                key = (stored, box)
                if label is None:
                    kept.pop(key, None)
                elif key not in kept or kept[key].label != label:
                    kept[key] = Correction(stored, label, box, name, predicted, model, stamp)
            self._write(kept.values())
        return sum(1 for file, _ in kept if file == stored)

    def labels_for(self, data: bytes, name: str) -> dict[tuple[int, int, int, int] | None, str]:
        """The kept classes of one photo's faces, by box (what the Predict page shows as already corrected)."""
        stored = content_name(data, photo_suffix(name))
        return {c.box: c.label for c in self.read() if c.file == stored}

    def counts(self) -> dict[str, int]:
        """Corrected faces per class, in the classes' order (classes with none left out)."""
        found = [c.label for c in self.read()]
        return {c: found.count(c) for c in CLASSES if c in found}

    def _write(self, corrections: Iterable[Correction]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for correction in sorted(corrections, key=lambda c: (c.file, c.box or ())):
            writer.writerow(correction.row())
        write_text_atomic(self.labels_path, buffer.getvalue())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".labels.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def photo_suffix(name: str) -> str:
    """A kept photo's suffix: its own when it is an image's, else ``.jpg`` (a camera snapshot)."""
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if suffix in IMAGE_EXTENSIONS else ".jpg"
