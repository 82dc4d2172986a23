"""``fer2013.csv``: ``emotion,pixels[,Usage]`` rows, each checked on its own (a bad row is counted
and skipped, by line number, and the rest of the file still loads)."""

from __future__ import annotations

import contextlib
import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import numpy as np

from fer_core.data.dataset import FERDataset, LoadOptions, LoadReport, Split, carve_val, order_splits, record_problem
from fer_core.data.naming import USAGE_NAMES
from fer_core.errors import DataError
from fer_core.labels import CLASSES, IMAGE_SIZE


CSV_FIELD_LIMIT = 64 * 2**20  # characters in one CSV field; a real pixels field has about 9,000
_FIELD_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """``csv.field_size_limit(CSV_FIELD_LIMIT)`` while one file is read, then the caller's limit
    again: the limit is the csv module's, process-wide, so other code in the process (a notebook,
    another page of the dashboard) never sees it changed outside a read."""
    with _FIELD_LIMIT_LOCK:
        previous = csv.field_size_limit(CSV_FIELD_LIMIT)
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _csv_rows(reader, report: LoadReport, strict: bool):
    """(line number, row) for each row the reader can parse; a row it cannot (an unclosed quote
    swallowing the file, a field over ``CSV_FIELD_LIMIT``) is a bad row, and reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record_problem(report, strict, f"row {reader.line_num}", f"not a readable CSV row ({exc})")
            continue
        yield reader.line_num, row


def load_csv(path: Path, options: LoadOptions, progress: Callable[[int, int], None] | None) -> FERDataset:
    report = LoadReport(source=str(path))
    rows: dict[str, tuple[list[np.ndarray], list[int], list[str]]] = {}
    # Bytes that are not UTF-8 become U+FFFD, so a damaged row is reported as a bad row, by number,
    # and the rest of the file still loads; a field may be as long as a real pixels field many times.
    with _long_fields(), open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
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
                record_problem(report, options.strict, item, f"expected {len(header)} columns, found {len(row)}")
                continue
            try:
                label = int(row[emotion_col])
            except ValueError:
                record_problem(report, options.strict, item, f"emotion '{row[emotion_col]}' is not an integer")
                continue
            if not 0 <= label < len(CLASSES):
                record_problem(report, options.strict, item, f"unknown label {label} (expected 0-{len(CLASSES) - 1})")
                continue
            try:
                pixels = np.array(row[pixels_col].split(), dtype=np.int64)
            except (ValueError, OverflowError):
                record_problem(report, options.strict, item, "pixels are not all integers (or too large for one)")
                continue
            if pixels.size != expected:
                record_problem(report, options.strict, item, f"expected {expected} pixels, found {pixels.size}")
                continue
            if pixels.min() < 0 or pixels.max() > 255:
                record_problem(report, options.strict, item, "pixel values outside 0-255")
                continue
            split = "train"
            if usage_col is not None:
                usage = row[usage_col].strip().lower()
                if usage not in USAGE_NAMES:
                    record_problem(report, options.strict, item, f"unknown Usage '{row[usage_col]}'")
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
    return FERDataset(order_splits(carve_val(splits, options)), report)
