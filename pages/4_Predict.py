"""Predict page: photos (uploads or a snapshot), a video (a timeline per person) or a photo
collection (a zip or a folder: a table and its summary); every face is found, boxed and classified."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from fer_core.app.cache import analyze_cached, explain_faces, model_gate, warm
from fer_core.app.live import live_section
from fer_core.app.media import annotated_path, kept_answer, photo_source, run_collection, run_video, saved_video
from fer_core.app.controls import answer_controls
from fer_core.app.corrections import (adapt_panel, collection_corrections, correction_store, face_correction,
                                      zero_label_panel)
from fer_core.app.models import model_choices
from fer_core.app.session import settings, start_page
from fer_core.charts import (class_distribution_bar, emotion_timeline, expression_shares_bar, probability_bars,
                             top_confidence_histogram)
from fer_core.faces.images import decode_photo
from fer_core.data.photo_files import list_photo_folders
from fer_core.data.video_files import VIDEO_EXTENSIONS, VideoLimits, read_frame
from fer_core.errors import DataError, FerError
from fer_core.runtime.cards import is_exported
from fer_core.media.photos import DISPLAY_MAX_SIDE, annotate, pose_words, results_json, results_rows
from fer_core.media.video import VideoOptions, expression_shares, smooth_timeline, without_brief_people

start_page("Predict")
config = settings()

spec = answer_controls("", model_choices(config, exported=True), config)  # every answer on this page: one spec
if spec is None:
    st.stop()
model_path = spec.model
exported = is_exported(model_path)  # no heat maps for an export (they need the Keras model's gradients)
warm(spec)
mode = st.radio("Analyse", ["Photos", "A video", "A photo collection", "Live camera"], horizontal=True, key="mode")


def video_section() -> None:
    limits = VideoLimits.from_settings(config)
    rate, smoothing, brief = st.columns(3)
    fps = rate.slider("Frames sampled per second", 1.0, 15.0, 5.0, 1.0, key="video_fps",
                      help="more follows quick changes; fewer is faster (5 a second: a 60 s 720p clip in about "
                           "real time on 2 CPU cores)")
    window = smoothing.slider("Smoothing: moving average over this many samples (1: none)", 1, 15, 1,
                              key="video_smooth", help="applied to the charts only; the downloads hold raw values")
    min_samples = brief.slider("Leave out people seen in fewer sampled frames than", 1, 10, 3, key="video_brief",
                               help="a false detection that flickers in and out is followed as a person of its "
                                    "own; applied to the charts only, the downloads hold every row")
    upload_mb = min(limits.max_bytes / 2**20, st.get_option("server.maxUploadSize"))  # the server caps uploads too
    upload = st.file_uploader(f"A video (mp4, webm, mov, avi; at most {upload_mb:,.0f} MB and "
                              f"{limits.max_seconds:,.0f} s)",
                              type=[e.lstrip(".") for e in VIDEO_EXTENSIONS], key="video_upload")
    if upload is None:
        st.info("Upload a video to follow each person's expressions over time.")
        return
    try:
        video = saved_video(upload)
    except DataError as exc:
        st.error(str(exc))
        return
    options = VideoOptions(fps=fps)
    key = (str(video), spec.cache_key(), options)
    if st.session_state.get("video_cancel"):  # clicked while the analysis ran: that run was stopped
        st.session_state["video_cancelled"] = key
    answer = st.session_state.get("video_answer")
    if answer is None or answer[0] != key:  # not analysed yet with these settings
        if st.session_state.get("video_cancelled") == key:
            st.info("Cancelled; nothing was kept.")
            if st.button("Analyse it again", key="video_again"):
                del st.session_state["video_cancelled"]
                st.rerun()
            return
        st.button("Cancel", key="video_cancel", help="stops the analysis; nothing is kept")
        try:
            kept_answer("video_answer", key, lambda: run_video(spec, video, upload.name, options))
        except DataError as exc:
            st.error(f"{upload.name}: {exc}")
            return
        st.rerun()  # without the Cancel button
    analysis = answer[1]
    info = analysis.info
    st.caption(f"{analysis.sampled_frames:,} frames sampled at {options.fps:g} a second from {upload.name} "
               f"({info.width}x{info.height}, {info.fps:g} fps, {analysis.times[-1]:.1f} s) in "
               f"{analysis.seconds:.1f} s; faces in {analysis.frames_with_faces:,} of them, "
               f"{len(analysis.people)} {'person' if len(analysis.people) == 1 else 'people'} followed.")
    if analysis.no_face:
        st.warning(f"No face found in any sampled frame of {upload.name}. Try another detector or more frames "
                   "a second.")
        return
    table = analysis.table()
    kept, left_out = without_brief_people(table, min_samples)
    shown = smooth_timeline(kept, window)
    if left_out:
        st.caption(f"Left out of the charts: {len(left_out)} brief detection(s) seen in fewer than {min_samples} "
                   f"sampled frames (ids {', '.join(map(str, left_out[:20]))}{' ...' if len(left_out) > 20 else ''}); "
                   "the downloads have them.")
    if shown.empty:
        st.info(f"Everyone was seen in fewer than {min_samples} sampled frames: lower that setting to see them.")
    else:
        st.subheader("Share of time in each expression")
        st.plotly_chart(expression_shares_bar(expression_shares(shown)), key="video_shares")
        st.subheader("Timelines")
        st.caption("Each person keeps an id while in view (or away under a second); one who comes back later "
                   "gets a new id.")
        for person in sorted(set(shown["person"])):
            st.plotly_chart(emotion_timeline(shown, person, window), key=f"timeline-{person}")
    st.subheader("Frames")
    index = st.slider("Sampled frame", 0, analysis.sampled_frames - 1, 0, key="video_frame")
    annotated = annotated_path(video, spec, options)
    picture, faces = st.columns([3, 2])
    try:
        picture.image(read_frame(annotated, index), caption=f"{analysis.times[index]:.2f} s", width="stretch")
    except DataError:  # the cache keeps the last few videos only (fer_core.app.media.KEEP_VIDEOS)
        picture.warning("The annotated video has been cleared from the cache since; upload the video again to "
                        "see its frames.")
    faces.dataframe(table[table["time"] == analysis.times[index]].drop(columns=["frame", "time"]), hide_index=True)
    a, b, c = st.columns(3)
    a.download_button("Download frames (CSV)", table.to_csv(index=False), "fer_video_frames.csv", "text/csv")
    b.download_button("Download frames (JSON)", analysis.to_json(), "fer_video.json", "application/json")
    if annotated.exists():
        c.download_button("Download the annotated video (MP4)", annotated.read_bytes(), "fer_video_annotated.mp4",
                          "video/mp4")


def collection_section() -> None:
    picked = photo_source("collection", list_photo_folders(config.data_root),
                          "A zip of photos (read in memory, never extracted)",
                          "Upload a zip of photos to classify every face in them.",
                          f"No folder with photos under the data folder `{config.data_root}` (FER_DATA_ROOT).")
    if picked is None:
        return
    if config.cluster:
        st.caption(f"Runs in chunks on the Dask cluster `{config.cluster}` (the cluster setting, FER_CLUSTER); "
                   "a stopped run goes on from its finished chunks when asked again.")
    source, name, key = picked
    try:
        analysis = kept_answer("collection_answer", (key, spec.cache_key()),
                               lambda: run_collection(spec, source, name, key))
    except FerError as exc:
        st.error(f"{name}: {exc}")
        return
    summary = analysis.summary()
    def counted(n: int, word: str) -> str:
        return f"{n:,} {word}" + ("" if n == 1 else "s")

    without_face = summary["photos_without_face"]
    st.caption(f"{counted(summary['photos'], 'photo')}, {counted(summary['faces'], 'face')}; "
               f"{counted(without_face, 'photo') if without_face else 'no photo'} without a face; "
               f"{counted(len(analysis.skipped), 'file')} skipped.")
    if analysis.skipped:
        with st.expander(f"Skipped files ({len(analysis.skipped):,})"):
            st.dataframe(pd.DataFrame(analysis.skipped, columns=["file", "why"]), hide_index=True)
    table = collection_corrections(correction_store(config), analysis.table(), source, model_path)
    zero_label_panel(spec, config, analysis)
    a, b = st.columns(2)
    a.download_button("Download the table (CSV)", table.to_csv(index=False), "fer_collection.csv", "text/csv")
    b.download_button("Download everything (JSON)", analysis.to_json(), "fer_collection.json", "application/json")
    if not analysis.faces:
        st.warning("No face found in any photo of the collection.")
        return
    left, right = st.columns(2)
    left.plotly_chart(class_distribution_bar(analysis.distribution()), key="collection_distribution")
    right.plotly_chart(top_confidence_histogram(analysis.confidences()), key="collection_confidence")
    by_class = analysis.faces_by_class()
    shown_class = st.selectbox("Faces predicted as", [c for c, faces in by_class.items() if faces],
                               format_func=lambda c: f"{c} ({len(by_class[c])})", key="collection_class")
    faces = by_class[shown_class][:60]
    st.image([f.crop for _, f in faces], width=72,
             caption=[f"{n.rsplit('/', 1)[-1]} {f.probabilities[f.top]:.0%}" for n, f in faces])


if mode == "A video":
    video_section()
    st.stop()
if mode == "Live camera":
    live_section(spec, config)
    st.stop()
if mode == "A photo collection":
    collection_section()
    adapt_panel(spec, config)
    st.stop()

explain = st.toggle("Explain: show a heat map of what made the model answer as it did (HiResCAM)", key="explain",
                    disabled=exported, help="needs the .keras model: an exported one has no gradients here"
                    if exported else None) and not exported
uploads = st.file_uploader("Photos (jpg, png, webp)", type=["jpg", "jpeg", "png", "webp"],
                           accept_multiple_files=True)
photos = [(u.name, u.getvalue()) for u in uploads or []]
if st.toggle("Take a snapshot with the camera"):
    snapshot = st.camera_input("Snapshot")
    if snapshot is not None:
        photos.append(("camera snapshot", snapshot.getvalue()))
if not photos:
    st.info("Upload one or more photos to classify the expressions on their faces.")
    adapt_panel(spec, config)
    st.stop()

if len(photos) > config.max_photos:
    st.warning(f"{len(photos)} photos: the first {config.max_photos} are classified (at most {config.max_photos} "
               "at once, FER_MAX_PHOTOS, so that other users get their turn). Remove them to see the next ones.")
    photos = photos[:config.max_photos]
whole_key = "whole_image_names"
whole_names = st.session_state.setdefault(whole_key, set())
gate = model_gate()
queue_note = st.empty()
if gate.waiting or gate.busy >= config.model_slots:
    queue_note.info(f"The model is busy with {gate.waiting + gate.busy} other request(s); yours is in line and "
                    "starts as soon as they are done.")
results = analyze_cached(spec, photos, whole_names)
queue_note.empty()

a, b = st.columns(2)
a.download_button("Download results (CSV)", pd.DataFrame(results_rows(results)).to_csv(index=False),
                  "fer_predictions.csv", "text/csv")
b.download_button("Download results (JSON)", results_json(results), "fer_predictions.json", "application/json")
store = correction_store(config)

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
    kept = store.labels_for(data, name)
    if result.whole_image:
        st.caption(f"Classified as one face: {result.whole_image_reason or 'no face detection'}.")
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
            pose = face.box.pose() if face.box else None
            if pose is not None:
                c2.caption(f"head pose: {pose_words(pose)} (estimated from four landmarks)")
            face_correction(c2, store, kept, name, data, result, k, face, model_path)
adapt_panel(spec, config)
