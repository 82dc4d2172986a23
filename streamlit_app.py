"""FER Studio home page. Layout only: everything it shows comes from fer_core."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from fer_core import CLASSES
from fer_core.inference import default_model_path
from fer_core.model_card import read_model_card
from fer_core.runs import RunRegistry

st.set_page_config(page_title="FER Studio", page_icon=":performing_arts:", layout="wide")
st.title("FER Studio")
st.write(
    "Facial expression recognition on FER2013 (48x48 grey faces, 7 classes: "
    + ", ".join(CLASSES)
    + "). Browse data, train and tune Keras models, read per-class results, classify photos."
)

st.subheader("Default model")
card = read_model_card(default_model_path())
if card is None:
    st.warning(f"No bundled default model found at `{default_model_path()}`.")
else:
    metrics = card.get("publictest_metrics", {})
    cols = st.columns(3)
    cols[0].metric("Architecture", card.get("architecture", "?"))
    cols[1].metric("PublicTest accuracy", f"{metrics.get('accuracy', float('nan')):.1%}")
    cols[2].metric("PublicTest macro-F1", f"{metrics.get('macro_f1', float('nan')):.3f}")
    recall = {name: metrics.get("per_class", {}).get(name, {}).get("recall") for name in CLASSES}
    st.caption("Per-class recall on PublicTest")
    st.dataframe(pd.DataFrame([recall]), hide_index=True)

st.subheader("Recent runs")
runs_dir = os.environ.get("FER_RUNS_DIR", "runs")
if os.path.isdir(runs_dir):
    registry = RunRegistry(runs_dir)
    registry.reconcile()
    records = registry.list()[:10]
else:
    records = []
if records:
    st.dataframe(
        pd.DataFrame(
            [{"run": r.run_id, "kind": r.kind, "status": r.status, **r.metrics} for r in records]
        ),
        hide_index=True,
    )
else:
    st.info("No runs yet. Start one with `python -m fer_core train --data PATH` (the dashboard pages come next).")
