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


def read_model_card(model_path: str | os.PathLike) -> dict | None:
    """The metadata JSON beside a model file (``default.keras`` -> ``default.json``), if any."""
    card = Path(model_path).with_suffix(".json")
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError):
        return None


def best_cheap_tta(model_path: str | os.PathLike) -> str:
    """'none' or 'flip', whichever scored higher on PublicTest by the model's card ('flip' without a
    card). Flip doubles the model's work; it pays for models trained without flips in every step
    (the quick preset: +2 points) and not for the gpu preset's default model (-0.4 points)."""
    by_tta = (read_model_card(model_path) or {}).get("publictest_accuracy_by_tta") or {}
    if "none" in by_tta and "flip" in by_tta:
        return "flip" if by_tta["flip"] > by_tta["none"] else "none"
    return "flip"
