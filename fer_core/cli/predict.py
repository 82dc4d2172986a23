"""The predict command: photos, videos and photo collections in one call, JSON on stdout; each video's
and collection's files in their own folder under --out."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fer_core.errors import ConfigError, DataError
from fer_core.settings import Settings


def answer_spec_from(args: argparse.Namespace, settings: Settings):
    """The ``AnswerSpec`` that ``predict`` and ``serve`` answer with, from their shared flags
    (checked before any backend loads: a wrong model path or option fails in one line, fast)."""
    from fer_core.inference.answering import AnswerSpec

    return AnswerSpec.resolve(args.model, tta=args.tta, detector=args.detector, margin=args.margin,
                              shift_y=args.shift_y, operating_point=args.operating_point, settings=settings)


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    spec = answer_spec_from(args, settings)
    from fer_core.data.video_files import is_video_name
    from fer_core.inference.photos import analyze_files

    inputs = [Path(p) for p in args.images]
    videos = [p for p in inputs if is_video_name(p) and not p.is_dir()]
    collections = [p for p in inputs if p.is_dir() or p.suffix.lower() == ".zip"]
    photos = [p for p in inputs if p not in videos and p not in collections]
    if (videos or collections) and not args.out:
        raise ConfigError("videos and photo collections write their results to a folder: add --out DIR")
    if not args.fps > 0:
        raise ConfigError(f"--fps must be above 0, got {args.fps}")
    model = spec.load()
    answers: dict[Path, dict] = {}
    failed = False
    if photos:
        for photo, result in zip(photos, analyze_files(model, photos, spec, args.whole_image_if_no_face)):
            answers[photo] = result.to_dict()
            failed |= result.error is not None
            if result.no_face:
                print(f"note: no face found in {result.name} (try --whole-image-if-no-face)", file=sys.stderr)
    for video in videos:
        answers[video] = _predict_video(model, spec, video, Path(args.out), args)
        failed |= "error" in answers[video]
    for collection in collections:
        answers[collection] = _predict_collection(model, spec, collection, Path(args.out), args, settings)
        failed |= "error" in answers[collection]
    print(json.dumps([answers[p] for p in inputs], indent=2))
    return 1 if failed else 0


def _unique_folder(out: Path, stem: str) -> Path:
    folder, k = out / stem, 2
    while folder.exists() and any(folder.iterdir()):
        folder, k = out / f"{stem}-{k}", k + 1
    return folder


def _predict_video(model, spec, video: Path, out: Path, args: argparse.Namespace) -> dict:
    from fer_core.inference.video_analysis import VideoOptions, analyze_video, write_video_outputs

    folder = _unique_folder(out, video.stem)
    started = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        if total and (done == total or done % max(1, total // 10) == 0):
            elapsed = time.perf_counter() - started
            print(f"{video.name}: {done}/{total} frames, {elapsed:.0f} s, about "
                  f"{elapsed / done * (total - done):.0f} s left", file=sys.stderr)

    try:
        analysis = analyze_video(model, video, spec, VideoOptions(fps=args.fps), annotated_path=folder / "annotated.mp4",
                                 progress=progress)
    except DataError as exc:
        print(f"error: {video}: {exc}", file=sys.stderr)
        return {"video": str(video), "error": str(exc)}
    written = write_video_outputs(analysis, folder)
    if analysis.no_face:
        print(f"note: no face found in any sampled frame of {video}", file=sys.stderr)
    return {**analysis.summary(), "video": str(video),
            "outputs": [str(p) for p in [*written, folder / "annotated.mp4"]]}


def _predict_collection(model, spec, collection: Path, out: Path, args: argparse.Namespace,
                        settings: Settings) -> dict:
    from fer_core.charts import class_distribution_bar, figures_html, top_confidence_histogram
    from fer_core.fileio import atomic_path, write_text_atomic
    from fer_core.inference.photo_collections import analyze_collection, faces_grid, write_collection_outputs

    folder = _unique_folder(out, collection.stem if collection.is_file() else collection.name)

    def progress(done: int, total: int) -> None:
        print(f"{collection.name}: {done}/{total} photos", file=sys.stderr)

    try:
        analysis = analyze_collection(model, collection, spec, whole_image_if_no_face=args.whole_image_if_no_face,
                                      progress=progress,
                                      max_photos=settings.max_collection_photos)
    except DataError as exc:
        print(f"error: {collection}: {exc}", file=sys.stderr)
        return {"collection": str(collection), "error": str(exc)}
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
