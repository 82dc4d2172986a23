"""Commands about one model's answers: evaluate (metrics on a split), explain (heat maps) and
calibrate (a temperature in its card). Each is a thin layer over fer_core.inference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_core.data.loaders import existing_dataset_path
from fer_core.errors import ConfigError
from fer_core.inference.loading import existing_model_path
from fer_core.settings import Settings


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    existing_dataset_path(args.data)
    path = existing_model_path(args.model, settings)  # refused before TensorFlow loads
    from fer_core.data.dataset import LoadOptions
    from fer_core.data.loaders import load_dataset
    from fer_core.inference.evaluation import write_report
    from fer_core.inference.runtime import predict_probabilities
    from fer_core.inference.loading import load_model

    dataset = load_dataset(args.data, LoadOptions(strict=args.strict))
    split = dataset.split(args.split)
    model = load_model(path, tta=args.tta)  # None: no TTA for a .keras model, the built-in one for an export
    metrics = write_report(args.out, args.split, split, predict_probabilities(model, split.images))
    if dataset.report.skipped:
        print(f"note: {dataset.report.summary()}", file=sys.stderr)
    print(f"{args.split}: n={metrics['n']} accuracy={metrics['accuracy']:.4f} macro_f1={metrics['macro_f1']:.4f}")
    for name, scores in metrics["per_class"].items():
        print(f"  {name:9s} precision={scores['precision']:.3f} recall={scores['recall']:.3f} "
              f"f1={scores['f1']:.3f} support={scores['support']}")
    print(f"wrote {Path(args.out) / 'metrics.json'}, misclassified.csv, samples.png")
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
    from fer_core.inference.explain import explain_dataset_face, explain_photo, write_explanations
    from fer_core.inference.loading import load_model

    model = load_model(path)
    if index is not None:
        entries = explain_dataset_face(model, args.data, args.split, index)
    else:
        entries = explain_photo(model, args.target, args.detector)
    for k, entry in enumerate(write_explanations(entries, Path(args.out), path), 1):
        print(f"face {k}: {entry['explained']} ({entry['probabilities'][entry['explained']]:.0%}); map in "
              f"{Path(args.out) / entry['map']}")
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.inference.analysis import calibrate_model

    existing_model_path(args.model, settings, keras_only=True)  # refused before TensorFlow loads
    report, card = calibrate_model(args.model, args.data, args.split, args.strict)
    before, after = report["before"], report["after_cross_fitted"]
    print(f"temperature {report['temperature']:.3f}: ECE {before['ece']:.4f} -> {after['ece']:.4f}, NLL "
          f"{before['nll']:.4f} -> {after['nll']:.4f}, Brier {before['brier']:.4f} -> {after['brier']:.4f} "
          f"(after: fitted on one half of {args.split}, measured on the other); wrote {card}")
    return 0
