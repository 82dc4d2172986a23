"""The Predict page's corrections and its Adapt button.

A user sets the true class of any face: a select box under each face of a photo, a ``label``
column in a collection's table. Each is kept at once in the corrections folder
(``fer_core.data.corrections``), which Results' **Your photos** measures a model on and **Adapt**
learns from. Adapting runs in the page (about a minute on 2 cores, ``fer_core.training.adapt``)
and writes the adapted model under ``<runs>/adapted``, where the model lists find it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core.answering.spec import AnswerSpec
from fer_core.app.cache import cached_answerer
from fer_core.app.datasets import load_dataset_with_progress
from fer_core.app.models import adapted_dir
from fer_core.data.corrections import CorrectionStore
from fer_core.data.photo_files import open_photo_set
from fer_core.errors import FerError
from fer_core.labels import CLASSES
from fer_core.media.photos import FaceResult, PhotoResult
from fer_core.settings import Settings

NOT_SET = ""  # the select boxes' "no correction" choice
ERROR_KEY = "corrections_error"
REPORT_KEY = "adapt_report"


def correction_store(config: Settings) -> CorrectionStore:
    return CorrectionStore(config.corrections_folder())


def face_box(result: PhotoResult, face: FaceResult) -> tuple[int, int, int, int]:
    """A face's box as the corrections keep it (a whole-image answer: the whole photo)."""
    box = face.box
    return (box.x, box.y, box.width, box.height) if box is not None else (0, 0, result.width, result.height)


def _keep(store: CorrectionStore, name: str, data: bytes, box, key: str, predicted: str, model: str) -> None:
    try:
        store.save(name, data, [(box, st.session_state[key] or None, predicted)], model)
    except FerError as exc:
        st.session_state[ERROR_KEY] = str(exc)


def face_correction(container, store: CorrectionStore, kept: dict, name: str, data: bytes, result: PhotoResult,
                    number: int, face: FaceResult, model: Path) -> None:
    """The select box that sets one face's true class, kept as soon as it is chosen."""
    box = face_box(result, face)
    key = f"correct-{hashlib.md5(data).hexdigest()}-{'-'.join(map(str, box))}"
    options = [NOT_SET, *CLASSES]
    current = kept.get(box, NOT_SET)
    container.selectbox(f"Face {number} is really", options, index=options.index(current), key=key,
                        format_func=lambda c: c or "(as answered)", on_change=_keep,
                        args=(store, name, data, box, key, face.top, model.name),
                        help="kept in the corrections folder: Your photos measures a model on them, Adapt "
                             "learns from them")


def collection_corrections(store: CorrectionStore, table: pd.DataFrame, source, model: Path) -> pd.DataFrame:
    """The collection's table with an editable ``label`` column (filled with the kept corrections)
    and a button that keeps the labels set; returns the table as edited."""
    table = table.copy()
    table["label"] = _kept_labels(store, table)
    faces = table["face"].notna()
    edited = st.data_editor(table, hide_index=True, key="collection_table",
                            disabled=[c for c in table.columns if c != "label"],
                            column_config={"label": st.column_config.SelectboxColumn(
                                "label", options=list(CLASSES), help="the face's true class: kept as a correction")})
    changed = edited[faces & (edited["label"].fillna("") != table["label"].fillna(""))]
    if st.button(f"Keep the labels set ({len(changed)} changed)", key="collection_keep", disabled=changed.empty):
        try:
            kept = keep_collection_labels(store, changed, source, model)
        except FerError as exc:
            st.error(str(exc))
        else:
            st.success(f"Kept {kept} correction(s) in `{store.folder}`.")
    return edited


def _kept_labels(store: CorrectionStore, table: pd.DataFrame) -> list:
    """The kept class of each row's face, matched by photo name and box (None where none)."""
    kept = {(c.source, c.box): c.label for c in store.read()}
    return [kept.get((row.file, _row_box(row))) if pd.notna(row.face) else None for row in table.itertuples()]


def _row_box(row) -> tuple[int, int, int, int]:
    return int(row.x), int(row.y), int(row.width), int(row.height)


def keep_collection_labels(store: CorrectionStore, rows: pd.DataFrame, source, model: Path) -> int:
    """Keep the labels of a collection's edited rows (each photo read again from ``source``)."""
    import io

    kept = 0
    with open_photo_set(io.BytesIO(source) if isinstance(source, bytes) else source) as collection:
        reads = dict(collection.photos)
        for name, faces in rows.groupby("file"):
            store.save(name, reads[name](), [(_row_box(r), r.label or None, r.top) for r in faces.itertuples()],
                       model.name)
            kept += len(faces)
    return kept


def adapt_panel(spec: AnswerSpec, config: Settings) -> None:
    """The corrections kept so far, and the Adapt button: the model chosen above, fine-tuned on them."""
    from fer_core.evaluation.photo_evaluation import LABELS_FILE
    from fer_core.runtime.cards import is_exported
    from fer_core.training.adapt import adapt, labelled_faces, replay_splits_of
    from fer_core.training.config import AdaptOptions

    store = correction_store(config)
    if ERROR_KEY in st.session_state:
        st.error(st.session_state.pop(ERROR_KEY))
    counts = store.counts()
    st.divider()
    st.subheader("Your corrections")
    _last_report()  # of Adapt, or of a collection's adapting without labels
    if not counts:
        st.caption("Set a face's true class under it (or in a collection's `label` column) to keep it as a "
                   f"correction in `{store.folder}`; then adapt the model to them here.")
        return
    st.caption(f"{sum(counts.values())} corrected faces ({', '.join(f'{c} {n}' for c, n in counts.items())}) in "
               f"`{store.folder}` (a labelled photo set with a `{LABELS_FILE}`: Results' Your photos measures "
               "models on it). Command line: `python -m fer_core adapt --model MODEL --data "
               f"{store.folder} --out FILE.keras --detector {spec.detector_words}`.")
    if is_exported(spec.model):
        st.info(f"{spec.model.name} is an exported model: it has no weights to fine-tune. Choose the .keras model "
                "it was exported from to adapt it.")
        return
    renormalized = st.toggle("Also re-estimate the batch-norm statistics on my faces (AdaBN)", key="adapt_renormalize",
                             help="on a shifted proxy: +4 to +5 points on that kind of photo, -4.4 on PublicTest "
                                  "(docs/results.md)")
    if not st.button(f"Adapt {spec.model.stem} to my corrections", key="adapt", type="primary",
                     help="fine-tunes the model's head on your corrected faces, replaying FER2013 Training faces "
                          "so that it does not forget them (about a minute on 2 cores)"):
        return
    out = adapted_dir(config) / f"{spec.model.stem}-adapted-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    def run(progress):
        faces = labelled_faces(cached_answerer(spec), store.folder)
        replay = config.replay_dataset()
        train, val = replay_splits_of(load_dataset_with_progress(replay)) if replay else (None, None)
        return adapt(spec.model, faces, out, train=train, val=val, replay_data=str(replay) if replay else None,
                     options=AdaptOptions(renormalize=renormalized),
                     command=f"python -m fer_core adapt --model {spec.model} --data {store.folder} --out {out} "
                             f"--detector {spec.detector_words} --margin {spec.margin:g} --shift-y {spec.shift_y:g}"
                             + (" --renormalize" if renormalized else ""),
                     progress=progress)

    _adapt_in_page("Adapting ...", run)


def zero_label_panel(spec: AnswerSpec, config: Settings, analysis) -> None:
    """Adapt without labels: the chosen model's batch-norm statistics re-estimated on this
    collection's faces (AdaBN; +5.3 points on a shifted proxy, PublicTest unchanged from 1,000
    faces, docs/results.md). Offered from ``MIN_ZERO_LABEL_FACES`` faces, for a ``.keras`` model."""
    from fer_core.runtime.cards import is_exported
    from fer_core.training.adapt import MIN_ZERO_LABEL_FACES, adapt_without_labels, replay_splits_of, unlabelled_faces

    faces = analysis.faces
    if is_exported(spec.model) or not faces:
        return
    enough = len(faces) >= MIN_ZERO_LABEL_FACES
    if not st.button(f"Adapt {spec.model.stem} to this collection without labels (AdaBN)", key="adapt_zero_label",
                     disabled=not enough,
                     help="re-estimates the model's batch-norm statistics on these faces (no labels, weights "
                          "unchanged): on a shifted proxy +5.3 points on that kind of photo, PublicTest unchanged "
                          f"from 1,000 faces, -0.3 from 50-100" + ("" if enough else
                                                                   f"; needs at least {MIN_ZERO_LABEL_FACES} faces")):
        return
    out = adapted_dir(config) / f"{spec.model.stem}-adabn-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    crops, digest = unlabelled_faces(faces)
    def run(progress):
        replay = config.replay_dataset()
        _, val = replay_splits_of(load_dataset_with_progress(replay)) if replay else (None, None)
        return adapt_without_labels(spec.model, crops, out, photos=len(analysis.results), content_sha256=digest,
                                    val=val, replay_data=str(replay) if replay else None,
                                    command=f"python -m fer_core adapt --model {spec.model} --data COLLECTION "
                                            f"--out {out} --detector {spec.detector_words} --zero-label",
                                    progress=progress)

    _adapt_in_page("Adapting without labels ...", run)


def _adapt_in_page(label: str, run) -> None:
    """``run(progress)`` (an adaptation that returns its ``AdaptReport``) inside a status box; its
    report kept for the next rerun, which lists the adapted model in the model lists above."""
    with st.status(label, expanded=True) as status:
        try:
            report = run(status.write)
        except FerError as exc:
            status.update(label="Not adapted", state="error")
            st.error(str(exc))
            return
        status.update(label="Adapted", state="complete")
    st.session_state[REPORT_KEY] = (report.out.name, report.lines()[1:])
    st.rerun()


def _last_report() -> None:
    """The last adaptation's report, kept across reruns until the next one."""
    if REPORT_KEY in st.session_state:
        name, lines = st.session_state[REPORT_KEY]
        st.success(f"Wrote `{name}`: choose **Adapted: {name}** in the Model list above to answer with it.")
        for line in lines:
            st.write(line)
