"""The Predict page's video and photo-collection work: where uploads go, progress with an ETA,
turns at the model, and the answers kept for the session.

An uploaded video is written under the cache folder with a content-hashed name (OpenCV reads
files, not bytes); only its suffix comes from the user's file name. The last ``KEEP_VIDEOS``
videos and their annotated copies are kept; older ones are removed. An uploaded zip of photos is
never written anywhere: it is read from memory. Each sampled frame (or chunk of photos) takes its
turn at the model through the server's ``ModelGate``, so a long video never holds other users up
for more than a frame.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import astuple
from pathlib import Path

import streamlit as st

from fer_core.app.cache import cached_answerer
from fer_core.app.session import settings
from fer_core.errors import DataError
from fer_core.data.video_files import VIDEO_EXTENSIONS, VideoLimits
from fer_core.fileio import save_by_content
from fer_core.answering.spec import AnswerSpec
from fer_core.media.collections import CollectionAnalysis
from fer_core.media.video import VideoAnalysis, VideoOptions

KEEP_VIDEOS = 5


def videos_folder() -> Path:
    folder = settings().cache_dir / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_video_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded video on disk under a content-hashed name; a clear ``DataError`` for a file
    that is not one of the accepted kinds or over the size cap."""
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        raise DataError(f"'{name}': upload an {', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)} video")
    limits = VideoLimits.from_settings(settings())
    if len(data) > limits.max_bytes:
        raise DataError(f"'{name}' is {len(data) / 2**20:,.0f} MB; videos may be {limits.describe()}")
    folder = videos_folder()
    path = save_by_content(folder, data, suffix)
    _prune(folder)
    return path


def saved_video(upload) -> Path:
    """``save_video_upload`` once per uploaded file of the session: every rerun (each slider move)
    would otherwise hash the whole video again to find its name."""
    saved = st.session_state.setdefault("saved_videos", {})
    path = saved.get(upload.file_id)
    if path is None or not path.exists():
        path = saved[upload.file_id] = save_video_upload(upload.name, upload.getvalue())
    return path


def _prune(folder: Path) -> None:
    videos = sorted((p for p in folder.iterdir() if p.suffix in VIDEO_EXTENSIONS and ".annotated" not in p.name),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in videos[KEEP_VIDEOS:]:
        for path in folder.glob(f"{old.stem}*"):
            path.unlink(missing_ok=True)


class EtaProgress:
    """A Streamlit progress bar that says how far along the work is and about how long is left."""

    def __init__(self, unit: str):
        self.unit, self.started = unit, time.perf_counter()
        self.bar = st.progress(0.0, text=f"Starting ... (0 {unit})")

    def __call__(self, done: int, total: int | None) -> None:
        elapsed = time.perf_counter() - self.started
        if total:
            left = elapsed / max(done, 1) * (total - done)
            self.bar.progress(min(1.0, done / total),
                              text=f"{done:,} of {total:,} {self.unit}, about {left:,.0f} s left")
        else:
            self.bar.progress(0.5, text=f"{done:,} {self.unit} ({elapsed:,.0f} s)")

    def clear(self) -> None:
        self.bar.empty()


def annotated_path(video: Path, spec: AnswerSpec, options: VideoOptions) -> Path:
    """Where the annotated copy of ``video`` for this spec and these options goes (beside it)."""
    settings_key = hashlib.sha256(repr((spec.cache_key(), astuple(options))).encode()).hexdigest()[:10]
    return video.with_name(f"{video.stem}-{settings_key}.annotated.mp4")


def run_video(spec: AnswerSpec, video: Path, name: str, options: VideoOptions) -> VideoAnalysis:
    """Analyse a saved video with a progress bar; the annotated MP4 lands beside it (``annotated_path``)."""
    progress = EtaProgress("sampled frames")
    try:
        return cached_answerer(spec).video(video, options, annotated_path=annotated_path(video, spec, options),
                                           name=name, progress=progress, limits=VideoLimits.from_settings(settings()))
    finally:
        progress.clear()


def run_collection(spec: AnswerSpec, source: Path | bytes, name: str, key: str) -> CollectionAnalysis:
    """Analyse a folder (a path) or an uploaded zip (its bytes, read in memory) with a progress bar;
    on the Dask cluster the ``cluster`` setting names, when it names one (``run_collection_on_cluster``).
    ``key``: what identifies the source's content (``photo_source``; an upload's SHA-256)."""
    if settings().cluster:
        return run_collection_on_cluster(spec, source, name, key)
    progress = EtaProgress("photos")
    try:
        return cached_answerer(spec).collection(io.BytesIO(source) if isinstance(source, bytes) else source,
                                                progress=progress, max_photos=settings().max_collection_photos,
                                                name=name)
    finally:
        progress.clear()


def run_collection_on_cluster(spec: AnswerSpec, source: Path | bytes, name: str, key: str) -> CollectionAnalysis:
    """A collection in chunks on the cluster, with a progress bar per chunk. Its chunks are kept
    under the cache folder by content and spec, so the same collection asked again after a
    stopped run (a closed tab, a restarted server) answers only the chunks it had not finished."""
    from fer_core.cluster.chunks import analyze_collection_on_cluster
    from fer_core.cluster.workers import connect
    from fer_core.cluster.options import ClusterOptions

    config = settings()
    upload_sha256 = key if isinstance(source, bytes) else None  # photo_source hashed the upload once
    run_key = hashlib.sha256(repr((name, upload_sha256 or str(source), spec.cache_key())).encode()).hexdigest()[:16]
    bar = EtaProgress("chunks")
    try:
        with connect(ClusterOptions(config.cluster)) as cluster:
            analysis, _ = analyze_collection_on_cluster(
                cluster, io.BytesIO(source) if isinstance(source, bytes) else source, spec,
                config.cache_dir / "cluster_runs", run_key, progress=lambda done, total, left: bar(done, total),
                max_photos=config.max_cluster_photos, resume=True, name=name,
                upload_sha256=upload_sha256)
    finally:
        bar.clear()
    return analysis


def kept_answer(name: str, key: tuple, compute):
    """The session's last answer of kind ``name`` if it was made for ``key``, else ``compute()``,
    kept for the next rerun (each slider move reruns the page): the video and collection sections'
    "run once, keep it" rule."""
    held = st.session_state.get(name)
    if held is None or held[0] != key:
        held = st.session_state[name] = (key, compute())
    return held[1]


def photo_source(prefix: str, folders: list[str], upload_label: str, no_upload: str, no_folder: str):
    """A zip upload (read in memory) or a folder under the data folder, for a set of photos (the Predict
    page's collections, Results' labelled photos): ``(source, name, key)`` with ``source`` the zip's
    bytes or the folder's path and ``key`` what identifies its content; None (with a note shown) while
    there is nothing to work on. Widget keys start with ``prefix``."""
    import hashlib

    from fer_core.errors import FerError
    from fer_core.settings import resolve_under_root

    kind = st.radio("Photos from", ["An uploaded zip", "A folder under the data folder"], horizontal=True,
                    key=f"{prefix}_source")
    if kind == "An uploaded zip":
        upload = st.file_uploader(upload_label, type=["zip"], key=f"{prefix}_upload")
        if upload is None:
            st.info(no_upload)
            return None
        data = upload.getvalue()
        return data, upload.name, hashlib.sha256(data).hexdigest()
    if not folders:
        st.info(no_folder)
        return None
    choice = st.selectbox("Folder", folders, key=f"{prefix}_folder")
    try:
        folder = resolve_under_root(settings().data_root, choice)
    except FerError as exc:
        st.error(str(exc))
        return None
    return folder, choice, f"{folder}:{folder.stat().st_mtime_ns}"
