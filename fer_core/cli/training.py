"""Training commands: train, tune, tune-worker, run-job (the dashboard's queue), runs, bundle, ensemble.
Each is a thin layer over fer_core.training; checks that need no backend come first, so a wrong
path is refused at once rather than after TensorFlow loads."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fer_core.data.loaders import existing_dataset_path
from fer_core.errors import ConfigError
from fer_core.runtime.loading import existing_model_path
from fer_core.options import given_options
from fer_core.settings import Settings
from fer_core.training.config import TrainConfig, TuneConfig
from fer_core.training.presets import with_preset
from fer_core.run_files import CONFIG_FILE, METRICS_FILE


def _checked_data(args: argparse.Namespace) -> str:
    """``--data``, which a new run needs, checked to exist before a backend loads."""
    if not args.data:
        raise ConfigError(f"{args.command} needs --data (or --resume RUN_DIR)")
    existing_dataset_path(args.data)
    return args.data


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    if args.resume:
        from fer_core.training.train import resume

        _print_run_summary(resume(args.resume))
        return 0
    data = _checked_data(args)
    config = TrainConfig(**{**with_preset(args.preset, given_options(TrainConfig, args)), "data": data})
    if config.init_from:
        existing_model_path(config.init_from, settings, keras_only=True)
    from fer_core.training.train import train

    _print_run_summary(train(config, settings.runs_dir))
    return 0


def _print_run_summary(run_dir: str | os.PathLike) -> None:
    metrics = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    intervals = metrics.get("intervals") or {}
    print(json.dumps({"run_dir": str(run_dir), "split": metrics["split"], "accuracy": metrics["accuracy"],
                      "accuracy_95": intervals.get("accuracy"), "macro_f1": metrics["macro_f1"],
                      "macro_f1_95": intervals.get("macro_f1")}))


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    if args.resume:
        from fer_core.training.tune import resume_tuning

        _print_run_summary(resume_tuning(args.resume))
        return 0
    config = TuneConfig(**given_options(TuneConfig, args), data=_checked_data(args))
    from fer_core.training.tune import tune

    _print_run_summary(tune(config, settings.runs_dir))
    return 0


def cmd_tune_worker(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.training.distributed import parse_oracle

    parse_oracle(args.oracle)  # a malformed address is refused before TensorFlow loads
    if not (Path(args.run_dir) / CONFIG_FILE).exists():
        raise ConfigError(f"{args.run_dir}: not a run folder (no config.json); give the chief's run folder")
    from fer_core.training.tune import run_worker

    return run_worker(args.run_dir, args.oracle, args.worker_id)


def cmd_run_job(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.training.jobs import run_job

    return run_job(args.run_dir, args.max_running)


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.runs.registry import RunRegistry

    registry = RunRegistry(settings.runs_dir)
    registry.reconcile()
    records = registry.list()
    if not records:
        print(f"no runs in {settings.runs_dir}")
    for r in records:
        metrics = " ".join(f"{k}={v:.4f}" for k, v in r.metrics.items() if isinstance(v, float))
        print(f"{r.run_id}  {r.kind:5s}  {r.status:9s}  {metrics}")
    return 0


def cmd_bundle(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.runs.bundle import bundle_ensemble, bundle_run

    if len(args.sources) == 1:
        given = {"command": args.train_command, "keras_backend": args.keras_backend, "hardware": args.hardware}
        card = bundle_run(args.sources[0], args.out, args.data, {k: v for k, v in given.items() if v},
                          cache_dir=settings.cache_dir)
    else:
        missing = [s for s in args.sources if not Path(s).is_dir() and not (Path(s).is_file()
                                                                         and Path(s).suffix == ".keras")]
        if missing:
            raise ConfigError(f"an ensemble is built from run folders and .keras files; not either: "
                             f"{', '.join(missing)}")
        card = bundle_ensemble(args.sources, args.out, args.data,
                               command=args.train_command or "python -m fer_core " + " ".join(sys.argv[1:]),
                               cache_dir=settings.cache_dir)
    from fer_core.evaluation.statistics import with_interval

    by_tta, metrics = card.accuracy_by_tta, card.metrics
    clean = metrics.get("without_copies")
    print(f"wrote {args.out} and its card: PublicTest accuracy "
          f"{with_interval(metrics['accuracy'], metrics['intervals']['accuracy'])} "
          f"(flip TTA {by_tta['flip']:.4f}, multicrop TTA {by_tta['multicrop']:.4f}), macro-F1 "
          f"{with_interval(metrics['macro_f1'], metrics['intervals']['macro_f1'], percent=False)}"
          + (f"; without the {clean['left_out']} faces with a copy in Training "
             f"{with_interval(clean['accuracy'], clean['intervals']['accuracy'])}" if clean else ""))
    return 0


def cmd_ensemble(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.runtime.ensemble import save_ensemble

    out = save_ensemble(args.models, args.out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB), the mean of {len(args.models)} models")
    return 0
