"""Dataset page: choose a dataset, see its classes, samples, pixel statistics and duplicates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer_core import CLASSES
from fer_core.charts import class_counts_bar, pixel_histogram_chart
from fer_core.app.cache import cached_duplicates, ferplus_votes
from fer_core.app.datasets import active_dataset_path, load_dataset_with_progress, save_upload, set_active_dataset
from fer_core.app.session import settings, start_page
from fer_core.data.ferplus import label_table
from fer_core.data.stats import class_count_table, conflicting_label_groups, pixel_histograms
from fer_core.errors import DataError, FerError
from fer_core.settings import list_datasets, resolve_under_root

start_page("Dataset")
config = settings()

source = st.radio("Source", ["From the data folder", "Upload"], horizontal=True,
                  help=f"The data folder is {config.data_root} (FER_DATA_ROOT or data_root in secrets.toml).")
if source == "From the data folder":
    candidates = list_datasets(config.data_root)
    if not candidates:
        st.info(f"No datasets under the data folder `{config.data_root}`. Put `fer2013.csv` or the Kaggle zip "
                "there (or set FER_DATA_ROOT), or upload one.")
    current = active_dataset_path()
    names = [str(resolve_under_root(config.data_root, c)) for c in candidates]
    # The current choice; with a single dataset in the folder, that one without a click.
    index = names.index(str(current)) if str(current) in names else (0 if len(candidates) == 1 else None)
    choice = st.selectbox("Dataset", candidates, index=index, placeholder="Choose a dataset")
    if choice:
        try:
            chosen = resolve_under_root(config.data_root, choice)
        except FerError as exc:
            st.error(str(exc))
            st.stop()
        if str(chosen) != str(current):
            set_active_dataset(chosen)
else:
    upload = st.file_uploader("The Kaggle FER2013 zip or fer2013.csv", type=["zip", "csv"])
    if upload is not None:
        try:
            set_active_dataset(save_upload(upload.name, upload.getvalue()))
        except DataError as exc:
            st.error(str(exc))
            st.stop()

path = active_dataset_path()
if path is None:
    st.stop()
detect = st.checkbox("These are whole photos: crop each one's largest face with the detector", False,
                     help="as the Predict page crops faces (BlazeFace, level eyes); for your own photos rather than face crops. "
                          "A photo with no face found is used whole and listed.")
try:
    dataset = load_dataset_with_progress(path, detect_faces=detect)
except (FerError, OSError) as exc:
    st.error(f"Could not load {path.name}: {exc}")
    st.stop()

st.success(f"Active dataset: `{path.name}` ({', '.join(f'{n}: {len(s):,}' for n, s in dataset.splits.items())}). "
           "The Train & Tune page uses it.")
if dataset.report.skipped or dataset.report.no_face:
    with st.expander(f":warning: {dataset.report.summary()}"):
        st.write("\n".join([*(f"- {p}" for p in dataset.report.problems[:200]),
                            *(f"- {name}: no face found, used whole" for name in dataset.report.no_face[:200])]))

overview, samples, pixels, duplicates, ferplus_tab = st.tabs(["Classes", "Samples", "Pixel intensities", "Duplicates",
                                                              "FER+"])

with overview:
    table = class_count_table(dataset)
    st.plotly_chart(class_counts_bar(table), key="class_counts")
    st.dataframe(table.assign(**{f"{s} share": (table[s] / table[s].sum()).round(3) for s in table.columns}))

with samples:
    left, middle, right = st.columns(3)
    split_name = left.selectbox("Split", dataset.available_splits(), key="sample_split")
    class_name = middle.selectbox("Class", CLASSES, key="sample_class")
    split = dataset.split(split_name)
    indices = [int(i) for i in (split.labels == CLASSES.index(class_name)).nonzero()[0]]
    per_page = 40
    pages = max(1, -(-len(indices) // per_page))
    page = right.number_input(f"Page (of {pages})", 1, pages, 1, key="sample_page")
    shown = indices[(page - 1) * per_page: page * per_page]
    if shown:
        st.image([split.images[i] for i in shown], width=96, caption=[f"#{i}" for i in shown])
    else:
        st.info(f"No {class_name} images in {split_name}.")

with pixels:
    split_name = st.selectbox("Split", dataset.available_splits(), key="pixel_split")
    st.plotly_chart(pixel_histogram_chart(pixel_histograms(dataset.split(split_name))), key="pixel_hist")

with duplicates:
    report = cached_duplicates(path, dataset)
    for pair, count in report.leaks.items():
        first, second = pair.split("/")
        st.error(f"Leak: {count} {second} images have an exact copy in {first}. Scores on {second} are "
                 "slightly optimistic for those images.")
    st.dataframe(report.summary_table(), hide_index=True)
    conflicting = sum(1 for g in report.groups if g.conflicting_labels)
    st.caption(f"{len(report.groups)} groups of identical images; {conflicting} of them carry different labels.")
    conflicts = conflicting_label_groups(report)
    if not conflicts.empty:
        st.markdown(f"**Training images with a copy under another label** ({len(conflicts)} groups): a model "
                    "cannot get both right.")
        st.dataframe(conflicts, hide_index=True, key="conflicting_labels")
    for group in report.groups[:8]:
        members = group.members[:6]
        st.image([dataset.split(s).images[i] for s, i, _ in members], width=72,
                 caption=[f"{s} #{i} {CLASSES[label]}" for s, i, label in members])

with ferplus_tab:
    votes_file = config.ferplus_votes_file()
    if votes_file is None:
        st.info("No FER+ votes file: set `ferplus_file` (FER_FERPLUS_FILE), or put `ferplus/ferplus-train-publictest.csv` "
                "in the data folder.")
    else:
        split_name = st.selectbox("Split", dataset.available_splits(), key="ferplus_split")
        split = dataset.split(split_name)
        try:
            rows = label_table(ferplus_votes(config), split.files, split.labels)
        except DataError as exc:
            st.error(f"{votes_file.name}: {exc}")
            rows = []
        if rows and sum(r["in FER+"] for r in rows):
            st.caption(f"FER+ (`{votes_file}`): ten annotators' votes a face (Barsoum et al. 2016). The majority rule "
                       "drops single votes, then needs more than half of the rest. Train on them with `--labels "
                       "ferplus-soft` or `ferplus-majority`.")
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="ferplus_table")
        elif rows:
            st.warning(f"{votes_file.name} names none of this dataset's {split_name} images: it is for the Kaggle zip.")
