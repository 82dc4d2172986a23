"""A photo collection's expressions: every face of every photo of a zip or folder, and their summary.

The photos come from ``fer_core.data.photo_files`` (read one at a time, a zip never extracted) and
go through ``photos.analyze_photos`` a few at a time, each chunk one turn at the model (the
``Answerer``'s slot), so a progress bar moves and other users of the dashboard get the model
between chunks. Photos that cannot be decoded are skipped and listed
with their reason, beside the files that are not images.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer_core.labels import CLASSES
from fer_core.errors import DataError
from fer_core.data.photo_files import open_photo_set
from fer_core.fileio import write_texts_atomic
from fer_core.media.photos import FaceResult, PhotoResult, analyze_photos, results_rows

if TYPE_CHECKING:
    import pandas as pd

    from fer_core.answering.answerer import Answerer

CHUNK = 8  # photos per model call: small enough for a lively progress bar and fair turns


@dataclass
class CollectionAnalysis:
    name: str
    results: list[PhotoResult] = field(default_factory=list)  # decoded photos, with or without faces
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not images, not decodable

    @property
    def faces(self) -> list[tuple[str, FaceResult]]:
        return [(r.name, f) for r in self.results for f in r.faces]

    def table(self) -> "pd.DataFrame":
        """One row per face (file, face, box, detector score, top, an empty ``label``, the 7
        probabilities); photos with no face have a row with an empty face and 'no face found'.
        ``label`` is for the user: a ``predictions.csv`` with some labels filled in is a labels file
        that ``evaluate --photo-labels`` and ``adapt --labels`` read beside the collection."""
        import pandas as pd  # imported when asked: a base install (no pandas) answers photos without it

        table = pd.DataFrame(results_rows(self.results))
        table.insert(table.columns.get_loc("top") + 1 if "top" in table else len(table.columns), "label", None)
        return table

    def distribution(self) -> "pd.Series":
        """Faces per predicted class, in the classes' order."""
        import pandas as pd

        counts = pd.Series([f.top for _, f in self.faces], dtype=object).value_counts()
        return counts.reindex(list(CLASSES), fill_value=0).astype(int)

    def confidences(self) -> np.ndarray:
        """Each face's top-class probability."""
        return np.array([f.probabilities[f.top] for _, f in self.faces], dtype=float)

    def faces_by_class(self) -> dict[str, list[tuple[str, FaceResult]]]:
        """The faces predicted as each class, most confident first."""
        grouped: dict[str, list[tuple[str, FaceResult]]] = {c: [] for c in CLASSES}
        for name, face in self.faces:
            grouped[face.top].append((name, face))
        for faces in grouped.values():
            faces.sort(key=lambda item: -item[1].probabilities[item[1].top])
        return grouped

    def summary(self) -> dict:
        return {"collection": self.name, "photos": len(self.results), "faces": len(self.faces),
                "photos_without_face": sum(r.no_face for r in self.results),
                "faces_per_class": {c: int(n) for c, n in self.distribution().items()},
                "skipped": [{"file": name, "reason": why} for name, why in self.skipped]}

    def to_json(self) -> str:
        return json.dumps({**self.summary(), "photos_results": [r.to_dict() for r in self.results]}, indent=1)


def faces_grid(analysis: CollectionAnalysis, per_class: int = 12, tile: int = 72) -> Image.Image:
    """The faces predicted as each class, one row per class that has any, most confident first,
    each with its top-class probability under it: the page's "faces per predicted class" as a picture."""
    grouped = {c: faces for c, faces in analysis.faces_by_class().items() if faces}
    label_width, caption = 120, 14
    rows = max(1, len(grouped))
    grid = Image.new("RGB", (label_width + per_class * tile, rows * (tile + caption)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for row, (name, faces) in enumerate(grouped.items()):
        y = row * (tile + caption)
        draw.text((6, y + tile // 2 - 6), f"{name} ({len(faces)})", fill="black", font=font)
        for column, (_, face) in enumerate(faces[:per_class]):
            x = label_width + column * tile
            grid.paste(Image.fromarray(face.crop).resize((tile, tile), Image.Resampling.BILINEAR).convert("RGB"),
                       (x, y))
            draw.text((x + 3, y + tile), f"{face.probabilities[face.top]:.0%}", fill="black", font=font)
    return grid


def answer_in_chunks(answerer: "Answerer", photos: list[tuple[str, Callable[[], bytes]]],
                     skipped: list[tuple[str, str]], whole_image_if_no_face: bool = False,
                     progress: Callable[[int, int], None] | None = None,
                     decoded: Callable[[str, Image.Image], None] | None = None) -> Iterator[PhotoResult]:
    """The answers for photos given as (name, read), ``CHUNK`` at a time, each chunk one turn at the
    model (``answerer.slot``); a photo that cannot be read or decoded goes to ``skipped`` with its
    reason instead. ``progress(done, total)`` after each chunk; ``decoded``: ``analyze_photos``'s.
    Collections and photo evaluations both read their photos this way."""
    total = len(photos)
    for start in range(0, total, CHUNK):
        chunk: list[tuple[str, bytes]] = []
        for photo_name, read in photos[start:start + CHUNK]:
            try:
                chunk.append((photo_name, read()))
            except DataError as exc:
                skipped.append((photo_name, str(exc)))
        with answerer.slot():
            answered = analyze_photos(answerer, chunk, whole_image_if_no_face, decoded)
        for result in answered:
            if result.error is not None:
                skipped.append((result.name, result.error))
            else:
                yield result
        if progress is not None:
            progress(min(start + CHUNK, total), total)


def analyze_collection(answerer: "Answerer", path: str | os.PathLike | BinaryIO,
                       whole_image_if_no_face: bool = False,
                       progress: Callable[[int, int], None] | None = None,
                       max_photos: int | None = None, name: str | None = None) -> CollectionAnalysis:
    """Classify every face in the photos of a zip or folder; ``DataError`` for a collection we refuse."""
    analysis = CollectionAnalysis(name or Path(getattr(path, "name", None) or str(path)).name)
    with open_photo_set(path, max_photos) as collection:
        analysis.skipped.extend(collection.skipped)
        analysis.results.extend(answer_in_chunks(answerer, collection.photos, analysis.skipped,
                                                 whole_image_if_no_face, progress))
    return analysis


def write_collection_outputs(analysis: CollectionAnalysis, out_dir: str | os.PathLike) -> list[Path]:
    """``predictions.csv`` (one row per face) and ``predictions.json`` (summary, skipped, every photo)."""
    out_dir = Path(out_dir)
    return write_texts_atomic({out_dir / "predictions.csv": analysis.table().to_csv(index=False),
                               out_dir / "predictions.json": analysis.to_json()})
