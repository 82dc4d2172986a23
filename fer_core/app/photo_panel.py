"""Results' "Your photos" tab: a model measured on a labelled set of whole photos (a zip upload or
a folder under the data folder), answered as the Predict page answers, with misses and pictures."""

from __future__ import annotations

import io
import json

import pandas as pd
import streamlit as st

from fer_core.app.cache import cached_answerer
from fer_core.app.controls import answer_controls
from fer_core.app.media import EtaProgress, kept_answer, photo_source
from fer_core.app.session import settings
from fer_core.app.widgets import interval_metric
from fer_core.charts import confusion_heatmap
from fer_core.faces.detectors import DETECTORS
from fer_core.data.photo_files import list_labelled_photo_sets
from fer_core.errors import FerError
from fer_core.answering.spec import AnswerSpec
from fer_core.evaluation.metrics import per_class_table
from fer_core.evaluation.photo_evaluation import LABELS_FILE, PhotoEvaluation, evaluate_photos, mistakes_grid
from fer_core.evaluation.statistics import with_interval


def photo_evaluation_tab(models: dict) -> None:
    config = settings()
    st.caption(f"Photos in class folders (`happy/`, `sad/`, ...; synonyms accepted), or any photos with a "
               f"`{LABELS_FILE}` at the top (columns `file,label`, optional `ambiguous`). Each is answered as the "
               "Predict page answers it; its largest face counts. Command line: `python -m fer_core evaluate "
               "--data PHOTOS --detector blazeface --out DIR`.")
    spec = answer_controls("photos", models, config)
    if spec is None:
        return
    picked = photo_source("photos", list_labelled_photo_sets(config.data_root),
                          "A zip of labelled photos (read in memory)",
                          "Upload a zip of labelled photos to measure the model on them.",
                          f"No labelled photo set under the data folder `{config.data_root}` (FER_DATA_ROOT): class "
                          f"folders of photos, or photos with a `{LABELS_FILE}`.")
    if picked is None:
        return
    also = st.multiselect("Also count the faces found by", [d for d in DETECTORS if d != spec.detector_words],
                          key="photos_also_detectors",
                          help="Detection only, no model: the share of photos each detector finds a face in.")
    source, name, key = picked
    if not st.button("Evaluate", key="photos_evaluate", type="primary") and \
            st.session_state.get("photos_answer", (None,))[0] is None:
        return
    try:
        evaluation, summary = kept_answer("photos_answer", (key, spec.cache_key(), tuple(also)),
                                          lambda: _run(spec, source, name, tuple(also)))
    except FerError as exc:
        st.error(f"{name}: {exc}")
        return
    show_photo_evaluation(evaluation, summary)


def _run(spec: AnswerSpec, source, name: str, also: tuple[str, ...]) -> tuple[PhotoEvaluation, dict]:
    """The evaluation and its summary, kept together: the summary's bootstrap intervals are not
    drawn again on every rerun."""
    progress = EtaProgress("photos")
    try:
        evaluation = evaluate_photos(cached_answerer(spec), io.BytesIO(source) if isinstance(source, bytes) else source,
                                     name=name, progress=progress, max_photos=settings().max_collection_photos,
                                     also_detectors=also)
    finally:
        progress.clear()
    return evaluation, evaluation.summary()


def show_photo_evaluation(evaluation: PhotoEvaluation, summary: dict) -> None:
    intervals = summary["intervals"]
    a, b, c, d = st.columns(4)
    interval_metric(a, "Photos with a face found", summary["found_share"], summary["found_share_95"])
    interval_metric(b, "Accuracy (photos answered)", summary["accuracy"], intervals["accuracy"],
                    help=intervals["method"])
    interval_metric(c, "Macro-F1 (over all 7 classes)", summary["macro_f1"], intervals["macro_f1"], percent=False)
    d.metric("Labelled photos", f"{summary['labelled_photos']:,}")
    st.caption(f"Macro-F1 over the {len(summary['classes_present'])} classes present "
               f"({', '.join(summary['classes_present'])}): {summary['macro_f1_present']:.3f}.")
    if len(summary["found_by_detector"]) > 1:
        st.dataframe(pd.DataFrame([{"detector": name, "photos with a face": found["found"],
                                    "share": with_interval(found["share"], found["share_95"])}
                                   for name, found in summary["found_by_detector"].items()]),
                     hide_index=True, key="photos_found_by")
    if "clear_only" in summary:
        clear = summary["clear_only"]
        st.caption(f"Without the photos labelled ambiguous: accuracy "
                   f"{with_interval(clear['accuracy'], clear['intervals']['accuracy'])} on {clear['n']} photos.")
    if evaluation.missed:
        st.warning(f"No face found in {len(evaluation.missed)} photo(s): "
                   + ", ".join(a.name for a in evaluation.missed[:20]) + (" ..." if len(evaluation.missed) > 20 else ""))
    if evaluation.skipped:
        with st.expander(f"Skipped files ({len(evaluation.skipped):,})"):
            st.dataframe(pd.DataFrame(evaluation.skipped, columns=["file", "why"]), hide_index=True)
    left, right = st.columns([3, 2])
    left.plotly_chart(confusion_heatmap(summary["confusion_matrix"]), key="photos_confusion")
    right.dataframe(per_class_table(summary), key="photos_per_class")
    mistakes = evaluation.mistakes()
    st.subheader(f"Misclassified photos ({len(mistakes)})")
    if mistakes:
        st.image(mistakes_grid(evaluation), caption="true -> answered, confidence, file (the face as the model saw it)")
    x, y = st.columns(2)
    x.download_button("Download the figures (JSON)", json.dumps(summary, indent=2), "fer_photo_metrics.json",
                      "application/json", key="photos_json")
    y.download_button("Download a row a photo (CSV)", pd.DataFrame(evaluation.rows()).to_csv(index=False),
                      "fer_photo_predictions.csv", "text/csv", key="photos_csv")
