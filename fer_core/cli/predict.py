"""The predict command: photos, videos and photo collections in one call, JSON on stdout; each video's
and collection's files in their own folder under --out."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fer_core.errors import ConfigError, DataError
from fer_core.settings import Settings


def answer_spec_from(args: argparse.Namespace, settings: Settings):
    """The ``AnswerSpec`` that ``predict`` and ``serve`` answer with, from their shared flags
    (checked before any backend loads: a wrong model path or option fails in one line, fast)."""
    from fer_core.answering.spec import AnswerSpec

    return AnswerSpec.resolve(args.model, tta=args.tta, detector=args.detector, margin=args.margin,
                              shift_y=args.shift_y, operating_point=args.operating_point, settings=settings,
                              device=args.device)


def check_device_here(spec) -> None:
    """``--device`` on this machine, before anything loads: ``gpu`` with no GPU here fails in one
    line, ``auto`` that falls back to the CPU says so in one (on stderr). A cluster's workers
    resolve it each on their own machine, where the model loads."""
    from fer_core.runtime.devices import resolve_device

    note = resolve_device(spec.device, spec.model).note
    if note is not None:
        print(note, file=sys.stderr)


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    spec = answer_spec_from(args, settings)
    from fer_core.data.video_files import is_video_name

    inputs = [Path(p) for p in args.images]
    videos = [p for p in inputs if is_video_name(p) and not p.is_dir()]
    collections = [p for p in inputs if p.is_dir() or p.suffix.lower() == ".zip"]
    photos = [p for p in inputs if p not in videos and p not in collections]
    if (videos or collections) and not args.out:
        raise ConfigError("videos and photo collections write their results to a folder: add --out DIR")
    if not args.fps > 0:
        raise ConfigError(f"--fps must be above 0, got {args.fps}")
    cluster = _cluster_options(args, settings)
    if photos or cluster is None:
        check_device_here(spec)
    answers: dict[Path, dict] = {}
    failed = False
    answerer = spec.load() if photos or ((videos or collections) and cluster is None) else None
    if photos:
        for photo, result in zip(photos, answerer.files(photos, args.whole_image_if_no_face)):
            answers[photo] = result.to_dict()
            failed |= result.error is not None
            if result.no_face:
                print(f"note: no face found in {result.name} (try --whole-image-if-no-face)", file=sys.stderr)
    if cluster is not None and (videos or collections):
        answers.update(_predict_on_cluster(spec, videos, collections, Path(args.out), args, settings, cluster))
    else:
        for video in videos:
            answers[video] = _predict_video(answerer, video, Path(args.out), args, settings)
        for collection in collections:
            answers[collection] = _predict_collection(answerer, collection, Path(args.out), args, settings)
    failed |= any("error" in answers[p] for p in (*videos, *collections))
    print(json.dumps([answers[p] for p in inputs], indent=2))
    return 1 if failed else 0


def _cluster_options(args: argparse.Namespace, settings: Settings):
    """The cluster to run on (``--cluster``, else the setting), or None for one process."""
    address = args.cluster if args.cluster is not None else settings.cluster
    if not address:
        if args.resume:
            raise ConfigError("--resume goes with --cluster (or the cluster setting, FER_CLUSTER)")
        return None
    from fer_core.cluster.options import ClusterOptions

    return ClusterOptions(address, chunk_timeout=args.chunk_timeout, retries=args.retries,
                          photos_per_task=args.photos_per_task, segment_seconds=args.segment_seconds)


def _chunk_progress(name: str, unit: str) -> Callable[[int, int, float | None], None]:
    started = time.perf_counter()

    def progress(done: int, total: int, left: float | None) -> None:
        eta = "" if left is None else f", about {left:,.0f} s left"
        print(f"{name}: {done}/{total} {unit}, {time.perf_counter() - started:,.0f} s{eta}", file=sys.stderr)

    return progress


def _predict_on_cluster(spec, videos: list[Path], collections: list[Path], out: Path, args: argparse.Namespace,
                        settings: Settings, options) -> dict[Path, dict]:
    """Videos and collections in chunks on one cluster: the same files as one process writes
    (``predictions.csv``, ``predictions.json``, charts; ``frames.csv``, ``video.json``), no annotated video."""
    from fer_core.data.video_files import VideoLimits
    from fer_core.cluster.chunks import analyze_collection_on_cluster, analyze_video_on_cluster
    from fer_core.cluster.workers import connect
    from fer_core.media.video import VideoOptions, write_video_outputs

    answers: dict[Path, dict] = {}
    with connect(options) as cluster:  # one session: the model is registered on the workers once
        for video in videos:
            try:
                analysis, folder = analyze_video_on_cluster(
                    cluster, video, spec, out, video.stem, VideoOptions(fps=args.fps), options,
                    progress=_chunk_progress(video.name, "segments"), limits=VideoLimits.from_settings(settings),
                    resume=args.resume)
            except DataError as exc:
                print(f"error: {video}: {exc}", file=sys.stderr)
                answers[video] = {"video": str(video), "error": str(exc)}
                continue
            written = write_video_outputs(analysis, folder)
            if analysis.no_face:
                print(f"note: no face found in any sampled frame of {video}", file=sys.stderr)
            answers[video] = {**analysis.summary(), "video": str(video), "outputs": [str(p) for p in written]}
        for collection in collections:
            try:
                analysis, folder = analyze_collection_on_cluster(
                    cluster, collection, spec, out, _collection_stem(collection), options,
                    whole_image_if_no_face=args.whole_image_if_no_face,
                    progress=_chunk_progress(collection.name, "chunks"), max_photos=settings.max_cluster_photos,
                    resume=args.resume)
            except DataError as exc:
                print(f"error: {collection}: {exc}", file=sys.stderr)
                answers[collection] = {"collection": str(collection), "error": str(exc)}
                continue
            answers[collection] = _write_collection(analysis, collection, folder)
    return answers


def _unique_folder(out: Path, stem: str) -> Path:
    from fer_core.fileio import taken_folders

    return taken_folders(out, stem)[1]


def _predict_video(answerer, video: Path, out: Path, args: argparse.Namespace, settings: Settings) -> dict:
    from fer_core.data.video_files import VideoLimits
    from fer_core.media.video import VideoOptions, write_video_outputs

    folder = _unique_folder(out, video.stem)
    started = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        if total and (done == total or done % max(1, total // 10) == 0):
            elapsed = time.perf_counter() - started
            print(f"{video.name}: {done}/{total} frames, {elapsed:.0f} s, about "
                  f"{elapsed / done * (total - done):.0f} s left", file=sys.stderr)

    try:
        analysis = answerer.video(video, VideoOptions(fps=args.fps), annotated_path=folder / "annotated.mp4",
                                  progress=progress, limits=VideoLimits.from_settings(settings))
    except DataError as exc:
        print(f"error: {video}: {exc}", file=sys.stderr)
        return {"video": str(video), "error": str(exc)}
    written = write_video_outputs(analysis, folder)
    if analysis.no_face:
        print(f"note: no face found in any sampled frame of {video}", file=sys.stderr)
    return {**analysis.summary(), "video": str(video),
            "outputs": [str(p) for p in [*written, folder / "annotated.mp4"]]}


def _predict_collection(answerer, collection: Path, out: Path, args: argparse.Namespace,
                        settings: Settings) -> dict:
    folder = _unique_folder(out, _collection_stem(collection))

    def progress(done: int, total: int) -> None:
        print(f"{collection.name}: {done}/{total} photos", file=sys.stderr)

    try:
        analysis = answerer.collection(collection, whole_image_if_no_face=args.whole_image_if_no_face,
                                       progress=progress, max_photos=settings.max_collection_photos)
    except DataError as exc:
        print(f"error: {collection}: {exc}", file=sys.stderr)
        return {"collection": str(collection), "error": str(exc)}
    return _write_collection(analysis, collection, folder)


def _collection_stem(collection: Path) -> str:
    return collection.stem if collection.is_file() else collection.name


def _write_collection(analysis, collection: Path, folder: Path) -> dict:
    """A collection's files (``predictions.csv``/``.json``, ``charts.html``, ``faces_by_class.png``)
    and its JSON answer; the skipped files noted on stderr."""
    from fer_core.charts import class_distribution_bar, figures_html, top_confidence_histogram
    from fer_core.fileio import atomic_path, write_text_atomic
    from fer_core.media.collections import faces_grid, write_collection_outputs

    for name, why in analysis.skipped:
        print(f"note: skipped {name}: {why}", file=sys.stderr)
    written = write_collection_outputs(analysis, folder)
    write_text_atomic(folder / "charts.html", figures_html(
        [class_distribution_bar(analysis.distribution()), top_confidence_histogram(analysis.confidences())],
        f"{analysis.name}: faces per predicted class and confidence"))
    with atomic_path(folder / "faces_by_class.png") as tmp:
        faces_grid(analysis).save(tmp, format="PNG")
    written += [folder / "charts.html", folder / "faces_by_class.png"]
    return {**analysis.summary(), "collection": str(collection), "outputs": [str(p) for p in written]}
