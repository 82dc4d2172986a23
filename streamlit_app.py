"""FER Studio: the entry point of ``streamlit run streamlit_app.py``.

It names the pages (``st.navigation``) and lays out the home page; the other pages live in
``pages/``. Layout only: everything shown comes from fer_core.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer_core import CLASSES
from fer_core.app.datasets import dataset_candidates
from fer_core.app.runs import registry, run_rows
from fer_core.app.session import settings
from fer_core.app.startup import log_bugs_to_file, start
from fer_core.app.widgets import interval_metric
from fer_core.runtime.cards import ModelCard
from fer_core.runtime.loading import bundled_model_path, default_model_path

PAGES = {
    "Dataset": ("pages/1_Dataset.py", ":material/dataset:"),
    "Train & Tune": ("pages/2_Train_and_Tune.py", ":material/model_training:"),
    "Results": ("pages/3_Results.py", ":material/analytics:"),
    "Predict": ("pages/4_Predict.py", ":material/add_a_photo:"),
}


def home() -> None:
    st.title("FER Studio")
    st.write(
        "Facial expression recognition on FER2013 (48x48 grey faces, 7 classes: "
        + ", ".join(CLASSES)
        + "). Browse the data, train and tune Keras models, read per-class results, and classify the faces in "
        "your own photos, videos and photo collections."
    )
    config = settings()

    for column, (title, (path, icon)) in zip(st.columns(len(PAGES)), PAGES.items()):
        column.page_link(path, label=title, icon=icon)

    st.subheader("Dataset")
    datasets = dataset_candidates(config)
    if not datasets:
        st.write(f"None yet (data folder: `{config.data_root}`). Choose or upload one on the Dataset page.")
    else:  # what Train & Tune and Results start on
        st.write(f"Active: `{datasets[0]}`" + (f" ({len(datasets) - 1} more on the Dataset page)"
                                                if len(datasets) > 1 else ""))

    st.subheader("Default model")
    model_path = default_model_path(config)
    card = ModelCard.read(model_path)
    if model_path != bundled_model_path():
        st.caption(f"Promoted from a run (`{model_path}`); the bundled model can be restored on the Results page.")
    if not card:
        st.warning(f"No default model card found beside `{model_path}`.")
    else:
        from fer_core.evaluation.metrics import Figures
        from fer_core.evaluation.statistics import METHOD, intervals_of, with_interval

        figures = Figures({**card.metrics, "intervals": intervals_of(card.metrics) or {}})
        cols = st.columns(3)
        cols[0].metric("Architecture", card.architecture or "?")
        interval_metric(cols[1], "PublicTest accuracy", figures.accuracy, figures.interval("accuracy"), help=METHOD)
        interval_metric(cols[2], "PublicTest macro-F1", figures.macro_f1, figures.interval("macro_f1"), percent=False)
        recall = {name: with_interval(figures.recall(name), figures.recall_interval(name), percent=False)
                  for name in figures.classes}
        st.caption("Per-class recall on PublicTest, with 95% intervals")
        st.dataframe(pd.DataFrame([recall]), hide_index=True)

    st.subheader("Recent runs")
    records = registry(config.runs_dir).list()[:10] if config.runs_dir.is_dir() else []
    if records:
        st.dataframe(pd.DataFrame(run_rows(records)), hide_index=True)
    else:
        st.info("No runs yet. Launch one on the Train & Tune page, or with `python -m fer_core train --data PATH`.")


start()  # the dashboard's one start-up (fer_core.app.startup)
log_bugs_to_file(settings().cache_dir)
st.set_page_config(page_title="FER Studio", page_icon=":performing_arts:", layout="wide")
st.navigation(
    [st.Page(home, title="Home", icon=":material/home:", default=True)]
    + [st.Page(path, title=title, icon=icon, url_path=path.split("_", 1)[1].removesuffix(".py"))
       for title, (path, icon) in PAGES.items()]
).run()
