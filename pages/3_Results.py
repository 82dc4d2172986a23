"""Results page: one run in depth (curves, confusion matrix, per-class scores, mistakes, trials),
several runs side by side, and promoting a run's model to be the default."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core import CLASSES
from fer_core.app.charts import compare_curves, confusion_heatmap, learning_curves, score_vs_hyperparameter
from fer_core.app.dashboard import finished_runs, load_dataset_with_progress, run_label, settings, split_probabilities
from fer_core.data.loaders import DataError
from fer_core.inference.tta import TTA_MODES
from fer_core.inference.evaluation import compute_metrics, misclassified_frame
from fer_core.fileio import read_json
from fer_core.inference.loading import promoted_model_path
from fer_core.training.bundle import promote_run, restore_bundled_default
from fer_core.training.history import read_history
from fer_core.training.tune import best_trial_history, read_trials, searched_hyperparameters

st.set_page_config(page_title="Results - FER Studio", page_icon=":performing_arts:", layout="wide")
st.title("Results")
config = settings()
runs = finished_runs(config.runs_dir)
if not runs:
    st.info("No finished runs yet: launch one on the Train & Tune page.")
    st.stop()
by_label = {run_label(r): r for r in runs}

one, compare = st.tabs(["One run", "Compare runs"])

with one:
    record = by_label[st.selectbox("Run", list(by_label), key="run")]
    run_dir = Path(record.run_dir)
    run_config = read_json(run_dir / "config.json") or {}
    saved_metrics = read_json(run_dir / "metrics.json")

    # Learning curves: the run's own history, or for a search the best trial's.
    history = best_trial_history(run_dir) if record.kind == "tune" else read_history(run_dir)
    if history:
        st.plotly_chart(learning_curves(history, "best trial" if record.kind == "tune" else ""), key="curves")

    # Metrics on a chosen split: computed from the run's model and dataset when the dataset is at hand.
    dataset = None
    try:
        dataset = load_dataset_with_progress(run_config["data"], detect_faces=bool(run_config.get("detect_faces")))
    except (KeyError, DataError, OSError) as exc:
        st.warning(f"The run's dataset is not available ({exc}); showing the metrics saved with the run.")
    if dataset is not None:
        split_name = st.radio("Split", dataset.available_splits(), horizontal=True,
                              index=dataset.available_splits().index(run_config.get("val_split", "val"))
                              if run_config.get("val_split", "val") in dataset.available_splits() else 0)
        split = dataset.split(split_name)
        tta = st.radio("Test-time augmentation", TTA_MODES, horizontal=True, key="tta",
                       help="flip: average with the mirrored face; multicrop: also 2-pixel shifts (10 views)")
        probabilities = split_probabilities(run_dir / "model.keras", Path(run_config["data"]), dataset, split_name,
                                            tta)
        metrics = compute_metrics(split.labels, probabilities, split_name)
    elif saved_metrics:
        split, probabilities, metrics = None, None, saved_metrics
    else:
        st.error("This run has neither a report nor a dataset to compute one from.")
        st.stop()

    a, b, c = st.columns(3)
    a.metric(f"Accuracy on {metrics['split']}", f"{metrics['accuracy']:.2%}")
    b.metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    c.metric("Images", f"{metrics['n']:,}")
    normalized = st.toggle("Normalize the confusion matrix by true class", value=False)
    st.plotly_chart(confusion_heatmap(metrics["confusion_matrix"], normalized), key="confusion")
    st.dataframe(pd.DataFrame(metrics["per_class"]).T.rename_axis("class"), key="per_class")

    if split is not None:
        st.subheader("Misclassified samples")
        mistakes = misclassified_frame(split, probabilities)
        f1, f2 = st.columns(2)
        true_filter = f1.multiselect("True class", CLASSES, key="true_filter")
        predicted_filter = f2.multiselect("Predicted class", CLASSES, key="pred_filter")
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
            st.image([split.images[int(i)] for i in shown["index"]], width=120, caption=captions)

    trials = read_trials(run_dir) if record.kind == "tune" else pd.DataFrame()
    if not trials.empty:
        st.subheader("Trials")
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

with compare:
    chosen = st.multiselect("Runs to compare", list(by_label), default=list(by_label)[:2], key="compare")
    rows, histories = [], {}
    for label in chosen:
        r = by_label[label]
        saved = read_json(Path(r.run_dir) / "metrics.json") or {}
        run_config = read_json(Path(r.run_dir) / "config.json") or {}
        rows.append({"run": r.run_id, "kind": r.kind, "model": run_config.get("model"),
                     "epochs": run_config.get("epochs"), "data share": run_config.get("data_fraction"),
                     "accuracy": saved.get("accuracy"), "macro-F1": saved.get("macro_f1"),
                     **{f"recall {c}": saved.get("per_class", {}).get(c, {}).get("recall") for c in CLASSES}})
        histories[r.run_id] = read_history(r.run_dir)
    if rows:
        st.caption("Scores on each run's validation split (from its saved report).")
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table")
        st.plotly_chart(compare_curves(histories), key="compare_curves")
