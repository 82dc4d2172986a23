"""Predict page: upload photos or take a snapshot; every face is found, boxed and classified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core.app.charts import probability_bars
from fer_core.app.dashboard import (analyze_cached, explain_faces, finished_runs, model_gate, run_label, settings,
                                    warm_predict)
from fer_core.data.faces import DEFAULT_DETECTOR, DEFAULT_MARGIN, DETECTORS, decode_photo
from fer_core.inference.faces import DISPLAY_MAX_SIDE, annotate, results_json, results_rows
from fer_core.inference.tta import TTA_MODES
from fer_core.inference.loading import bundled_models, default_model_path
from fer_core.inference.cards import best_cheap_tta, read_model_card

st.set_page_config(page_title="Predict - FER Studio", page_icon=":performing_arts:", layout="wide")
st.title("Predict")
config = settings()



def bundled_label(name: str, path: Path) -> str:
    card = read_model_card(path) or {}
    accuracy = card.get("publictest_metrics", {}).get("accuracy")
    return f"Bundled: {name}" + (f" ({accuracy:.1%} on PublicTest)" if accuracy else "")


models = {f"Default model ({default_model_path().name})": default_model_path()}
models.update({bundled_label(name, path): path for name, path in bundled_models().items()})
models.update({run_label(r): Path(r.run_dir) / "model.keras" for r in finished_runs(config.runs_dir)})
left, middle, tta_column, right = st.columns([3, 1, 1, 1])
model_path = models[left.selectbox("Model", list(models))]
detector = middle.selectbox("Face detector", DETECTORS, index=DETECTORS.index(DEFAULT_DETECTOR),
                            help="mtcnn finds more faces (turned, small); haar is faster.")
tta = tta_column.selectbox("Test-time augmentation", TTA_MODES, index=TTA_MODES.index(best_cheap_tta(model_path)),
                           help="average over the mirrored face (flip) and shifted crops (multicrop); the "
                                "default is whichever of none and flip scored higher on PublicTest for this "
                                "model (its card)", key=f"tta-{model_path}")
margin = right.slider("Crop margin", 0.0, 0.5, DEFAULT_MARGIN, 0.05, help="extra border around each face")
if not model_path.exists():
    st.error(f"No model file at `{model_path}`.")
    st.stop()

warm_predict(model_path, tta, detector)
explain = st.toggle("Explain: show a heat map of what made the model answer as it did (HiResCAM)", key="explain")
uploads = st.file_uploader("Photos (jpg, png, webp)", type=["jpg", "jpeg", "png", "webp"],
                           accept_multiple_files=True)
photos = [(u.name, u.getvalue()) for u in uploads or []]
if st.toggle("Take a snapshot with the camera"):
    snapshot = st.camera_input("Snapshot")
    if snapshot is not None:
        photos.append(("camera snapshot", snapshot.getvalue()))
if not photos:
    st.info("Upload one or more photos to classify the expressions on their faces.")
    st.stop()

if len(photos) > config.max_photos:
    st.warning(f"{len(photos)} photos: the first {config.max_photos} are classified (at most {config.max_photos} "
               "at once, FER_MAX_PHOTOS, so that other users get their turn). Remove them to see the next ones.")
    photos = photos[:config.max_photos]
whole_key = "whole_image_names"
whole_names = st.session_state.setdefault(whole_key, set())
gate = model_gate()
queue_note = st.empty()
if gate.waiting or gate.busy >= config.model_workers:
    queue_note.info(f"The model is busy with {gate.waiting + gate.busy} other request(s); yours is in line and "
                    "starts as soon as they are done.")
results = analyze_cached(model_path, photos, detector, margin, whole_names, tta)
queue_note.empty()

a, b = st.columns(2)
a.download_button("Download results (CSV)", pd.DataFrame(results_rows(results)).to_csv(index=False),
                  "fer_predictions.csv", "text/csv")
b.download_button("Download results (JSON)", results_json(results), "fer_predictions.json", "application/json")

for (name, data), result in zip(photos, results):
    st.divider()
    st.subheader(name)
    if result.error:
        st.error(f"{name}: {result.error}")
        continue
    if result.no_face:
        st.warning(f"No face found in {name}.")
        if st.button("Classify the whole image as one face", key=f"whole-{hashlib.md5(data).hexdigest()}"):
            whole_names.add(name)
            st.rerun()
        continue
    image = decode_photo(data)  # decoded fine during analysis (result.error is None)
    if result.whole_image:
        st.caption("Classified as one face (no face detection).")
    picture, faces = st.columns([3, 2])
    picture.image(annotate(image, result, max_side=DISPLAY_MAX_SIDE), width="stretch")
    heat_maps = explain_faces(model_path, [f.crop for f in result.faces], [f.top for f in result.faces]) \
        if explain and result.faces else None
    for k, face in enumerate(result.faces, start=1):
        with faces:
            c1, c2 = st.columns([1, 3])
            c1.image(face.crop, width=96, caption=f"face {k} as the model sees it")
            if heat_maps is not None:
                c1.image(heat_maps[k - 1], width=96, caption=f"why '{face.top}' (warm: what raised it)")
            # Text bars, not a chart or a table widget: the browser draws them at once, and drawing was
            # most of upload-to-answer once the model was quick (docs/performance.md, "The Predict page").
            c2.markdown(f"**face {k}: {face.top}**")
            c2.code(probability_bars(face.probabilities), language=None)
