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


def read_model_card(model_path: str | os.PathLike) -> dict | None:
    """The metadata JSON beside a model file (``default.keras`` -> ``default.json``), if any."""
    card = Path(model_path).with_suffix(".json")
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError):
        return None


def best_tta(model_path: str | os.PathLike) -> str:
    """The test-time augmentation ('none', 'flip' or 'multicrop') that scored highest on PublicTest by
    the model's card ('flip' without one). By their cards that is multicrop for the default model
    (71.25% against 70.99% without and 70.55% with flip) and for the quick model (69.16 / 66.45 /
    68.46). Multicrop classifies 10 views of each face, five times flip's work."""
    by_tta = (read_model_card(model_path) or {}).get("publictest_accuracy_by_tta") or {}
    if not by_tta:
        return "flip"
    return max(by_tta, key=by_tta.get)
