"""Knowledge distillation: soft labels from one or more teacher models, cached on disk.

A teacher answers each training face once, before training (offline distillation). Those answers
are cached under the cache folder by the teacher file's SHA-256 and the faces' bytes: a recipe
that learns from the shipped default (``train --preset quick --teacher default``) pays for the
teacher once per dataset (the default model with flip TTA on FER2013's 28,709 training faces:
about 100 s of a 30-minute CPU budget), not once per run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from fer_core.fileio import atomic_path, file_sha256
from fer_core.runtime.loading import checked_face_model, existing_model_path, load_model
from fer_core.runtime.model import predict_probabilities
from fer_core.settings import Settings

def soft_labels_file(teacher_path: Path, images: np.ndarray, cache_dir: Path, tta: str = "flip") -> Path:
    faces = hashlib.blake2b(np.ascontiguousarray(images).tobytes(), digest_size=16).hexdigest()
    key = hashlib.sha256(f"{file_sha256(teacher_path)}|{tta}|{images.shape}|{faces}".encode()).hexdigest()
    return cache_dir / "soft_labels" / f"{key[:32]}.npy"


def teacher_probabilities(teacher: str, images: np.ndarray, cache_dir: Path | None = None,
                          tta: str = "flip") -> np.ndarray:
    """A teacher's probabilities (with ``tta``) on the uint8 faces ``images``: from the disk cache,
    or computed and cached (atomically)."""
    path = existing_model_path(teacher, keras_only=True)
    cached = soft_labels_file(path, images, Path(cache_dir or Settings.load().cache_dir), tta)
    if cached.exists():
        return np.load(cached)
    model = checked_face_model(load_model(path, tta=tta), f"teacher {teacher}")
    probabilities = predict_probabilities(model, images).astype("float32")
    with atomic_path(cached) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, probabilities)
    return probabilities


def distillation_targets(teachers: list[str], images: np.ndarray, y: np.ndarray, weight: float,
                         cache_dir: Path | None = None, tta: str = "flip") -> np.ndarray:
    """Soft labels for knowledge distillation: ``weight`` x the teachers' mean probabilities (each
    with ``tta``) on the uint8 faces ``images`` + (1 - ``weight``) x the one-hot labels ``y``.

    The teachers see each face once, unaugmented, before training: cheap on any backend, and the
    student's own augmentation stays inside its compiled step."""
    probabilities = np.zeros_like(y)
    for teacher in teachers:
        probabilities += teacher_probabilities(teacher, images, cache_dir, tta) / len(teachers)
    return (weight * probabilities + (1 - weight) * y).astype("float32")
