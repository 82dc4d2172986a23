"""Model cards: the metadata JSON beside a model file, and the PublicTest measurement they report.

A card says what the model is and how well it does, from measurements, never by hand.
Cards are written by ``fer_core.training.bundle`` (which measures with
``fer_core.inference.evaluation.measure_publictest``); the dashboard and ``bundle`` read them here.
This module imports no other fer_core module, so model loading can read cards without a cycle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Test-time augmentation (fer_core.inference.tta): none, the face and its mirror, or both each also
# shifted 2 pixels four ways (10 views). Here, with no Keras import, so the command line lists them.
TTA_MODES = ("none", "flip", "multicrop")


# Exported models (fer_core.inference.export): their card is <file>.json, so that default.onnx's
# card never takes the place of default.keras's default.json in the same folder.
EXPORTED_SUFFIXES = (".onnx", ".tflite")


def card_path(model_path: str | os.PathLike) -> Path:
    """Where a model's card is: ``default.keras`` -> ``default.json``; an exported ``default.onnx``
    -> ``default.onnx.json`` (and a SavedModel folder ``saved`` -> ``saved.json``)."""
    path = Path(model_path)
    return path.with_suffix(".json") if path.suffix == ".keras" else path.with_name(path.name + ".json")


def read_model_card(model_path: str | os.PathLike) -> dict | None:
    """The metadata JSON beside a model file (``card_path``) as written, if any: for code that
    rewrites a card (calibrate, operating-point, bundle). Readers use ``ModelCard.read``."""
    card = card_path(model_path)
    try:
        data = json.loads(card.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class ModelCard:
    """A model's card, typed: what every reader asks of it, with one fallback for a model without
    one (an empty card: no figures, no temperature, no operating point, TTA ranked 'flip').

    ``data`` holds the JSON as written (``bundle``, ``calibrate``, ``operating-point``, ``export``);
    the properties are the only places its keys are spelled out for reading."""

    data: Mapping[str, Any] = field(default_factory=dict)
    exported: bool = False  # an .onnx/.tflite file's card: its TTA and temperature are inside the graph

    @classmethod
    def read(cls, model_path: str | os.PathLike) -> "ModelCard":
        """The card beside ``model_path``; an empty card when there is none or it does not parse."""
        return cls(read_model_card(model_path) or {}, Path(model_path).suffix.lower() in EXPORTED_SUFFIXES)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __bool__(self) -> bool:
        return bool(self.data)

    @property
    def name(self) -> str | None:
        return self.data.get("name")

    @property
    def architecture(self) -> str | None:
        return self.data.get("architecture")

    @property
    def metrics(self) -> dict[str, Any]:
        """The PublicTest metrics without TTA (``bundle``'s measurement); {} when unmeasured."""
        return dict(self.data.get("publictest_metrics") or {})

    @property
    def accuracy(self) -> float | None:
        """PublicTest accuracy as the model answers: an export's with its TTA inside, else without TTA."""
        return self.data.get("publictest_accuracy") or self.metrics.get("accuracy")

    @property
    def accuracy_by_tta(self) -> dict[str, float]:
        return dict(self.data.get("publictest_accuracy_by_tta") or {})

    @property
    def built_in_tta(self) -> str | None:
        """The TTA inside an exported graph; None for a Keras model."""
        return str(self.data.get("tta") or "none") if self.exported else None

    @property
    def temperature(self) -> float | None:
        """The calibration temperature (``calibrate``); None when uncalibrated or exactly 1."""
        value = self.data.get("temperature")
        return float(value) if value and float(value) != 1.0 else None

    @property
    def operating_point(self) -> dict[str, Any] | None:
        """The per-class offsets and their cross-fitted figures (``operating-point``), if fitted."""
        return self.data.get("operating_point") or None

    def best_tta(self) -> str:
        """The test-time augmentation ('none', 'flip' or 'multicrop') that scored highest on
        PublicTest by this card ('flip' without figures). By their cards that is multicrop for the
        default model (71.25% against 70.99% without and 70.55% with flip) and for the quick model
        (69.16 / 66.45 / 68.46). Multicrop classifies 10 views of each face, five times flip's work.
        An exported model's is the one built into it."""
        if self.exported and self.data.get("tta"):
            return str(self.data["tta"])
        by_tta = self.accuracy_by_tta
        return max(by_tta, key=by_tta.get) if by_tta else "flip"


def best_tta(model_path: str | os.PathLike) -> str:
    """``ModelCard.best_tta`` of the card beside ``model_path``."""
    return ModelCard.read(model_path).best_tta()
