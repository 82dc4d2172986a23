"""The Results page's two panels that change things beyond the page: an operating point fitted into a
model's card, and an export of the model with its download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from fer_core.app.session import settings
from fer_core.app.widgets import export_for_download
from fer_core.charts import operating_point_curve
from fer_core.data.dataset import Split
from fer_core.errors import FerError
from fer_core.evaluation.analysis import store_operating_point
from fer_core.export.exporting import EXPORT_FORMATS, ExportOptions
from fer_core.runtime.cards import TTA_MODES, ModelCard
from fer_core.evaluation.operating_points import OperatingTarget, tradeoff_curve
from fer_core.labels import CLASSES


def operating_point_panel(model_path: Path, dataset_path: Path, split: Split, probabilities: np.ndarray) -> None:
    """The cost of raising one class's recall (a curve), and fitting an operating point into the card."""
    with st.expander("Operating point: trade accuracy for one class's recall (e.g. fear), stored in the card"):
        a, b = st.columns(2)
        class_name = a.selectbox("Class", CLASSES, index=CLASSES.index("fear"), key="point_class")
        target = b.slider("Recall to reach", 0.05, 0.95, 0.60, 0.05, key="point_recall")
        st.plotly_chart(operating_point_curve(tradeoff_curve(split.labels, probabilities, class_name), class_name),
                        key="point_curve")
        point = ModelCard.read(model_path).operating_point
        if point:
            st.caption(f"In the card now: {point.words()}. The Predict page applies it when its switch is on; "
                       "`predict --operating-point` too.")
        left, right = st.columns(2)
        chosen = OperatingTarget("recall", class_name, float(target))
        if left.button(f"Fit {chosen.describe()} on {dataset_path.name}'s val and store it", key="point_fit"):
            show_stored_point(model_path, dataset_path, chosen)
        if right.button("Fit balanced recall instead", key="point_balanced"):
            show_stored_point(model_path, dataset_path, OperatingTarget("balanced"))


def show_stored_point(model_path: Path, dataset_path: Path, target: OperatingTarget) -> None:
    try:
        point, card = store_operating_point(model_path, dataset_path, target, cache_dir=settings().cache_dir)
    except (FerError, OSError) as exc:
        st.error(f"Could not fit an operating point: {exc}")
        return
    before, after = point.before, point.after
    st.success(f"Stored in {card.name}: {target.describe()}. Cross-fitted (fitted on one half of val, measured on "
               f"the other): accuracy {before.accuracy:.2%} -> {after.accuracy:.2%}, macro-F1 "
               f"{before.macro_f1:.3f} -> {after.macro_f1:.3f}, balanced recall "
               f"{before.balanced_recall:.3f} -> {after.balanced_recall:.3f}.")


def export_panel(model_path: Path, dataset_path: Path) -> None:
    """Export the chosen model for apps (ONNX, LiteRT, SavedModel), checked against it, with a download."""
    with st.expander("Export this model (ONNX, LiteRT, SavedModel): run it without FER Studio or TensorFlow"):
        a, b, c = st.columns([2, 1, 1])
        export_format = a.radio("Format", EXPORT_FORMATS, horizontal=True, key="export_format",
                                help="onnx: onnxruntime, no TensorFlow; litert: .tflite for phones; savedmodel: "
                                     "TensorFlow Serving (a folder, downloaded as a zip)")
        int8 = b.checkbox("int8", key="export_int8", disabled=export_format != "onnx",
                          help="8-bit: about 3x faster on CPU, a quarter of the size; calibrated on 512 Training "
                               f"faces of {dataset_path.name}")
        export_tta = c.selectbox("TTA inside", ["auto", *TTA_MODES], key="export_tta",
                                 help="auto: the best on PublicTest by the model's card")
        options = ExportOptions(format=export_format, int8=int8 and export_format == "onnx", tta=export_tta)
        if st.button("Export", key="export_button"):
            try:
                st.session_state["export"] = export_for_download(model_path, options, dataset_path)
            except (FerError, OSError) as exc:
                st.error(f"Could not export {model_path.name}: {exc}")
        if "export" in st.session_state:
            out, card, data = st.session_state["export"]
            st.success(f"{card.parity_words()} It is in the Predict page's model list.")
            st.download_button(f"Download {out.name}{'' if out.is_file() else '.zip'}", data,
                               file_name=out.name if out.is_file() else f"{out.name}.zip", key="export_download")
            import json

            st.download_button("Download its card (JSON)", json.dumps(dict(card.data), indent=2),
                               file_name=f"{out.name}.json", key="export_card_download")
            st.code(card.command, language="bash")
