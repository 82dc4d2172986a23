"""The answer controls, written once: the widgets that choose how a model answers (model, face
detector, test-time augmentation, crop margin, the card's operating point) and the ``AnswerSpec``
they make. The Predict page and Results' "Your photos" tab both lay them out with
``answer_controls``, so a photo is answered the same way wherever a user measures or uses it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fer_core.answering.spec import AnswerSpec
from fer_core.errors import FerError
from fer_core.faces.cropping import DEFAULT_MARGIN
from fer_core.faces.detectors import DEFAULT_DETECTOR, DETECTOR_REGISTRY, DETECTORS
from fer_core.runtime.cards import TTA_MODES, ModelCard, is_exported
from fer_core.settings import Settings


def answer_controls(prefix: str, models: dict[str, Path], config: Settings) -> AnswerSpec | None:
    """Model, detector, TTA and margin in one row, and the operating-point switch when the model's
    card has one; the resolved spec, or None (with the reason shown) when it cannot be made.
    Widget keys start with ``prefix`` (none for the Predict page's, as its tests and links know
    them); the TTA widget's key names the model, so each model starts on its card's best."""
    def key(name: str) -> str | None:
        return f"{prefix}_{name}" if prefix else None

    left, middle, tta_column, right = st.columns([3, 1, 1, 1])
    model_path = models[left.selectbox("Model", list(models), key=key("model"))]
    if not model_path.exists():
        st.error(f"No model file at `{model_path}`.")
        return None
    exported = is_exported(model_path)  # its TTA is built in
    card = ModelCard.read(model_path)
    detector = middle.selectbox("Face detector", DETECTORS, index=DETECTORS.index(DEFAULT_DETECTOR),
                                help="; ".join(f"{e.name}: {e.summary}" for e in DETECTOR_REGISTRY.values()),
                                key=key("detector"))
    tta = tta_column.selectbox("Test-time augmentation", TTA_MODES, index=TTA_MODES.index(card.best_tta()),
                               help="average over the mirrored face (flip) and shifted crops (multicrop); the "
                                    "default is whichever scored highest on PublicTest for this model (its card)",
                               key=f"{prefix}_tta-{model_path}" if prefix else f"tta-{model_path}",
                               disabled=exported)
    margin = right.slider("Crop margin", 0.0, 0.5, DEFAULT_MARGIN, 0.05, help="extra border around each face",
                          key=key("margin"))
    point = card.operating_point
    use_point = point is not None and st.toggle(
        f"Operating point: {point.target_words}", key=f"{prefix}_operating_point" if prefix else "operating_point",
        help=f"offsets fitted on PublicTest, stored in the model's card; {point.words()}")
    try:
        return AnswerSpec.resolve(model_path, tta=tta, detector=detector, margin=margin, operating_point=use_point,
                                  settings=config)
    except FerError as exc:
        st.error(f"{model_path.name}: {exc}")
        return None
