"""The command line's parser: each command's flags. The training and tuning flags are made from
the fields of ``TrainConfig`` and ``TuneConfig`` (``fer_core.options``): their help, choices and
defaults are the configs' own, so an option added there is a flag here with no edit."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fer_core.data.dataset import SPLITS
from fer_core.labels import CLASSES
from fer_core.faces.detectors import DEFAULT_DETECTOR, DETECTORS, WHOLE_IMAGE
from fer_core.faces.cropping import DEFAULT_MARGIN, DEFAULT_SHIFT_Y
from fer_core.runtime.cards import TTA_MODES
from fer_core.runtime.devices import DEVICE_CHOICES
from fer_core.cluster.options import CHUNK_TIMEOUT_S, PHOTOS_PER_TASK, RETRIES, SEGMENT_SECONDS
from fer_core.export.exporting import EXPORT_FORMATS
from fer_core.options import add_option_arguments
from fer_core.training.config import AdaptOptions, TrainConfig, TuneConfig
from fer_core.training.presets import PRESETS

SPLIT_CHOICES = list(SPLITS)
DETECTOR_CHOICES = [*DETECTORS, WHOLE_IMAGE]  # none: each whole file is one face
TTA_CHOICES = list(TTA_MODES)


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="fer2013.csv, a Kaggle-layout folder or .zip, or class folders")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad item instead of skipping it")


def _add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=None, help="run folders and the registry (default: the runs_dir "
                                                         "setting, FER_RUNS_DIR, else ./runs)")


def build_parser() -> argparse.ArgumentParser:
    prog = "fer-studio" if Path(sys.argv[0]).name == "fer-studio" else "python -m fer_core"
    parser = argparse.ArgumentParser(prog=prog, description="FER Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)

    dashboard = sub.add_parser("dashboard", help="start the Streamlit dashboard (needs the [dashboard] extra)")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--address", default="127.0.0.1", help="0.0.0.0 to serve other machines")

    train = sub.add_parser("train", help="train a model; writes a run directory")
    train.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="a measured recipe (docs/results.md); other options override its values")
    train.add_argument("--data", default=None, help="dataset path (required unless --resume)")
    add_option_arguments(train, TrainConfig)
    _add_runs_dir(train)
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a killed training run")

    tune = sub.add_parser("tune", help="Keras-Tuner search; writes a run directory")
    tune.add_argument("--data", default=None, help="dataset path (required unless --resume)")
    add_option_arguments(tune, TuneConfig)
    _add_runs_dir(tune)
    tune.add_argument("--resume", metavar="RUN_DIR", help="continue a killed tuning run")

    tune_worker = sub.add_parser("tune-worker", help="join a distributed search as a worker (see tune --workers)")
    tune_worker.add_argument("run_dir", help="the search's run folder, shared with the chief")
    tune_worker.add_argument("--oracle", required=True, metavar="HOST:PORT", help="the chief's oracle")
    tune_worker.add_argument("--worker-id", default=f"worker-{os.uname().nodename}-{os.getpid()}",
                             help="a name for this worker, unique in the search")

    evaluate = sub.add_parser("evaluate", help="metrics, mistakes and sample predictions on a split")
    _add_data_args(evaluate)
    evaluate.add_argument("--model", default="default", help="a .keras file, a run directory, 'default', or an "
                                                              "exported .onnx or .tflite file")
    evaluate.add_argument("--split", default="val", choices=SPLIT_CHOICES)
    evaluate.add_argument("--out", required=True, help="folder for metrics.json, misclassified.csv, samples.png")
    evaluate.add_argument("--tta", choices=TTA_CHOICES, default=None,
                          help="test-time augmentation: average over mirrored (and shifted) views (default: none "
                               "for a .keras model; an exported model's own, built in)")
    evaluate.add_argument("--ferplus", metavar="CSV",
                          help="also the agreement with FER+'s majority labels (the FER+ votes file), overall and "
                               "per FER+ class")
    add_answer_flags(evaluate, photos_of_a_dataset=True)
    evaluate.add_argument("--photo-labels", metavar="CSV",
                          help="with --detector: a labels file (columns file,label; optional ambiguous yes/no) "
                               "for photos that are not in class folders")
    evaluate.add_argument("--also-detectors", nargs="+", choices=DETECTORS, default=[], metavar="DETECTOR",
                          help="with --detector: also count the photos each of these detectors finds a face in "
                               f"(detection only; choices: {', '.join(DETECTORS)})")

    compare = sub.add_parser("compare", help="two models on the same faces: each one's figures with intervals, "
                                             "and whether their difference is real (McNemar's exact test)")
    compare.add_argument("model_a", metavar="MODEL_A", help="a .keras file, run folder, 'default', bundled name or export")
    compare.add_argument("model_b", metavar="MODEL_B")
    _add_data_args(compare)
    compare.add_argument("--split", default="val", choices=SPLIT_CHOICES)
    compare.add_argument("--tta", choices=TTA_CHOICES, default=None, help="for both (default: none; an export's own)")
    compare.add_argument("--out", help="also write the comparison as JSON to this file")

    predict = sub.add_parser("predict", help="find and classify the faces in photos, videos and photo collections; "
                                            "prints JSON")
    predict.add_argument("images", nargs="+", metavar="INPUT",
                         help="photos (jpg, png, webp, ...; any size, colour or grey), videos (mp4, webm, mov, avi: "
                              "a timeline per person) or photo collections (a folder or a .zip of photos)")
    predict.add_argument("--out", help="folder for each video's frames.csv, video.json and annotated.mp4 and each "
                                       "collection's predictions.csv and predictions.json (needed for those)")
    predict.add_argument("--fps", type=float, default=5.0, help="video frames sampled per second of video")
    predict.add_argument("--model", default="default", help="a .keras file, a run directory, 'default', or an "
                                                             "exported .onnx or .tflite file (runs without TensorFlow)")
    predict.add_argument("--whole-image-if-no-face", action="store_true",
                         help="classify a photo with no face found as one face")
    predict.add_argument("--cluster", default=None, metavar="ADDRESS",
                         help="run videos and collections on a Dask cluster, in chunks: local (a worker a core), "
                              "local:N or tcp://HOST:PORT (default: the cluster setting, FER_CLUSTER; empty: one "
                              "process). Same files, no annotated.mp4")
    predict.add_argument("--resume", action="store_true",
                         help="with --cluster: go on with the newest run of the same input and settings under "
                              "--out, answering only the chunks it had not finished")
    predict.add_argument("--chunk-timeout", type=float, default=CHUNK_TIMEOUT_S, metavar="SECONDS",
                         help="with --cluster: a chunk not answered in this time is submitted again")
    predict.add_argument("--retries", type=int, default=RETRIES,
                         help="with --cluster: extra tries of a chunk whose worker died or that timed out")
    predict.add_argument("--photos-per-task", type=int, default=PHOTOS_PER_TASK,
                         help="with --cluster: photos in one chunk (a multiple of 8)")
    predict.add_argument("--segment-seconds", type=float, default=SEGMENT_SECONDS,
                         help="with --cluster: seconds of video in one chunk")

    export = sub.add_parser("export", help="write a model for use without FER Studio (ONNX, LiteRT, SavedModel), "
                                           "with its TTA and temperature inside and its card beside it")
    export.add_argument("model", help="a .keras file, a run folder, 'default' or a bundled name")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="onnx",
                        help="onnx (onnxruntime: no TensorFlow needed), litert (.tflite) or savedmodel (a folder)")
    export.add_argument("--out", required=True, help="the file to write (.onnx, .tflite) or, for savedmodel, a folder")
    export.add_argument("--int8", action="store_true",
                        help="onnx only: 8-bit weights and activations (about 3x faster on CPU, a quarter the size)")
    export.add_argument("--calibration-data", metavar="PATH",
                        help="a dataset: 512 of its Training faces set the int8 ranges, and its first 512 "
                             "PublicTest faces check the export against the Keras model (else random faces)")
    export.add_argument("--tta", choices=["auto", *TTA_CHOICES], default="auto",
                        help="test-time augmentation built into the graph; auto: the best on PublicTest by the "
                             "model's card")

    serve = sub.add_parser("serve", help="an HTTP API for a model (FastAPI on uvicorn): POST /v1/predict, "
                                         "GET /health, GET /v1/model, docs at /docs")
    serve.add_argument("--model", default="default", help="a .keras file, a run folder, 'default', a bundled name "
                                                          "or an exported .onnx/.tflite file (no TensorFlow)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; any other than loopback needs FER_API_KEY set")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes, each with its own model")
    serve.add_argument("--queue", type=int, default=16,
                       help="requests one process holds at once (answering or waiting); more get 503 with Retry-After")
    for command in (predict, serve):
        add_answer_flags(command)

    ensemble = sub.add_parser("ensemble", help="combine models into one .keras file that averages them")
    ensemble.add_argument("models", nargs="+", help=".keras files or run directories (two or more)")
    ensemble.add_argument("--out", required=True, help="the ensemble .keras file to write")

    run_job = sub.add_parser("run-job", help="(used by the dashboard) wait for a queue slot, then run a queued job")
    run_job.add_argument("run_dir")
    run_job.add_argument("--max-running", type=int, default=1)

    runs = sub.add_parser("runs", help="list the runs in the registry")
    _add_runs_dir(runs)

    sub.add_parser("settings", help="print every setting, its value and where it came from (fer_core.settings)")

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
    explain.add_argument("--split", default="val", choices=SPLIT_CHOICES)
    explain.add_argument("--detector", choices=DETECTOR_CHOICES, default=DEFAULT_DETECTOR,
                         help="for a photo: the face detector; none: the whole photo is one face")
    explain.add_argument("--out", required=True, help="folder for face_K.png (the map over the face) and explain.json")

    calibrate = sub.add_parser("calibrate", help="fit a temperature on a split (val) so the model's probabilities "
                                                 "are calibrated; stored in its card and applied by predict")
    calibrate.add_argument("model", help="a .keras file, a run folder, 'default' or a bundled name")
    _add_data_args(calibrate)
    calibrate.add_argument("--split", default="val", choices=SPLIT_CHOICES)

    point = sub.add_parser("operating-point", help="fit per-class offsets on val to reach a target (a recall for "
                                                   "one class, or balanced recall); stored in the card, applied by "
                                                   "predict/serve --operating-point and the Predict page's switch")
    point.add_argument("model", help="a .keras file, a run folder, 'default' or a bundled name")
    _add_data_args(point)
    point.add_argument("--split", default="val", choices=SPLIT_CHOICES)
    point.add_argument("--class", dest="class_name", choices=list(CLASSES), default="fear",
                       help="the class whose recall to raise (with --recall)")
    point.add_argument("--recall", type=float, default=0.6, help="the recall to reach for --class on the split")
    point.add_argument("--balanced", action="store_true", help="instead: maximise the mean recall of the 7 classes")

    _add_adapt_parser(sub)

    data = sub.add_parser("data", help="load a dataset (filling the cache) and print its splits")
    _add_data_args(data)
    data.add_argument("--detect-faces", action="store_true",
                      help="whole photos: crop each one's largest face as Predict does")
    data.add_argument("--duplicates", action="store_true", help="also count exact duplicates and cross-split leaks")
    return parser


def _add_adapt_parser(sub) -> None:
    defaults = AdaptOptions()
    adapt = sub.add_parser("adapt", help="fine-tune a model on your own labelled photos in about a minute, "
                                         "without forgetting FER2013; writes the model and its card")
    adapt.add_argument("--model", default="default", help="the .keras model to adapt: a file, a run folder, "
                                                          "'default' or a bundled name")
    adapt.add_argument("--data", required=True, help="labelled photos: class folders, a folder or zip with a "
                                                     "labels.csv (the corrections folder), or any with --labels")
    adapt.add_argument("--labels", default=None, metavar="CSV",
                       help="a labels file (file,label; optional x,y,width,height of the face), e.g. a "
                            "collection's predictions.csv with its label column filled in")
    adapt.add_argument("--out", required=True, help="the adapted model, a .keras file (its card beside it)")
    add_answer_flags(adapt)
    adapt.add_argument("--time-budget", type=float, default=defaults.time_budget_minutes, metavar="MIN",
                       help="minutes for the whole adaptation; the cross-validation's folds shrink to fit")
    adapt.add_argument("--renormalize", action="store_true",
                       help="first re-estimate the batch-norm statistics on your faces (AdaBN): on a shifted proxy "
                            "+4 to +5 points on your kind of photos, -4.4 on PublicTest (docs/results.md)")
    adapt.add_argument("--zero-label", action="store_true",
                       help="no labels: only re-estimate the batch-norm statistics on every face found in PHOTOS "
                            "(a collection of at least 50 faces; +5.3 points on a shifted proxy, PublicTest "
                            "unchanged from 1,000 faces: docs/results.md)")
    adapt.add_argument("--folds", type=int, default=defaults.folds, help="k of the k-fold cross-validation")
    adapt.add_argument("--replay-data", default=None, metavar="DATASET",
                       help="FER2013 (Training replayed, PublicTest measured); default: the replay_data "
                            "setting, else the first fer2013 dataset under the data folder; 'none': without")


def add_answer_flags(command: argparse.ArgumentParser, photos_of_a_dataset: bool = False) -> None:
    """The flags that say how faces are answered (one ``AnswerSpec``, fer_core.answering.spec):
    --detector, --margin, --shift-y and, for predict and serve, --tta and --operating-point. With
    ``photos_of_a_dataset`` (evaluate) they apply to data that are whole photos, and only when
    --detector is given (evaluate has its own --tta for face crops)."""
    when = "with --detector: " if photos_of_a_dataset else ""
    command.add_argument("--detector", choices=DETECTOR_CHOICES, default=None if photos_of_a_dataset else DEFAULT_DETECTOR,
                         help="the data are whole photos, labelled by class folder (or --photo-labels): each is "
                              "answered as predict answers it, with this detector, its largest face counted "
                              "(default: the data are face crops)" if photos_of_a_dataset else
                         "face detector (blazeface: fast, with landmarks for level crops and head pose); "
                         "'none' classifies each whole image as one face crop")
    command.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                         help=f"{when}crop margin around a face, share of its size")
    command.add_argument("--shift-y", type=float, default=DEFAULT_SHIFT_Y,
                         help=f"{when}move the crop down by this share of the face's size (up when negative)")
    if photos_of_a_dataset:
        return
    command.add_argument("--tta", choices=["auto", *TTA_CHOICES], default="auto",
                         help="test-time augmentation; auto (the default): whichever scored highest on "
                              "PublicTest for this model (its card); flip averages with the mirrored face")
    command.add_argument("--operating-point", action="store_true",
                         help="apply the per-class offsets in the model's card (python -m fer_core operating-point)")
    command.add_argument("--device", choices=DEVICE_CHOICES, default="cpu",
                         help="where the model answers: cpu (the default), gpu (an NVIDIA GPU: onnxruntime-gpu for "
                              ".onnx, the Keras backend's for .keras; an error without one), or auto (the GPU "
                              "where one answers, else the CPU, said in one line); on a cluster, on each worker")
