"""Atomic file writes: a reader (the dashboard, another process) never sees half a file."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    The temporary file is created with mode 0666 through ``os.open``, so the process's umask
    applies as for any new file (results stay readable by the other users a umask allows). Reading
    the umask instead (``os.umask`` sets it to read it) would race with other threads writing
    files, as Streamlit's server threads do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_temporary(path, suffix or path.suffix)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _new_temporary(path: Path, suffix: str) -> Path:
    for _ in range(100):
        candidate = path.parent / f".{path.name}.{os.urandom(6).hex()}{suffix}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def file_sha256(path: str | os.PathLike) -> str:
    """A file's SHA-256, hex: what names a model in caches, fine-tuning records and export cards."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def content_name(data: bytes, suffix: str, name: str = "", digits: int = 16) -> str:
    """The file name ``save_by_content`` keeps ``data`` under (without keeping it)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return f"{hashlib.sha256(data).hexdigest()[:digits]}{'-' + safe if safe else ''}{suffix}"


def save_by_content(folder: str | os.PathLike, data: bytes, suffix: str, name: str = "", digits: int = 16) -> Path:
    """``data`` kept in ``folder`` under a name made of its SHA-256 (then ``-name``, then ``suffix``),
    written atomically once: an upload saved twice is stored once, and a user's file name never
    becomes a path (only its suffix, or a sanitised ``name``, is kept)."""
    path = Path(folder) / content_name(data, suffix, name, digits)
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_texts_atomic(files: dict[Path, str]) -> list[Path]:
    """Each text to its path, each atomically; the paths, in order."""
    for path, text in files.items():
        write_text_atomic(path, text)
    return list(files)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def taken_folders(out: Path, stem: str) -> tuple[list[Path], Path]:
    """The folders ``out/stem``, ``out/stem-2``, ``out/stem-3``, ... that already hold something, in
    order, and the first one that does not (empty or new): where ``predict`` writes a video's or a
    collection's files, and where a cluster run keeps its chunks."""
    taken, folder, k = [], out / stem, 2
    while folder.exists() and any(folder.iterdir()):
        taken.append(folder)
        folder, k = out / f"{stem}-{k}", k + 1
    return taken, folder
