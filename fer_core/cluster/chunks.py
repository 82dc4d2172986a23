"""Photo collections and videos on a Dask ``distributed`` cluster: split into chunks, answered on
the workers, merged in order into the same files as one process writes, resumable.

Why: ``predict`` on 100,000 photos or hours of video runs for hours in one process, and a crash
loses the place. Here the work is cut into chunks (photos by the ``photos_per_task``, 96 by
default: twelve of ``media.collections.CHUNK``, so each model call holds the same photos as in one
process and the answers are the same; a video by ``segment_seconds`` of time, 60 by default, each
segment's tracker re-seeded at its edge, ``media.video.analyze_segment``). Each finished chunk
is written at once (atomically) under the run's folder, in ``.chunks/``, beside ``plan.json``
that says what was asked; a run started again with ``resume`` answers only the chunks missing.

The cluster is a ``LocalCluster`` on this machine (``local`` = one worker process per core,
``local:N``) or a running scheduler (``tcp://HOST:8786``). Each worker loads the model once
(``workers.ModelPlugin``: the model file and its card travel with it, so a remote worker needs no shared
disk for the model; an exported ``.onnx`` model needs no TensorFlow there). Photos travel to the
workers as bytes (read here, so a remote worker needs no access to the collection); videos are
read by path on the workers (a remote cluster needs the video on a disk it shares).

Failures: a scheduler that does not answer is one ``ConfigError``; a worker that dies mid-chunk
makes Dask run the chunk again elsewhere (``retries``), and one that keeps killing workers stops
the run with a ``DataError``; a chunk that outlasts ``chunk_timeout`` is submitted again, up to
``retries`` times, then stops the run. A stopped run keeps its finished chunks: ``--resume`` goes on.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from distributed import wait

from fer_core.data.photo_files import open_photo_set
from fer_core.data.video_files import VideoLimits, open_video
from fer_core.errors import ConfigError, DataError
from fer_core.fileio import atomic_path, taken_folders, write_json_atomic
from fer_core.answering.spec import AnswerSpec
from fer_core.cluster.options import ClusterOptions
from fer_core.cluster.workers import ClusterSession, worker_answerer
from fer_core.media.collections import CollectionAnalysis, answer_in_chunks
from fer_core.media.photos import result_from_record, result_record
from fer_core.media.video import SegmentAnswer, VideoAnalysis, VideoOptions, analyze_segment, merge_segments

CHUNKS_FOLDER = ".chunks"
# What a scheduler that cannot import fer_core (or has other packages) answers each task with, in
# one line: Dask's own words say "different environments" over four lines and name no module.
UNPICKLABLE_TASK = ("the Dask scheduler cannot unpickle the chunks' tasks: the scheduler and every worker must "
                    "import fer_core with this install's packages (start `dask scheduler` and `dask worker` from "
                    "the API image, or from this install with fer_core on PYTHONPATH; docs/deploy.md)")

Progress = Callable[[int, int, float | None], None]  # (chunks done, chunks in all, seconds left or None)


def _answer_photos(plugin_name: str, photos: list[tuple[str, bytes | str]], whole_image_if_no_face: bool) -> dict:
    """A chunk of photos (each its bytes, or the reason it could not be read) answered on a worker."""
    answerer = worker_answerer(plugin_name)

    def reader(data: bytes | str) -> Callable[[], bytes]:
        def read() -> bytes:
            if isinstance(data, str):
                raise DataError(data)
            return data
        return read

    skipped: list[tuple[str, str]] = []
    results = list(answer_in_chunks(answerer, [(n, reader(d)) for n, d in photos], skipped, whole_image_if_no_face))
    records = [result_record(r) for r in results]
    return {"results": [r for r, _ in records], "crops": [c for _, crops in records for c in crops],
            "skipped": skipped}


def _answer_segment(plugin_name: str, path: str, options: VideoOptions, start: int, end: int | None,
                    limits: VideoLimits) -> dict:
    try:
        answer = analyze_segment(worker_answerer(plugin_name), path, options, start, end, limits)
    except DataError as exc:
        raise DataError(f"on worker: {exc} (a remote cluster reads videos by path: put the video on a disk "
                        "the workers share)") from None
    return {"rows": answer.rows, "times": answer.times, "warmup": [list(w) for w in answer.warmup]}


# --------------------------------------------------------------------------- chunks on disk


class ChunkStore:
    """A run's finished chunks under ``folder/.chunks``: ``plan.json`` (what was asked) and one
    ``NNNNNN.json`` (plus ``NNNNNN.npz`` of face crops, loaded without pickle) per chunk."""

    def __init__(self, folder: Path, plan: dict):
        self.folder, self.root = folder, folder / CHUNKS_FOLDER
        if not (self.root / "plan.json").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.root / "plan.json", plan)

    @classmethod
    def open(cls, out: Path, stem: str, plan: dict, resume: bool) -> "ChunkStore":
        """The run's folder under ``out``: with ``resume``, the newest of ``stem``, ``stem-2``, ...
        whose plan is this one (its finished chunks are kept); else the first that is empty or new."""
        folders, candidate = taken_folders(out, stem)
        if resume:
            for folder in reversed(folders):
                if _kept_plan(folder) == plan:
                    return cls(folder, plan)
        return cls(candidate, plan)

    def _file(self, index: int, suffix: str) -> Path:
        return self.root / f"{index:06d}{suffix}"

    def done(self, index: int) -> bool:
        return self._file(index, ".json").exists()

    def save(self, index: int, answer: dict) -> None:
        crops = answer.pop("crops", None)
        if crops is not None:  # the crops first: a chunk counts as done once its JSON exists
            with atomic_path(self._file(index, ".npz"), suffix=".npz") as tmp:
                np.savez_compressed(tmp, crops=np.stack(crops) if crops else np.zeros((0, 48, 48), np.uint8))
        write_json_atomic(self._file(index, ".json"), answer)

    def load(self, index: int) -> tuple[dict, np.ndarray | None]:
        answer = json.loads(self._file(index, ".json").read_text(encoding="utf-8"))
        crops_file = self._file(index, ".npz")
        if not crops_file.exists():
            return answer, None
        with np.load(crops_file, allow_pickle=False) as data:
            return answer, data["crops"]


def _kept_plan(folder: Path) -> dict | None:
    try:
        return json.loads((folder / CHUNKS_FOLDER / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run_chunks(cluster: ClusterSession, todo: list[int], submit: Callable[[int, int], Any], store: ChunkStore,
                total: int, options: ClusterOptions, progress: Progress | None, what: str) -> None:
    """Submit the chunks ``todo`` (a few more than the workers have threads, so none waits long),
    save each answer as it comes, resubmit those that outlast the timeout; stop with a
    ``DataError`` that says what is kept when a chunk cannot be answered."""
    queue = collections.deque(todo)
    pending: dict[Any, tuple[int, float, int]] = {}  # future -> (chunk, submitted at, try)
    done_count, started = total - len(todo), time.monotonic()
    fresh_done = 0

    def cancel_pending() -> None:
        for future in pending:
            future.cancel()

    def stop(message: str) -> DataError:
        cancel_pending()
        kept = sum(store.done(k) for k in range(total))
        return DataError(f"{what}: {message}; {kept} of {total} chunks are kept in {store.folder}: "
                         "run again with --resume to go on")

    finished_at: dict[Any, float] = {}  # when each future's answer came: a late one counts as timed out

    def watched(future):
        future.add_done_callback(lambda f: finished_at.setdefault(f, time.monotonic()))
        return future

    if progress is not None:
        progress(done_count, total, None)
    threads = cluster.threads()
    while queue or pending:
        while queue and len(pending) < threads + 1:
            index = queue.popleft()
            pending[watched(submit(index, 1))] = (index, time.monotonic(), 1)
        try:
            finished, _ = wait(list(pending), timeout=1.0, return_when="FIRST_COMPLETED")
        except TimeoutError:
            finished = []
        now = time.monotonic()
        for future in finished:
            index, submitted, attempt = pending[future]
            if finished_at.get(future, now) - submitted > options.chunk_timeout:
                continue  # answered too late: counted as timed out below
            pending.pop(future)
            try:
                answer = future.result()
            except DataError as exc:
                raise stop(f"chunk {index + 1}: {exc}") from None
            except Exception as exc:  # KilledWorker, or a fault inside the chunk's code
                if type(exc).__name__ == "KilledWorker":
                    raise stop(f"chunk {index + 1} killed {options.retries + 1} workers (out of memory?)") from None
                if "deserialization of the task graph" in str(exc):  # Dask's scheduler unpickles each task
                    cancel_pending()
                    raise ConfigError(UNPICKLABLE_TASK) from None
                raise stop(f"chunk {index + 1} failed on its worker ({type(exc).__name__}: {exc})") from None
            store.save(index, answer)
            done_count, fresh_done = done_count + 1, fresh_done + 1
            if progress is not None:
                rate = (time.monotonic() - started) / fresh_done
                progress(done_count, total, rate * (total - done_count))
        if finished and queue:  # answers came and more wait: the cluster may have grown or shrunk (one poll a round)
            threads = cluster.threads()
        for future, (index, submitted, attempt) in list(pending.items()):
            if finished_at.get(future, now) - submitted > options.chunk_timeout:
                future.cancel()
                del pending[future]
                if attempt > options.retries:
                    raise stop(f"chunk {index + 1} did not finish in {options.chunk_timeout:g} s "
                               f"({attempt} tries; a longer --chunk-timeout?)")
                pending[watched(submit(index, attempt + 1))] = (index, now, attempt + 1)


def _input_identity(source, upload_sha256: str | None = None) -> dict:
    """What says a collection or video is the one a kept plan was made for: size and mtime of a
    file; of a folder, the names, sizes and mtimes of its files; of an upload, its SHA-256: the
    caller's where it has one (a 200 MB zip, the upload limit, is 0.12 s of hashing on this machine)."""
    if hasattr(source, "getvalue"):
        return {"sha256": upload_sha256 or hashlib.sha256(source.getvalue()).hexdigest()}
    path = Path(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return {"path": str(path.resolve()), "files": digest.hexdigest()}
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _plan(kind: str, path, spec: AnswerSpec, chunks: list, extra: dict, upload_sha256: str | None = None) -> dict:
    return {"kind": kind, "input": _input_identity(path, upload_sha256), "answer": spec.describe(),
            "model_mtime_ns": spec.model.stat().st_mtime_ns, "chunks": chunks, **extra}


# --------------------------------------------------------------------------- the two kinds of work


def analyze_collection_on_cluster(cluster: ClusterSession, path: str | os.PathLike | BinaryIO, spec: AnswerSpec,
                                  out: Path, stem: str,
                                  options: ClusterOptions = ClusterOptions(), whole_image_if_no_face: bool = False,
                                  progress: Progress | None = None, max_photos: int | None = None,
                                  resume: bool = False, name: str | None = None,
                                  upload_sha256: str | None = None) -> tuple[CollectionAnalysis, Path]:
    """``media.collections.analyze_collection`` on the cluster of the session ``cluster``: the same
    analysis (results and skipped files in the same order), and the run's folder under ``out``
    (``ChunkStore.open``) where its chunks are kept. ``upload_sha256``: an uploaded zip's SHA-256,
    where the caller has it (``app.media.photo_source``), so it is not hashed again."""
    analysis = CollectionAnalysis(name or Path(getattr(path, "name", None) or str(path)).name)
    with open_photo_set(path, max_photos) as collection:
        analysis.skipped.extend(collection.skipped)
        photos = collection.photos
        step = options.photos_per_task
        chunks = [[n for n, _ in photos[k:k + step]] for k in range(0, len(photos), step)]
        store = ChunkStore.open(Path(out), stem, _plan("collection", path, spec, chunks,
                                                       {"whole_image_if_no_face": whole_image_if_no_face},
                                                       upload_sha256), resume)
        plugin_name = cluster.model_plugin(spec, options)
        run_id = uuid.uuid4().hex[:8]

        def submit(index: int, attempt: int):
            shipped = []
            for photo_name, read in photos[index * step:(index + 1) * step]:
                try:
                    shipped.append((photo_name, read()))
                except DataError as exc:
                    shipped.append((photo_name, str(exc)))
            return cluster.client.submit(_answer_photos, plugin_name, shipped, whole_image_if_no_face,
                                 key=f"fer-photos-{run_id}-{index}-{attempt}", retries=options.retries, pure=False)

        todo = [k for k in range(len(chunks)) if not store.done(k)]
        _run_chunks(cluster, todo, submit, store, len(chunks), options, progress, analysis.name)
    for index in range(len(chunks)):
        answer, crops = store.load(index)
        faces_before = 0
        for record in answer["results"]:
            count = len(record["faces"])
            analysis.results.append(result_from_record(record, list(crops[faces_before:faces_before + count])))
            faces_before += count
        analysis.skipped.extend(tuple(s) for s in answer["skipped"])
    return analysis, store.folder


def analyze_video_on_cluster(cluster: ClusterSession, path: str | os.PathLike, spec: AnswerSpec, out: Path, stem: str,
                             video_options: VideoOptions = VideoOptions(), options: ClusterOptions = ClusterOptions(),
                             progress: Progress | None = None, limits: VideoLimits | None = None,
                             resume: bool = False, name: str | None = None) -> tuple[VideoAnalysis, Path]:
    """``media.video.analyze_video`` on the cluster, by time segments (no annotated video: its
    frames would have to travel back). The same rows as one pass; person ids too where the
    tracker's warm-up at each edge matches (see ``analyze_segment``)."""
    started = time.perf_counter()
    path = Path(path).resolve()
    limits = limits or VideoLimits()
    info = open_video(path, limits)
    analysis = VideoAnalysis(name or path.name, info, video_options, spec)
    if info.frame_count > 0:
        step = max(1, round(options.segment_seconds * info.fps))
        edges = list(range(0, info.frame_count, step))
        segments = [[start, start + step if start + step < info.frame_count else None] for start in edges]
    else:  # the container does not say its length: one segment, on one worker
        segments = [[0, None]]
    store = ChunkStore.open(Path(out), stem, _plan("video", path, spec, segments,
                                                   {"video_options": video_options.__dict__}), resume)
    plugin_name = cluster.model_plugin(spec, options)
    run_id = uuid.uuid4().hex[:8]

    def submit(index: int, attempt: int):
        start, end = segments[index]
        return cluster.client.submit(_answer_segment, plugin_name, str(path), video_options, start, end, limits,
                             key=f"fer-video-{run_id}-{index}-{attempt}", retries=options.retries, pure=False)

    todo = [k for k in range(len(segments)) if not store.done(k)]
    _run_chunks(cluster, todo, submit, store, len(segments), options, progress, analysis.name)
    answers = [store.load(k)[0] for k in range(len(segments))]
    analysis.rows, analysis.times = merge_segments(
        [SegmentAnswer(a["rows"], a["times"], [tuple(w) for w in a["warmup"]]) for a in answers])
    if analysis.sampled_frames == 0:
        raise DataError("no frame could be decoded (a damaged video)")
    analysis.seconds = time.perf_counter() - started
    return analysis, store.folder
