"""Results page: any model on any dataset split (accuracy, confusion, per-class scores, mistakes,
confidence, calibration), models side by side, one run in depth (curves, trials), runs side by
side, and promoting a run's model to be the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from fer_core import CLASSES
from fer_core.app.cache import explain_faces, split_probabilities, val_copies
from fer_core.app.panels import export_panel, operating_point_panel
from fer_core.app.photo_panel import photo_evaluation_tab
from fer_core.app.datasets import dataset_candidates, dataset_picker, load_dataset_with_progress
from fer_core.app.models import model_choices, save_model_upload
from fer_core.app.runs import finished_runs, run_label
from fer_core.app.session import settings, split_picker, start_page
from fer_core.app.widgets import ferplus_agreement_words, interval_metric
from fer_core.charts import (compare_curves, confidence_histogram, confusion_heatmap, learning_curves,
                             per_class_bars, reliability_diagram, score_vs_hyperparameter)
from fer_core.data.dataset import Split
from fer_core.errors import FerError
from fer_core.evaluation.analysis import calibration_report, comparison_row, confidence_by_correctness, confused_pairs
from fer_core.runtime.cards import TTA_MODES
from fer_core.evaluation.metrics import Figures, compute_metrics, metrics_without_copies, misclassified_frame, \
    per_class_table
from fer_core.evaluation.statistics import comparison_table, paired_comparison, verdict, with_interval
from fer_core.runtime.loading import promoted_model_path
from fer_core.runs.bundle import promote_run, restore_bundled_default
from fer_core.runs.history import read_history
from fer_core.runs.registry import across_runs_words, run_comparison_row
from fer_core.training.tune import best_trial_history, read_trials, searched_hyperparameters

start_page("Results")
config = settings()
runs = finished_runs(config.runs_dir)
by_label = {run_label(r): r for r in runs}


def show_analysis(split: Split, probabilities: np.ndarray, metrics: dict, key: str, model_path: Path,
                  has_copy: np.ndarray | None = None) -> None:
    """Every view of a model's answers on one split (the same for a model and for a run)."""
    figures = Figures(metrics)
    a, b, c, d = st.columns(4)
    interval_metric(a, f"Accuracy on {figures.split}", figures.accuracy, figures.interval("accuracy"),
                    help=figures.method)
    interval_metric(b, "Macro-F1", figures.macro_f1, figures.interval("macro_f1"), percent=False)
    interval_metric(c, "Fear recall", figures.recall("fear"), figures.recall_interval("fear"), percent=False)
    d.metric("Images", f"{figures.n:,}")
    if has_copy is not None and has_copy.any():
        report = metrics_without_copies(split.labels, probabilities, figures.split, has_copy)
        clean = Figures(report)
        st.caption(f"Without the {report['left_out']:,} {figures.split} faces that have an exact or near copy "
                   f"in Training: accuracy {with_interval(clean.accuracy, clean.interval('accuracy'))}, "
                   f"macro-F1 {with_interval(clean.macro_f1, clean.interval('macro_f1'), percent=False)}, "
                   f"fear recall {with_interval(clean.recall('fear'), clean.recall_interval('fear'), percent=False)} "
                   f"on {clean.n:,} faces.")
    ferplus = ferplus_agreement_words(config, split, probabilities)
    if ferplus:
        st.caption(ferplus)
    st.caption(figures.method + ".")
    normalized = st.toggle("Normalize the confusion matrix by true class", value=False, key=f"{key}-norm")
    left, right = st.columns([3, 2])
    left.plotly_chart(confusion_heatmap(figures.confusion, normalized), key=f"{key}-confusion")
    pairs = pd.DataFrame(confused_pairs(figures.confusion, top=10))
    if not pairs.empty:
        right.caption("Confused most: true class taken for another, by faces")
        right.dataframe(pairs.assign(share_of_true=pairs["share_of_true"].map("{:.0%}".format)),
                        hide_index=True, key=f"{key}-pairs")
    st.dataframe(per_class_table(metrics), key=f"{key}-per_class")
    st.plotly_chart(per_class_bars(metrics), key=f"{key}-per_class_bars")

    left, right = st.columns(2)
    left.plotly_chart(confidence_histogram(*confidence_by_correctness(split.labels, probabilities)),
                      key=f"{key}-confidence")
    calibration = calibration_report(split.labels, probabilities)
    right.plotly_chart(reliability_diagram(calibration["bins"], "Calibration (reliability diagram)"),
                       key=f"{key}-reliability")
    right.caption(f"Expected calibration error {calibration['ece']:.3f}, NLL {calibration['nll']:.3f}, Brier "
                  f"{calibration['brier']:.3f}. `python -m fer_core calibrate` fits a temperature that the Predict "
                  "page then applies.")

    st.subheader("Misclassified faces")
    mistakes = misclassified_frame(split, probabilities)
    f1, f2 = st.columns(2)
    true_filter = f1.multiselect("True class", CLASSES, key=f"{key}-true_filter")
    predicted_filter = f2.multiselect("Predicted class", CLASSES, key=f"{key}-pred_filter")
    if true_filter:
        mistakes = mistakes[mistakes["true"].isin(true_filter)]
    if predicted_filter:
        mistakes = mistakes[mistakes["predicted"].isin(predicted_filter)]
    st.caption(f"{len(mistakes):,} mistakes, most confident first")
    shown = mistakes.head(40)
    captions = []
    for _, row in shown.iterrows():
        top3 = sorted(((row[f"p_{c}"], c) for c in CLASSES), reverse=True)[:3]
        captions.append(f"true {row['true']} | " + ", ".join(f"{c} {p:.0%}" for p, c in top3))
    if len(shown):
        images = [split.images[int(i)] for i in shown["index"]]
        if st.toggle("Show heat maps of what made the model answer as it did (HiResCAM)", key=f"{key}-explain"):
            images = explain_faces(model_path, images, list(shown["predicted"]))
        st.image(images, width=120, caption=captions)


model_tab, photos_tab, compare_models_tab, run_tab, compare_runs_tab = st.tabs(
    ["A model", "Your photos", "Compare models", "One run", "Compare runs"])

with model_tab:
    models = model_choices(config)
    datasets = dataset_candidates(config)
    with st.expander("Upload a model (.keras, loaded in safe mode; or an exported .onnx for Predict)"):
        upload = st.file_uploader("A .keras or .onnx file", type=["keras", "onnx"], key="model_upload")
        if upload is not None:
            try:
                save_model_upload(upload.name, upload.getvalue())
                models = model_choices(config)
                where = "the Predict page's model list" if upload.name.lower().endswith(".onnx") else "the model list"
                st.success(f"{upload.name} is in {where}.")
            except FerError as exc:
                st.error(str(exc))
    if not datasets:
        st.info(f"No dataset yet: put one in the data folder `{config.data_root}` or choose one on the Dataset page.")
    else:
        left, middle, right, last = st.columns([3, 3, 1, 1])
        model_label = left.selectbox("Model", list(models), key="model")
        dataset_path = dataset_picker(middle, config, key="model_dataset")
        try:
            dataset = load_dataset_with_progress(dataset_path)
        except (FerError, OSError) as exc:
            st.error(f"Could not load {dataset_path.name}: {exc}")
            st.stop()
        split_name = split_picker(right, dataset.available_splits(), key="model_split")
        tta = last.selectbox("TTA", TTA_MODES, key="model_tta",
                             help="flip: average with the mirrored face; multicrop: also 2-pixel shifts (10 views)")
        try:
            probabilities = split_probabilities(models[model_label], dataset_path, dataset, split_name, tta)
        except (FerError, OSError) as exc:
            st.error(f"Could not use {model_label}: {exc}")
            st.stop()
        export_panel(models[model_label], dataset_path)
        split = dataset.split(split_name)
        if split_name == "val":
            operating_point_panel(models[model_label], dataset_path, split, probabilities)
        show_analysis(split, probabilities, compute_metrics(split.labels, probabilities, split_name), "model",
                      models[model_label], val_copies(dataset_path, dataset, split_name))

with photos_tab:
    photo_evaluation_tab(model_choices(config, exported=True))

with compare_models_tab:
    models = model_choices(config)
    datasets = dataset_candidates(config)
    if datasets:
        chosen = st.multiselect("Models", list(models), default=list(models)[:2], key="compare_models")
        left, right = st.columns(2)
        dataset_path = dataset_picker(left, config, key="compare_dataset")
        dataset = load_dataset_with_progress(dataset_path)
        split_name = split_picker(right, dataset.available_splits(), key="compare_split")
        split = dataset.split(split_name)
        rows, answers = [], {}
        for label in chosen:
            try:
                p = split_probabilities(models[label], dataset_path, dataset, split_name)
            except (FerError, OSError) as exc:
                st.error(f"{label}: {exc}")
                continue
            answers[label] = p.argmax(axis=1)
            rows.append(comparison_row(label, split.labels, p, split_name))
        if rows:
            st.caption(f"All on {dataset_path.name}, split {split_name}, no TTA; 95% intervals in brackets.")
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_models_table")
        if len(answers) >= 2:
            labels = list(answers)
            first = labels[0]
            st.subheader(f"Each model against {first}, on the same {len(split):,} faces")
            for other in labels[1:]:
                comparison = paired_comparison(split.labels, answers[first], answers[other])
                st.markdown(f"**{other}** - **{first}**: {verdict(comparison['overall'])}")
                st.dataframe(pd.DataFrame(comparison_table(comparison)), hide_index=True,
                             key=f"paired-{labels.index(other)}")
            st.caption(comparison["method"] + ".")


with run_tab:
    if not runs:
        st.info("No finished runs yet: launch one on the Train & Tune page. The shipped models are under "
                "'A model'.")
    else:
        record = by_label[st.selectbox("Run", list(by_label), key="run")]
        run_dir = Path(record.run_dir)
        run_config = record.folder.config()
        saved_metrics = record.folder.metrics()

        # Learning curves: the run's own history, or for a search the best trial's.
        history = best_trial_history(run_dir) if record.kind == "tune" else read_history(run_dir)
        if history:
            st.plotly_chart(learning_curves(history, "best trial" if record.kind == "tune" else ""), key="curves")

        # Metrics on a chosen split: computed from the run's model and dataset when the dataset is at hand.
        dataset = None
        try:
            dataset = load_dataset_with_progress(run_config["data"],
                                                 detect_faces=bool(run_config.get("detect_faces")))
        except (FerError, OSError) as exc:
            st.warning(f"The run's dataset is not available ({exc}); showing the metrics saved with the run.")
        if dataset is not None:
            split_name = split_picker(st, dataset.available_splits(), key="run_split", radio=True,
                                      preferred=run_config.get("val_split", "val"))
            split = dataset.split(split_name)
            tta = st.radio("Test-time augmentation", TTA_MODES, horizontal=True, key="tta",
                           help="flip: average with the mirrored face; multicrop: also 2-pixel shifts (10 views)")
            probabilities = split_probabilities(record.model_path, Path(run_config["data"]), dataset,
                                                split_name, tta)
            show_analysis(split, probabilities, compute_metrics(split.labels, probabilities, split_name), "run",
                          record.model_path, val_copies(Path(run_config["data"]), dataset, split_name))
        elif saved_metrics:
            a, b = st.columns(2)
            saved = Figures(saved_metrics)
            a.metric(f"Accuracy on {saved.split}", f"{saved.accuracy:.2%}")
            b.metric("Macro-F1", f"{saved.macro_f1:.3f}")
            st.plotly_chart(confusion_heatmap(saved.confusion), key="saved_confusion")
        else:
            st.error("This run has neither a report nor a dataset to compute one from.")

        trials = read_trials(run_dir) if record.kind == "tune" else pd.DataFrame()
        if not trials.empty:
            st.subheader("Trials")
            if "worker" in trials:
                st.caption("A distributed search: `worker` is the process that ran each trial.")
            st.dataframe(trials, hide_index=True, key="trials")
            hyperparameters = searched_hyperparameters(trials)
            if hyperparameters:
                chosen = st.selectbox("Score against", hyperparameters, key="hp")
                st.plotly_chart(score_vs_hyperparameter(trials, chosen), key="hp_chart")

        st.subheader("Default model")
        promoted = promoted_model_path(config.runs_dir)
        left, right = st.columns(2)
        if left.button("Make this run's model the default", key="promote"):
            promote_run(run_dir, config.runs_dir)
            st.success("Promoted: the Predict page and `--model default` now use this model.")
        if promoted.exists() and right.button("Restore the bundled default", key="restore"):
            restore_bundled_default(config.runs_dir)
            st.success("The bundled default model is back.")

with compare_runs_tab:
    if runs:
        chosen = st.multiselect("Runs to compare", list(by_label), default=list(by_label)[:2], key="compare")
        rows = [run_comparison_row(by_label[label]) for label in chosen]
        histories = {by_label[label].run_id: read_history(by_label[label].run_dir) for label in chosen}
        if rows:
            st.caption("Scores on each run's validation split (from its saved report).")
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table")
            across = across_runs_words(rows)
            if across:
                st.markdown(across)
            st.plotly_chart(compare_curves(histories), key="compare_curves")
    else:
        st.info("No finished runs yet.")
