"""Model cards: the metadata JSON beside a model file, and the PublicTest measurement they report.

A card says what the model is and how well it does, from measurements, never by hand.
Cards are written by ``fer_core.training.bundle`` (which measures with
``fer_core.inference.evaluation.measure_publictest``); the dashboard and ``bundle`` read them here.
This module imports no other fer_core module, so model loading can read cards without a cycle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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
    """The metadata JSON beside a model file (``card_path``), if any."""
    card = card_path(model_path)
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError):
        return None


def best_tta(model_path: str | os.PathLike) -> str:
    """The test-time augmentation ('none', 'flip' or 'multicrop') that scored highest on PublicTest by
    the model's card ('flip' without one). By their cards that is multicrop for the default model
    (71.25% against 70.99% without and 70.55% with flip) and for the quick model (69.16 / 66.45 /
    68.46). Multicrop classifies 10 views of each face, five times flip's work. An exported model's
    is the one built into it."""
    card = read_model_card(model_path) or {}
    if Path(model_path).suffix.lower() in EXPORTED_SUFFIXES and card.get("tta"):
        return card["tta"]
    by_tta = card.get("publictest_accuracy_by_tta") or {}
    if not by_tta:
        return "flip"
    return max(by_tta, key=by_tta.get)
