"""Commands about one model's answers: evaluate (metrics on a split), explain (heat maps) and
calibrate (a temperature in its card). Each is a thin layer over fer_core.evaluation and fer_core.answering."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_core.data.loaders import existing_dataset_path
from fer_core.errors import ConfigError
from fer_core.runtime.loading import existing_model_path
from fer_core.settings import Settings


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    if args.detector is not None:
        return _evaluate_photos(args, settings)
    if args.photo_labels or args.also_detectors:
        raise ConfigError("--photo-labels and --also-detectors go with --detector (the data are whole photos)")
    existing_dataset_path(args.data)
    path = existing_model_path(args.model, settings)  # refused before TensorFlow loads
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset
    from fer_core.data.stats import held_out_copies
    from fer_core.evaluation.metrics import write_report
    from fer_core.runtime.model import predict_probabilities
    from fer_core.runtime.loading import load_model

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict))
    split = dataset.split(args.split)
    model = load_model(path, tta=args.tta)  # None: no TTA for a .keras model, the built-in one for an export
    probabilities = predict_probabilities(model, split.images)
    metrics = write_report(args.out, args.split, split, probabilities, has_copy=held_out_copies(dataset, args.split))
    if args.ferplus:
        from fer_core.data.ferplus import read_ferplus
        from fer_core.evaluation.metrics import ferplus_agreement
        from fer_core.evaluation.statistics import with_interval

        ferplus = ferplus_agreement(read_ferplus(args.ferplus), split.files, probabilities)
        print(f"agreement with FER+ majority labels: {with_interval(ferplus['agreement'], ferplus['agreement_95'])} "
              f"of {ferplus['faces']} {args.split} faces with one; by FER+ class: "
              + ", ".join(f"{c} {v:.3f}" for c, v in ferplus["recall_by_ferplus_class"].items() if v is not None))
    if dataset.report.skipped:
        print(f"note: {dataset.report.summary()}", file=sys.stderr)
    print_metrics(metrics)
    if "without_copies" in metrics:
        clean = metrics["without_copies"]
        print(f"without the {clean['left_out']} {args.split} faces that have an exact or near copy in Training:")
        print_metrics(clean)
    print(f"({metrics['intervals']['method']})")
    print(f"wrote {Path(args.out) / 'metrics.json'}, misclassified.csv, samples.png")
    return 0


def _evaluate_photos(args: argparse.Namespace, settings: Settings) -> int:
    """``evaluate --detector``: a model on labelled whole photos, as ``predict`` answers them."""
    from fer_core.answering.spec import AnswerSpec

    spec = AnswerSpec.resolve(args.model, tta=args.tta or "auto", detector=args.detector, margin=args.margin,
                              shift_y=args.shift_y, settings=settings)
    if not Path(args.data).exists():
        raise ConfigError(f"{args.data}: no such folder or zip of photos")
    from fer_core.evaluation.photo_evaluation import evaluate_photos, write_photo_report
    from fer_core.evaluation.statistics import with_interval

    def progress(done: int, total: int) -> None:
        print(f"{Path(args.data).name}: {done}/{total} photos", file=sys.stderr)

    evaluation = evaluate_photos(spec.load(), args.data, labels_file=args.photo_labels, progress=progress,
                                 max_photos=settings.max_collection_photos,
                                 also_detectors=tuple(args.also_detectors))
    summary = write_photo_report(evaluation, args.out)
    for name, why in evaluation.skipped:
        print(f"note: skipped {name}: {why}", file=sys.stderr)
    print(f"faces found in {summary['faces_found']} of {summary['labelled_photos']} labelled photos "
          f"({with_interval(summary['found_share'], summary['found_share_95'])}) with {spec.detector_words}, "
          f"TTA {spec.tta}, margin {spec.margin:g}, shift {spec.shift_y:+g}" + (f"; missed: {', '.join(summary['missed'][:10])}"
                                                       if summary["missed"] else ""))
    for detector, found in list(summary["found_by_detector"].items())[1:]:
        print(f"  {detector} finds a face in {found['found']} of {summary['labelled_photos']} "
              f"({with_interval(found['share'], found['share_95'])})")
    print_metrics(summary)
    print(f"macro_f1 over the {len(summary['classes_present'])} classes present "
          f"({', '.join(summary['classes_present'])}): {summary['macro_f1_present']:.3f}")
    if "clear_only" in summary:
        clear = summary["clear_only"]
        print(f"without the photos labelled ambiguous: n={clear['n']} accuracy="
              f"{with_interval(clear['accuracy'], clear['intervals']['accuracy'])}")
    print(f"({summary['intervals']['method']})")
    print(f"wrote {Path(args.out) / 'metrics.json'}, predictions.csv, misclassified.png")
    return 0


def print_metrics(metrics: dict) -> None:
    from fer_core.evaluation.statistics import with_interval

    intervals = metrics["intervals"]
    print(f"{metrics['split']}: n={metrics['n']} accuracy={with_interval(metrics['accuracy'], intervals['accuracy'])} "
          f"macro_f1={with_interval(metrics['macro_f1'], intervals['macro_f1'], percent=False)}")
    for name, scores in metrics["per_class"].items():
        ci = intervals["per_class"][name]
        print(f"  {name:9s} precision={with_interval(scores['precision'], ci['precision'], percent=False)} "
              f"recall={with_interval(scores['recall'], ci['recall'], percent=False)} "
              f"f1={with_interval(scores['f1'], ci['f1'], percent=False)} support={scores['support']}")


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    """Two models on the same faces: each one's figures, and B - A with McNemar's exact test."""
    existing_dataset_path(args.data)
    paths = [existing_model_path(m, settings) for m in (args.model_a, args.model_b)]
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset
    from fer_core.fileio import write_json_atomic
    from fer_core.evaluation.metrics import compute_metrics
    from fer_core.runtime.loading import load_model
    from fer_core.runtime.model import predict_probabilities
    from fer_core.evaluation.statistics import comparison_table, paired_comparison, verdict

    split = load_dataset(args.data, LoadOptions(strict=args.strict)).split(args.split)
    answers = []
    for name, path in zip("AB", paths):
        probabilities = predict_probabilities(load_model(path, tta=args.tta), split.images)
        answers.append(probabilities.argmax(axis=1))
        print(f"{name}: {path}")
        print_metrics(compute_metrics(split.labels, probabilities, args.split))
    comparison = paired_comparison(split.labels, answers[0], answers[1])
    print(f"\nB - A on the same {len(split)} faces: {verdict(comparison['overall'])}")
    for row in comparison_table(comparison)[1:]:
        print(f"  {row['faces']:18s} {row['difference (points)']:+7.2f} points ({row['95% interval']}), "
              f"McNemar p={row['McNemar p']:.4f}{'  real' if row['real at 5%'] == 'yes' else ''}")
    print(f"({comparison['method']})")
    if args.out:
        write_json_atomic(args.out, {"a": str(paths[0]), "b": str(paths[1]), "split": args.split, **comparison})
        print(f"wrote {args.out}")
    return 0


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    path = existing_model_path(args.model, settings, keras_only=True)  # heat maps need its gradients
    index = int(args.target) if args.target.isdigit() and not Path(args.target).exists() else None
    if index is not None and not args.data:
        raise ConfigError("an index needs --data (the dataset it points into)")
    if index is not None:
        existing_dataset_path(args.data)
    elif not Path(args.target).exists():
        raise ConfigError(f"{args.target}: no such photo (or give an index with --data)")
    from fer_core.evaluation.explain import explain_dataset_face, write_explanations
    from fer_core.runtime.loading import load_model

    if index is not None:
        entries = explain_dataset_face(load_model(path), args.data, args.split, index, cache_dir=settings.cache_dir)
    else:
        from fer_core.answering.spec import AnswerSpec

        answerer = AnswerSpec.resolve(path, tta="none", calibrated=False, detector=args.detector,
                                      settings=settings).load()
        entries = answerer.explain(args.target)
    for k, entry in enumerate(write_explanations(entries, Path(args.out), path), 1):
        print(f"face {k}: {entry['explained']} ({entry['probabilities'][entry['explained']]:.0%}); map in "
              f"{Path(args.out) / entry['map']}")
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.evaluation.analysis import calibrate_model

    existing_model_path(args.model, settings, keras_only=True)  # refused before TensorFlow loads
    report, card = calibrate_model(args.model, args.data, args.split, args.strict, cache_dir=settings.cache_dir)
    before, after = report["before"], report["after_cross_fitted"]
    print(f"temperature {report['temperature']:.3f}: ECE {before['ece']:.4f} -> {after['ece']:.4f}, NLL "
          f"{before['nll']:.4f} -> {after['nll']:.4f}, Brier {before['brier']:.4f} -> {after['brier']:.4f} "
          f"(after: fitted on one half of {args.split}, measured on the other); wrote {card}")
    return 0


def cmd_operating_point(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.evaluation.analysis import store_operating_point
    from fer_core.evaluation.operating_points import OperatingTarget

    target = OperatingTarget("balanced") if args.balanced else OperatingTarget("recall", args.class_name, args.recall)
    target.check()
    existing_model_path(args.model, settings, keras_only=True)  # refused before TensorFlow loads
    point, card = store_operating_point(args.model, args.data, target, args.split, args.strict,
                                        cache_dir=settings.cache_dir)
    before, after = point.before, point.after
    watched = args.class_name if not args.balanced else None
    print(f"operating point {target.describe()}: offsets "
          + ", ".join(f"{c} {b:+.2f}" for c, b in point.offsets.items() if abs(b) > 1e-9))
    print(f"cross-fitted on {args.split} (fitted on one half, measured on the other): accuracy {before.accuracy:.2%} "
          f"-> {after.accuracy:.2%}, macro-F1 {before.macro_f1:.3f} -> {after.macro_f1:.3f}, balanced "
          f"recall {before.balanced_recall:.3f} -> {after.balanced_recall:.3f}"
          + (f", {watched} recall {before.recall[watched]:.3f} -> {after.recall[watched]:.3f}" if watched else ""))
    print(f"wrote {card}; predict --operating-point and the Predict page's switch apply it")
    return 0
