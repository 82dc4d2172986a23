"""Does it work on my photos? A model measured on labelled whole photos, as the Predict page answers.

A photo dataset is a folder or a ``.zip`` of photos whose label is their class folder's name (a
class or a synonym: ``happy/``, ``happiness/``, ...), or a flat set with a labels CSV (columns
``file`` and ``label``; optional ``ambiguous`` yes/no and any others, e.g. who labelled it). Each
photo goes through the ``AnswerSpec`` exactly as on the Predict page (its detector, framing, TTA,
calibration); its largest face is the answer. A labels file may also give a face's box
(``x,y,width,height``, as the Predict page's corrections and a collection's ``predictions.csv``
have them): then the labelled face is the one found there (the detected face overlapping it most,
at least 0.3 IoU), and a photo may hold several labelled faces. Rows with an empty label (a
``predictions.csv`` not filled in everywhere) are left out. A photo where no face is found is a miss: counted,
listed, never silently dropped. The figures are FER2013's (accuracy, macro-F1, per-class recall,
the confusion matrix, each with its 95% interval) over the photos answered, beside the share of
photos answered. A user's set rarely holds all seven classes (the shared photos hold three), so the
summary also gives macro-F1 over the classes present: over all seven, each absent class counts as
an F1 of 0 and 39 photos of happy, neutral and sad could score at most 3/7 = 0.43.

``also_detectors`` counts, for each further detector setting, the photos in which it finds a face
(detection only, no model): which detector to pick for a set is a question of misses first.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer_core.faces.boxes import FaceBox
from fer_core.faces.detectors import check_detector, detect_faces
from fer_core.faces.tracking import iou
from fer_core.data.corrections import box_of
from fer_core.data.naming import CLASS_SYNONYMS
from fer_core.data.photo_files import LABELS_FILE, open_photo_set
from fer_core.errors import DataError
from fer_core.fileio import atomic_path, write_json_atomic, write_text_atomic
from fer_core.evaluation.metrics import compute_metrics
from fer_core.media.photos import FaceResult, PhotoResult
from fer_core.evaluation.statistics import wilson
from fer_core.labels import CLASSES
from fer_core.run_files import METRICS_FILE

if TYPE_CHECKING:
    from fer_core.answering.answerer import Answerer
    from fer_core.answering.spec import AnswerSpec

MIN_BOX_IOU = 0.3  # a labelled box and a detected face this much overlapped are the same face


@dataclass(frozen=True)
class PhotoLabel:
    """A labelled face of a photo: its class index, whether labelled ambiguous, and its box in the
    photo (None: the photo's largest face)."""

    label: int
    ambiguous: bool = False
    box: tuple[int, int, int, int] | None = None


@dataclass
class LabelledAnswer:
    """One labelled face and what the model made of it (None: no face found there)."""

    name: str
    label: int
    ambiguous: bool = False
    face: FaceResult | None = None
    box: tuple[int, int, int, int] | None = None  # the labelled box, if the labels gave one

    @property
    def predicted(self) -> int | None:
        return None if self.face is None else CLASSES.index(self.face.top)


@dataclass
class PhotoEvaluation:
    name: str
    spec: AnswerSpec
    answers: list[LabelledAnswer] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unreadable or not an image
    found_by: dict[str, int] = field(default_factory=dict)  # further detector -> photos with a face found

    @property
    def answered(self) -> list[LabelledAnswer]:
        return [a for a in self.answers if a.face is not None]

    @property
    def missed(self) -> list[LabelledAnswer]:
        return [a for a in self.answers if a.face is None]

    def metrics(self, clear_only: bool = False) -> dict[str, Any]:
        """FER2013's figures over the photos answered (``clear_only``: without those labelled ambiguous)."""
        chosen = [a for a in self.answered if not (clear_only and a.ambiguous)]
        if not chosen:
            raise DataError(f"no face found in any of the {len(self.answers)} labelled photos of {self.name}: try "
                            "another detector (or check that they show faces)")
        probabilities = np.array([[a.face.probabilities[c] for c in CLASSES] for a in chosen])
        labels = np.array([a.label for a in chosen])
        metrics = compute_metrics(labels, probabilities, self.name)
        present = sorted(set(labels.tolist()))
        metrics["classes_present"] = [CLASSES[k] for k in present]
        metrics["macro_f1_present"] = float(np.mean([metrics["per_class"][CLASSES[k]]["f1"] for k in present]))
        return metrics

    def summary(self) -> dict[str, Any]:
        found = len(self.answered)
        metrics = self.metrics()
        summary = {"photos": self.name, "answer": self.spec.describe(), "labelled_photos": len(self.answers),
                   "faces_found": found, "found_share": found / max(1, len(self.answers)),
                   "found_share_95": wilson(found, len(self.answers)),
                   "found_by_detector": self.found_by_detector(),
                   "missed": [a.name for a in self.missed], "skipped": [list(s) for s in self.skipped],
                   **metrics}
        if any(a.ambiguous for a in self.answered):
            clear = self.metrics(clear_only=True)
            summary["clear_only"] = {k: clear[k] for k in ("n", "accuracy", "macro_f1", "macro_f1_present",
                                                           "intervals")}
        return summary

    def found_by_detector(self) -> dict[str, dict[str, Any]]:
        """Photos with a face found, per detector setting: the spec's own, then each one of
        ``also_detectors`` (share and its Wilson interval)."""
        total = len(self.answers)
        counts = {self.spec.detector_words: len(self.answered), **self.found_by}
        return {name: {"found": n, "share": n / max(1, total), "share_95": wilson(n, total)}
                for name, n in counts.items()}

    def rows(self) -> list[dict[str, Any]]:
        """One row per labelled photo: its label, the answer (or none), and each class's probability."""
        return [{"file": a.name, "box": " ".join(map(str, a.box)) if a.box else None,
                 "label": CLASSES[a.label], "ambiguous": a.ambiguous,
                 "predicted": a.face.top if a.face else None,
                 "correct": None if a.face is None else a.predicted == a.label,
                 **{c: (a.face.probabilities[c] if a.face else None) for c in CLASSES}} for a in self.answers]

    def mistakes(self) -> list[LabelledAnswer]:
        """The photos answered wrongly, most confident first."""
        wrong = [a for a in self.answered if a.predicted != a.label]
        return sorted(wrong, key=lambda a: -a.face.probabilities[a.face.top])


def evaluate_photos(answerer: "Answerer", source: str | os.PathLike | BinaryIO,
                    labels_file: str | os.PathLike | None = None, name: str | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    max_photos: int | None = None, also_detectors: tuple[str, ...] = ()) -> PhotoEvaluation:
    """Measure ``answerer`` (``spec.load()``) on the labelled photos of ``source`` (a folder, a
    ``.zip`` path, or an uploaded zip's file object); ``also_detectors``: further detectors whose
    found share is counted too. ``DataError``, in one line, for: no labelled photo, a class folder
    or label that names no class, a labels file that names photos the set does not have."""
    from fer_core.media.collections import answer_in_chunks

    spec = answerer.spec
    others = [check_detector(d) for d in dict.fromkeys(also_detectors) if d != spec.detector_words]
    evaluation = PhotoEvaluation(name or Path(getattr(source, "name", None) or str(source)).name, spec)
    with open_photo_set(source, max_photos) as collection:
        evaluation.skipped.extend(collection.skipped)
        labels = _labels(collection, labels_file)
        photos = [(n, read) for n, read in collection.photos if n in labels]
        evaluation.skipped.extend((n, "no label (not in a class folder or the labels file)")
                                  for n, _ in collection.photos if n not in labels)
        if not photos:
            raise DataError(f"no labelled photo in {evaluation.name}: put photos in class folders ({', '.join(CLASSES)} "
                            f"or a synonym) or give a labels CSV (file,label)")
        found: dict[str, dict[str, bool]] = {}  # photo -> does each of the other detectors find a face in it

        def detect_with_others(photo_name: str, image: Image.Image) -> None:  # the model's own decoding of it
            found[photo_name] = {detector: bool(detect_faces(image, detector)) for detector in others}

        for result in answer_in_chunks(answerer, photos, evaluation.skipped, progress=progress,
                                       decoded=detect_with_others if others else None):
            for labelled in labels[result.name]:
                evaluation.answers.append(LabelledAnswer(result.name, labelled.label, labelled.ambiguous,
                                                         labelled_face(result, labelled.box), labelled.box))
        if others:  # a photo once per labelled face, as the spec's own count has it
            evaluation.found_by = {detector: sum(found[a.name][detector] for a in evaluation.answers)
                                   for detector in others}
    return evaluation


def labelled_face(result: PhotoResult, box: tuple[int, int, int, int] | None) -> FaceResult | None:
    """The face a label means: the largest for a label without a box, else the answered face that
    overlaps the box most (a whole-image answer counts as the whole photo's box), if by
    ``MIN_BOX_IOU`` at least."""
    if box is None or not result.faces:
        return result.faces[0] if result.faces else None
    target = FaceBox(*box)
    overlaps = [(iou(face.box or FaceBox(0, 0, result.width, result.height), target), face)
                for face in result.faces]
    best, face = max(overlaps, key=lambda pair: pair[0])
    return face if best >= MIN_BOX_IOU else None


def _labels(collection, labels_file: str | os.PathLike | None) -> dict[str, list[PhotoLabel]]:
    """Photo name -> its labelled faces: from a labels CSV (given, or ``labels.csv`` at the set's
    top), else from each photo's class folder (one label, its largest face)."""
    text = None
    try:
        if labels_file is not None:
            text = Path(labels_file).read_text(encoding="utf-8")
        elif LABELS_FILE in collection.texts:
            text = collection.texts[LABELS_FILE]().decode("utf-8")
    except (OSError, UnicodeDecodeError, DataError) as exc:
        raise DataError(f"{labels_file or LABELS_FILE}: cannot read the labels file ({exc})") from None
    if text is not None:
        return _labels_from_csv(text, {n for n, _ in collection.photos}, str(labels_file or LABELS_FILE))
    labels, unknown = {}, set()
    for photo_name, _ in collection.photos:
        parts = PurePosixPath(photo_name).parts
        if len(parts) < 2:
            continue  # not in a folder: unlabelled (listed by the caller's count)
        label = CLASS_SYNONYMS.get(parts[-2].lower())
        if label is None:
            unknown.add(parts[-2])
        else:
            labels[photo_name] = [PhotoLabel(label)]
    if unknown:
        raise DataError(f"class folder{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in sorted(unknown))} "
                        f"name{'' if len(unknown) > 1 else 's'} no class (expected {', '.join(CLASSES)} or a synonym)")
    return labels


def _labels_from_csv(text: str, names: set[str], where: str) -> dict[str, list[PhotoLabel]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise DataError(f"{where}: a labels file has a header with the columns file and label")
    by_base = {PurePosixPath(n).name: n for n in names}
    labels, missing = {}, []
    for line, row in enumerate(rows, start=2):
        if not (row.get("label") or "").strip():
            continue  # not labelled (yet): a predictions.csv filled in for some faces only
        label = CLASS_SYNONYMS.get(row["label"].strip().lower())
        if label is None:
            raise DataError(f"{where}, line {line}: '{row.get('label')}' is not a class ({', '.join(CLASSES)})")
        photo = row["file"].strip()
        name = photo if photo in names else by_base.get(photo)
        if name is None:
            missing.append(photo)
            continue
        try:
            box = box_of(row)
        except DataError as exc:
            raise DataError(f"{where}, line {line}: {exc}") from None
        ambiguous = (row.get("ambiguous") or "").strip().lower() in ("yes", "true", "1")
        faces = labels.setdefault(name, [])
        faces[:] = [f for f in faces if f.box != box]  # a face labelled twice: the later row holds
        faces.append(PhotoLabel(label, ambiguous, box))
    if missing:
        raise DataError(f"{where} names {len(missing)} photo(s) the set does not have: {', '.join(missing[:5])}"
                        + (" ..." if len(missing) > 5 else ""))
    return labels


def mistakes_grid(evaluation: PhotoEvaluation, count: int = 24, columns: int = 6, tile: int = 96) -> Image.Image:
    """The misclassified photos' faces as the model saw them, most confident first, each captioned
    'true -> answered p'."""
    wrong = evaluation.mistakes()[:count]
    rows = max(1, -(-len(wrong) // columns))
    grid = Image.new("RGB", (columns * tile, rows * (tile + 28)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=11)
    for k, answer in enumerate(wrong):
        x, y = (k % columns) * tile, (k // columns) * (tile + 28)
        grid.paste(Image.fromarray(answer.face.crop).resize((tile, tile), Image.Resampling.BILINEAR).convert("RGB"),
                   (x, y))
        draw.text((x + 2, y + tile + 1), f"{CLASSES[answer.label]} -> {answer.face.top}", fill="black", font=font)
        draw.text((x + 2, y + tile + 14), f"{answer.face.probabilities[answer.face.top]:.0%} "
                                          f"{PurePosixPath(answer.name).name[:12]}", fill="grey", font=font)
    return grid


def write_photo_report(evaluation: PhotoEvaluation, out_dir: str | os.PathLike) -> dict[str, Any]:
    """``metrics.json`` (the summary), ``predictions.csv`` (a row a photo) and ``misclassified.png``."""
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = evaluation.summary()
    write_json_atomic(out / METRICS_FILE, summary)
    write_text_atomic(out / "predictions.csv", pd.DataFrame(evaluation.rows()).to_csv(index=False))
    with atomic_path(out / "misclassified.png") as tmp:
        mistakes_grid(evaluation).save(tmp, format="PNG")
    return summary
