"""Command line: ``python -m fer_core {train,tune,evaluate,predict,runs,bundle,ensemble,pack,data}``.

Each command is a thin layer over the library functions the dashboard also calls.
Errors a user can fix (a missing file, a bad dataset, an unknown split) print one clear
line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

from fer_core.data.loaders import DataError, existing_dataset_path
from fer_core.inference.loading import existing_model_path
from fer_core.settings import Settings
from fer_core.training.presets import PRESETS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the way


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.replace(",", " ").split()]


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="fer2013.csv, a Kaggle-layout folder or .zip, or class folders")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad item instead of skipping it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_core", description="FER Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)

    # Recipe flags default to "not given", so a preset's values hold unless a flag overrides them;
    # TrainConfig's defaults fill the rest (the values shown in the help).
    train = sub.add_parser("train", help="train a model; writes a run directory", argument_default=argparse.SUPPRESS)
    train.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="a measured recipe (docs/results.md); other options override its values")
    train.add_argument("--data", default=None, help="dataset path (required unless --resume)")
    train.add_argument("--strict", action="store_true", help="stop at the first bad item instead of skipping it")
    train.add_argument("--model", help="architecture from the model registry")
    train.add_argument("--epochs", type=int, help="epochs to train (with --time-budget: the most it may train)")
    train.add_argument("--time-budget", type=float, metavar="MINUTES",
                       help="train as many epochs as fit in MINUTES on this machine, timed by a few probe "
                            "steps first (0 = off; the quick preset sets 29, the gpu preset 4)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--lr-schedule", choices=["constant", "cosine", "onecycle", "plateau"])
    train.add_argument("--warmup-epochs", type=float, help="linear warm-up (onecycle: 30%% if 0)")
    train.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], help="sgd uses Nesterov")
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--momentum", type=float, help="for sgd")
    train.add_argument("--filters", type=_int_list, help="stage widths, e.g. 32,64,128 (default: the model's)")
    train.add_argument("--dense-units", type=int, help="(default: the model's)")
    train.add_argument("--dropout", type=float, help="(default: the model's)")
    train.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                       help="any other builder argument, e.g. convs_per_stage=3 (repeatable)")
    train.add_argument("--augment", type=float, help="augmentation strength 0-1 (0 = off)")
    train.add_argument("--erasing", type=float, help="random-erasing probability per image")
    train.add_argument("--crop-padding", type=int,
                       help="random shift by up to N pixels, edges repeated (a crop of the padded face)")
    train.add_argument("--crop-size", type=int,
                       help="train on a random N x N window of each face, the centre one at inference (0 = whole face)")
    train.add_argument("--flip", action=argparse.BooleanOptionalAction, help="random horizontal flip")
    train.add_argument("--mixup", type=float, help="mixup Beta alpha (0 = off)")
    train.add_argument("--cutmix", type=float, help="cutmix Beta alpha (0 = off)")
    train.add_argument("--class-weight", choices=["none", "balanced", "sqrt"])
    train.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction,
                       help="16-bit compute, float32 weights: bfloat16 on a GPU that has it (Ampere, Hopper), "
                            "float16 on an older GPU, bfloat16 on a CPU with native bfloat16 instructions "
                            "(AVX512_BF16, AMX); ignored elsewhere")
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--teacher", action="append", metavar="MODEL",
                       help="knowledge distillation: train on a mix of the labels and this model's probabilities "
                            "(a bundled name such as default, a run folder or a .keras file; repeat for the mean "
                            "of several)")
    train.add_argument("--teacher-weight", type=float, help="share of the teacher's probabilities in the targets")
    train.add_argument("--init-from", metavar="MODEL",
                       help="fine-tune: start from this model's weights (default, a bundled name, a run folder or "
                            "a .keras file, loaded in safe mode); the architecture is then the model's")
    train.add_argument("--freeze", help="with --init-from: none, body (all but the head) or N (the first N stages)")
    train.add_argument("--unfreeze-after", type=int, metavar="K",
                       help="train the frozen layers too after epoch K, at the learning rate x --unfreeze-lr-factor")
    train.add_argument("--unfreeze-lr-factor", type=float, help="(default 0.1)")
    train.add_argument("--detect-faces", action="store_true",
                       help="the dataset holds whole photos: crop each one's largest face as Predict does")
    train.add_argument("--checkpoint-minutes", type=float,
                       help="save the resume checkpoint at most every N minutes (0 = every epoch)")
    train.add_argument("--data-fraction", type=float, help="stratified share of train to use")
    train.add_argument("--seed", type=int)
    train.add_argument("--val-split", help="split that picks the best epoch")
    train.add_argument("--validate-last", type=int,
                       help="validate only in the last N epochs (0 = every epoch); the best model is one of those")
    train.add_argument("--runs-dir", default="runs")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a killed training run")

    tune = sub.add_parser("tune", help="Keras-Tuner search; writes a run directory")
    tune.add_argument("--data", help="dataset path (required unless --resume)")
    tune.add_argument("--strict", action="store_true")
    tune.add_argument("--tuner", choices=["random", "hyperband", "bayesian"], default="random")
    tune.add_argument("--max-trials", type=int, default=10, help="trials for random and bayesian search")
    tune.add_argument("--epochs", type=int, default=10, help="epochs per trial (max epochs for hyperband)")
    tune.add_argument("--model", default="reference")
    tune.add_argument("--lr-min", type=float, default=1e-4)
    tune.add_argument("--lr-max", type=float, default=1e-2)
    tune.add_argument("--batch-sizes", type=_int_list, default=[32, 64, 128])
    tune.add_argument("--base-filters", type=_int_list, default=[16, 32, 48, 64])
    tune.add_argument("--dense-units", type=_int_list, default=[128, 256, 512])
    tune.add_argument("--data-fraction", type=float, default=1.0)
    tune.add_argument("--seed", type=int, default=1234)
    tune.add_argument("--runs-dir", default="runs")
    tune.add_argument("--resume", metavar="RUN_DIR", help="continue a killed tuning run")
    tune.add_argument("--workers", type=int, default=0,
                      help="run trials in N worker processes at once (Keras-Tuner's distributed mode: this "
                           "process serves the oracle; workers on other machines can join with tune-worker)")
    tune.add_argument("--oracle-host", default="127.0.0.1",
                      help="address the oracle listens on (0.0.0.0 to let other machines join)")
    tune.add_argument("--oracle-port", type=int, default=0, help="port for the oracle (0 = any free port)")

    tune_worker = sub.add_parser("tune-worker", help="join a distributed search as a worker (see tune --workers)")
    tune_worker.add_argument("run_dir", help="the search's run folder, shared with the chief")
    tune_worker.add_argument("--oracle", required=True, metavar="HOST:PORT", help="the chief's oracle")
    tune_worker.add_argument("--worker-id", default=f"worker-{os.uname().nodename}-{os.getpid()}",
                             help="a name for this worker, unique in the search")

    evaluate = sub.add_parser("evaluate", help="metrics, mistakes and sample predictions on a split")
    _add_data_args(evaluate)
    evaluate.add_argument("--model", default="default", help="a .keras file, a run directory, or 'default'")
    evaluate.add_argument("--split", default="val", choices=["train", "val", "test"])
    evaluate.add_argument("--out", required=True, help="folder for metrics.json, misclassified.csv, samples.png")
    evaluate.add_argument("--tta", choices=["none", "flip", "multicrop"], default="none",
                          help="test-time augmentation: average over mirrored (and shifted) views")

    predict = sub.add_parser("predict", help="find and classify the faces in photos, videos and photo collections; "
                                            "prints JSON")
    predict.add_argument("images", nargs="+", metavar="INPUT",
                         help="photos (jpg, png, webp, ...; any size, colour or grey), videos (mp4, webm, mov, avi: "
                              "a timeline per person) or photo collections (a folder or a .zip of photos)")
    predict.add_argument("--out", help="folder for each video's frames.csv, video.json and annotated.mp4 and each "
                                       "collection's predictions.csv and predictions.json (needed for those)")
    predict.add_argument("--fps", type=float, default=5.0, help="video frames sampled per second of video")
    predict.add_argument("--model", default="default", help="a .keras file, a run directory, or 'default'")
    predict.add_argument("--detector", choices=["mtcnn", "haar", "none"], default="mtcnn",
                         help="face detector; 'none' classifies each whole file as one face crop")
    predict.add_argument("--margin", type=float, default=0.05, help="crop margin around a face, share of its size")
    predict.add_argument("--whole-image-if-no-face", action="store_true",
                         help="classify a photo with no face found as one face")
    predict.add_argument("--tta", choices=["auto", "none", "flip", "multicrop"], default="auto",
                         help="test-time augmentation; auto (the default): none or flip, whichever scored higher "
                              "on PublicTest for this model (its card); flip averages with the mirrored face")

    ensemble = sub.add_parser("ensemble", help="combine models into one .keras file that averages them")
    ensemble.add_argument("models", nargs="+", help=".keras files or run directories (two or more)")
    ensemble.add_argument("--out", required=True, help="the ensemble .keras file to write")

    worker = sub.add_parser("worker", help="(used by the dashboard) wait for a queue slot, then run a job")
    worker.add_argument("run_dir")
    worker.add_argument("--max-running", type=int, default=1)

    runs = sub.add_parser("runs", help="list the runs in the registry")
    runs.add_argument("--runs-dir", default="runs")

    bundle = sub.add_parser("bundle", help="ship a finished run's model (or an ensemble of shipped models) in "
                                           "models/ with its metadata card, measured with and without TTA")
    bundle.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a finished training or tuning run directory; or two or more such runs or "
                             "bundled models/X.keras files (each with its card) to combine into an ensemble")
    bundle.add_argument("--data", required=True, help="the dataset whose val split the card reports")
    bundle.add_argument("--out", default="models/default.keras", help="where the model goes (card beside it)")
    bundle.add_argument("--command", dest="train_command", help="the training command, if the run lacks it")
    bundle.add_argument("--keras-backend", help="the backend it trained with, if the run lacks it")
    bundle.add_argument("--hardware", help="the machine it trained on, if the run lacks it")

    pack = sub.add_parser("pack", help="pack a dataset into one compact .ferpack file (lossless), e.g. to carry "
                                       "it to a GPU machine")
    _add_data_args(pack)
    pack.add_argument("--out", required=True, help="the .ferpack file to write")
    pack.add_argument("--splits", type=lambda text: [p for p in text.replace(",", " ").split() if p],
                      help="keep only these splits, e.g. train,val (default: all)")

    explain = sub.add_parser("explain", help="heat maps of what made the model answer as it did (HiResCAM, a "
                                             "Grad-CAM variant): for each face of a photo, or a dataset face")
    explain.add_argument("target", help="a photo, or the index of a face in --data's --split")
    explain.add_argument("--model", default="default", help="a .keras file, a run folder, 'default' or a bundled name")
    explain.add_argument("--data", help="the dataset, when TARGET is an index")
    explain.add_argument("--split", default="val", choices=["train", "val", "test"])
    explain.add_argument("--detector", choices=["mtcnn", "haar", "none"], default="mtcnn",
                         help="for a photo: the face detector; none: the whole photo is one face")
    explain.add_argument("--out", required=True, help="folder for face_K.png (the map over the face) and explain.json")

    calibrate = sub.add_parser("calibrate", help="fit a temperature on a split (val) so the model's probabilities "
                                                 "are calibrated; stored in its card and applied by predict")
    calibrate.add_argument("model", help="a .keras file, a run folder, 'default' or a bundled name")
    _add_data_args(calibrate)
    calibrate.add_argument("--split", default="val", choices=["train", "val", "test"])

    data = sub.add_parser("data", help="load a dataset (filling the cache) and print its splits")
    _add_data_args(data)
    data.add_argument("--detect-faces", action="store_true",
                      help="whole photos: crop each one's largest face as Predict does")
    data.add_argument("--duplicates", action="store_true", help="also count exact duplicates and cross-split leaks")
    return parser


def _given_values(cls, args: argparse.Namespace, renames: dict[str, str]) -> dict:
    """The parsed options that are fields of the dataclass ``cls`` (renamed where the flag differs)."""
    values = {}
    names = {f.name for f in fields(cls)}
    for key, value in vars(args).items():
        key = renames.get(key, key)
        if key in names and value is not None:
            values[key] = value
    return values


def _config_from_args(cls, args: argparse.Namespace, renames: dict[str, str]):
    return cls(**_given_values(cls, args, renames))


def cmd_train(args: argparse.Namespace) -> int:
    # Checks that need no backend come first: a wrong path is refused at once, not after TensorFlow loads.
    if not args.resume:
        if not args.data:
            raise UsageError("train needs --data (or --resume RUN_DIR)")
        existing_dataset_path(args.data)
        if getattr(args, "init_from", None):
            existing_model_path(args.init_from)
    from fer_core.training.train import TrainConfig, resume, train

    if args.resume:
        run_dir = resume(args.resume)
    else:
        from fer_core.training.presets import preset_values

        values = preset_values(args.preset) if args.preset else {}
        if hasattr(args, "model_arg"):
            values["model_args"] = {**values.get("model_args", {}), **_key_values(args.model_arg)}
        given = _given_values(TrainConfig, args, {"augment": "augment_strength"})
        config = TrainConfig(**{**values, **given})
        run_dir = train(config, args.runs_dir)
    _print_run_summary(run_dir)
    return 0


def _key_values(items: list[str]) -> dict[str, object]:
    """``["a=1", "b=0.5", "c=x"]`` -> ``{"a": 1, "b": 0.5, "c": "x"}`` (JSON values where they parse)."""
    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--model-arg expects KEY=VALUE, got '{item}'")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _print_run_summary(run_dir: str | os.PathLike) -> None:
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    print(json.dumps({"run_dir": str(run_dir), "split": metrics["split"], "accuracy": metrics["accuracy"],
                      "macro_f1": metrics["macro_f1"]}))


def cmd_tune(args: argparse.Namespace) -> int:
    from fer_core.training.tune import TuneConfig, resume_tuning, tune

    if args.resume:
        run_dir = resume_tuning(args.resume)
    else:
        if not args.data:
            raise UsageError("tune needs --data (or --resume RUN_DIR)")
        run_dir = tune(_config_from_args(TuneConfig, args, {}), args.runs_dir)
    _print_run_summary(run_dir)
    return 0


def cmd_tune_worker(args: argparse.Namespace) -> int:
    from fer_core.training.distributed import parse_oracle

    parse_oracle(args.oracle)  # a malformed address is refused before TensorFlow loads
    if not (Path(args.run_dir) / "config.json").exists():
        raise UsageError(f"{args.run_dir}: not a run folder (no config.json); give the chief's run folder")
    from fer_core.training.tune import run_worker

    return run_worker(args.run_dir, args.oracle, args.worker_id)


def cmd_evaluate(args: argparse.Namespace) -> int:
    existing_dataset_path(args.data)
    existing_model_path(args.model)
    from fer_core.data.loaders import LoadOptions, load_dataset
    from fer_core.inference.evaluation import predict_probabilities, write_report
    from fer_core.inference.loading import load_model

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict))
    split = dataset.split(args.split)
    model = load_model(args.model, tta=args.tta)
    metrics = write_report(args.out, args.split, split, predict_probabilities(model, split.images))
    if dataset.report.skipped:
        print(f"note: {dataset.report.summary()}", file=sys.stderr)
    print(f"{args.split}: n={metrics['n']} accuracy={metrics['accuracy']:.4f} macro_f1={metrics['macro_f1']:.4f}")
    for name, scores in metrics["per_class"].items():
        print(f"  {name:9s} precision={scores['precision']:.3f} recall={scores['recall']:.3f} "
              f"f1={scores['f1']:.3f} support={scores['support']}")
    print(f"wrote {Path(args.out) / 'metrics.json'}, misclassified.csv, samples.png")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    path = existing_model_path(args.model)
    from fer_core.data.video import is_video_name
    from fer_core.inference.cards import best_cheap_tta
    from fer_core.inference.faces import analyze_files
    from fer_core.inference.loading import load_model

    inputs = [Path(p) for p in args.images]
    videos = [p for p in inputs if is_video_name(p) and not p.is_dir()]
    collections = [p for p in inputs if p.is_dir() or p.suffix.lower() == ".zip"]
    photos = [p for p in inputs if p not in videos and p not in collections]
    if (videos or collections) and not args.out:
        raise UsageError("videos and photo collections write their results to a folder: add --out DIR")
    if not args.fps > 0:
        raise UsageError(f"--fps must be above 0, got {args.fps}")
    model = load_model(path, tta=best_cheap_tta(path) if args.tta == "auto" else args.tta, calibrated=True)
    whole = args.detector == "none"
    detector = "mtcnn" if whole else args.detector
    answers: dict[Path, dict] = {}
    failed = False
    if photos:
        for photo, result in zip(photos, analyze_files(model, photos, detector=detector, margin=args.margin,
                                                       whole_image=whole,
                                                       whole_image_if_no_face=args.whole_image_if_no_face)):
            answers[photo] = result.to_dict()
            failed |= result.error is not None
            if result.no_face:
                print(f"note: no face found in {result.name} (try --whole-image-if-no-face)", file=sys.stderr)
    for video in videos:
        answers[video] = _predict_video(model, video, Path(args.out), args)
        failed |= "error" in answers[video]
    for collection in collections:
        answers[collection] = _predict_collection(model, collection, Path(args.out), detector, args)
        failed |= "error" in answers[collection]
    print(json.dumps([answers[p] for p in inputs], indent=2))
    return 1 if failed else 0


def _unique_folder(out: Path, stem: str) -> Path:
    folder, k = out / stem, 2
    while folder.exists() and any(folder.iterdir()):
        folder, k = out / f"{stem}-{k}", k + 1
    return folder


def _predict_video(model, video: Path, out: Path, args: argparse.Namespace) -> dict:
    from fer_core.inference.video import VideoOptions, analyze_video, write_video_outputs

    folder = _unique_folder(out, video.stem)
    started = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        if total and (done == total or done % max(1, total // 10) == 0):
            elapsed = time.perf_counter() - started
            print(f"{video.name}: {done}/{total} frames, {elapsed:.0f} s, about "
                  f"{elapsed / done * (total - done):.0f} s left", file=sys.stderr)

    options = VideoOptions(fps=args.fps, detector="haar" if args.detector == "haar" else "mtcnn",
                           margin=args.margin)
    try:
        analysis = analyze_video(model, video, options, annotated_path=folder / "annotated.mp4", progress=progress)
    except DataError as exc:
        print(f"error: {video}: {exc}", file=sys.stderr)
        return {"video": str(video), "error": str(exc)}
    written = write_video_outputs(analysis, folder)
    if analysis.no_face:
        print(f"note: no face found in any sampled frame of {video}", file=sys.stderr)
    return {**analysis.summary(), "video": str(video),
            "outputs": [str(p) for p in [*written, folder / "annotated.mp4"]]}


def _predict_collection(model, collection: Path, out: Path, detector: str, args: argparse.Namespace) -> dict:
    from fer_core.app.charts import class_distribution_bar, figures_html, top_confidence_histogram
    from fer_core.fileio import atomic_path, write_text_atomic
    from fer_core.inference.photo_sets import analyze_collection, faces_grid, write_collection_outputs

    folder = _unique_folder(out, collection.stem if collection.is_file() else collection.name)

    def progress(done: int, total: int) -> None:
        print(f"{collection.name}: {done}/{total} photos", file=sys.stderr)

    try:
        analysis = analyze_collection(model, collection, detector=detector, margin=args.margin,
                                      whole_image_if_no_face=args.whole_image_if_no_face, progress=progress,
                                      max_photos=Settings.from_env().max_collection_photos)
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


def cmd_ensemble(args: argparse.Namespace) -> int:
    from fer_core.inference.ensemble import save_ensemble

    out = save_ensemble(args.models, args.out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB), the mean of {len(args.models)} models")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from fer_core.training.jobs import run_worker

    return run_worker(args.run_dir, args.max_running)


def cmd_runs(args: argparse.Namespace) -> int:
    from fer_core.training.runs import RunRegistry

    registry = RunRegistry(args.runs_dir)
    registry.reconcile()
    records = registry.list()
    if not records:
        print(f"no runs in {args.runs_dir}")
    for r in records:
        metrics = " ".join(f"{k}={v:.4f}" for k, v in r.metrics.items() if isinstance(v, float))
        print(f"{r.run_id}  {r.kind:5s}  {r.status:9s}  {metrics}")
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from fer_core.training.bundle import bundle_ensemble, bundle_run

    if len(args.sources) == 1:
        given = {"command": args.train_command, "keras_backend": args.keras_backend, "hardware": args.hardware}
        card = bundle_run(args.sources[0], args.out, args.data, {k: v for k, v in given.items() if v})
    else:
        missing = [s for s in args.sources if not Path(s).is_dir() and not (Path(s).is_file()
                                                                         and Path(s).suffix == ".keras")]
        if missing:
            raise UsageError(f"an ensemble is built from run folders and .keras files; not either: "
                             f"{', '.join(missing)}")
        card = bundle_ensemble(args.sources, args.out, args.data,
                               command=args.train_command or "python -m fer_core " + " ".join(sys.argv[1:]))
    by_tta = card["publictest_accuracy_by_tta"]
    print(f"wrote {args.out} and its card: PublicTest accuracy {by_tta['none']:.4f} "
          f"(flip TTA {by_tta['flip']:.4f}, multicrop TTA {by_tta['multicrop']:.4f}), "
          f"macro-F1 {card['publictest_metrics']['macro_f1']:.4f}")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from fer_core.data.loaders import load_dataset
    from fer_core.data.pack import pack_dataset
    from fer_core.data.packfile import PACK_SUFFIX

    if not args.out.endswith(PACK_SUFFIX):
        raise UsageError(f"--out must end in {PACK_SUFFIX}")
    summary = pack_dataset(args.data, args.out, splits=args.splits)
    print(f"wrote {args.out}: {summary['images']} images, {summary['file_bytes'] / 1e6:.1f} MB "
          f"({summary['sharing_header']} share one {summary['shared_header_bytes']}-byte JPEG header)")
    for name, split in load_dataset(args.out, use_cache=False).splits.items():
        print(f"  {name}: {len(split)} images  {split.class_counts()}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    path = existing_model_path(args.model)
    index = int(args.target) if args.target.isdigit() and not Path(args.target).exists() else None
    if index is not None and not args.data:
        raise UsageError("an index needs --data (the dataset it points into)")
    if index is not None:
        existing_dataset_path(args.data)
    elif not Path(args.target).exists():
        raise UsageError(f"{args.target}: no such photo (or give an index with --data)")
    import numpy as np
    from PIL import Image

    from fer_core.data.images import read_image_file
    from fer_core.data.loaders import LoadOptions, load_dataset
    from fer_core.fileio import write_json_atomic
    from fer_core.inference.evaluation import predict_probabilities
    from fer_core.inference.explain import gradcam, overlay
    from fer_core.inference.faces import analyze_photos
    from fer_core.inference.loading import load_model
    from fer_core.labels import CLASSES

    model = load_model(path)
    if index is not None:
        split = load_dataset(args.data, LoadOptions()).split(args.split)
        if not 0 <= index < len(split):
            raise UsageError(f"index {index} is outside {args.split} (0-{len(split) - 1})")
        faces, about = split.images[index:index + 1], [{"index": index, "file": split.files[index],
                                                         "true": CLASSES[split.labels[index]]}]
    else:
        whole = args.detector == "none"
        (result,) = analyze_photos(model, [(args.target, read_image_file(args.target))],
                                   detector="mtcnn" if whole else args.detector, whole_image=whole)
        if result.error:
            raise UsageError(f"{args.target}: {result.error}")
        if not result.faces:
            raise UsageError(f"no face found in {args.target} (try --detector none)")
        faces = np.stack([f.crop for f in result.faces])
        about = [{"face": k, "box": None if f.box is None else f.box.__dict__} for k, f in enumerate(result.faces, 1)]
    probabilities = predict_probabilities(model, faces)
    maps, classes = gradcam(model, faces, probabilities.argmax(axis=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, (face, heat, cls, row, info) in enumerate(zip(faces, maps, classes, probabilities, about), 1):
        Image.fromarray(overlay(face, heat)).save(out / f"face_{k}.png")
        entries.append({**info, "explained": CLASSES[cls], "map": f"face_{k}.png",
                        "probabilities": {c: round(float(p), 4) for c, p in zip(CLASSES, row)}})
        print(f"face {k}: {CLASSES[cls]} ({row[cls]:.0%}); map in {out / f'face_{k}.png'}")
    write_json_atomic(out / "explain.json", {"model": str(path), "method": "HiResCAM on the class logit",
                                             "faces": entries})
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    existing_dataset_path(args.data)
    path = existing_model_path(args.model)
    from fer_core.data.loaders import LoadOptions, load_dataset
    from fer_core.fileio import write_json_atomic
    from fer_core.inference.analysis import cached_probabilities, cross_fitted_calibration
    from fer_core.inference.cards import read_model_card

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict))
    labels = dataset.split(args.split).labels
    report = cross_fitted_calibration(labels, cached_probabilities(path, args.data, dataset, args.split))
    card = read_model_card(path) or {"name": path.stem}
    card["temperature"] = report["temperature"]
    card["calibration"] = {**report, "split": args.split, "data": str(args.data),
                           "how": f"python -m fer_core calibrate {args.model} --data {args.data} --split {args.split}"}
    write_json_atomic(path.with_suffix(".json"), card)
    before, after = report["before"], report["after_cross_fitted"]
    print(f"temperature {report['temperature']:.3f}: ECE {before['ece']:.4f} -> {after['ece']:.4f}, NLL "
          f"{before['nll']:.4f} -> {after['nll']:.4f}, Brier {before['brier']:.4f} -> {after['brier']:.4f} "
          f"(after: fitted on one half of {args.split}, measured on the other); wrote {path.with_suffix('.json')}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from fer_core.data.loaders import LoadOptions, load_dataset

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict, detect_faces=args.detect_faces))
    for name, split in dataset.splits.items():
        print(f"{name}: {len(split)} images  {split.class_counts()}")
    print(dataset.report.summary())
    if args.duplicates:
        from fer_core.data.stats import find_duplicates

        report = find_duplicates(dataset)
        conflicting = sum(1 for g in report.groups if g.conflicting_labels)
        print(f"duplicates: {len(report.groups)} groups of identical images, {conflicting} with conflicting labels")
        for row in report.summary_table().itertuples():
            print(f"  {row.where}: {row.images}")
        for pair, count in report.leaks.items():
            print(f"  LEAK: {count} {pair.split('/')[1]} images have an exact copy in {pair.split('/')[0]}")
    return 0


class UsageError(Exception):
    pass


COMMANDS = {"train": cmd_train, "tune": cmd_tune, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "runs": cmd_runs, "bundle": cmd_bundle, "data": cmd_data, "worker": cmd_worker,
            "ensemble": cmd_ensemble, "pack": cmd_pack, "tune-worker": cmd_tune_worker, "calibrate": cmd_calibrate,
            "explain": cmd_explain}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        return COMMANDS[args.command](args)
    except (UsageError, DataError, FileNotFoundError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
