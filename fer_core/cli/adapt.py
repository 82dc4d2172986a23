"""``adapt``: a model fine-tuned on the user's own labelled photos (``fer_core.training.adapt``).

    python -m fer_core adapt --model default --data PHOTOS --out adapted.keras --detector blazeface

PHOTOS is read as ``evaluate --data PHOTOS --detector`` reads it: class folders, a ``labels.csv``
at its top (the Predict page's corrections folder is one), or any folder or zip with ``--labels``
naming a labels file (a collection's ``predictions.csv`` with its ``label`` column filled in).
With ``--zero-label`` PHOTOS is any collection, unlabelled: only the batch-norm statistics are
re-estimated on its faces (AdaBN).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fer_core.errors import ConfigError
from fer_core.settings import Settings


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from fer_core.answering.spec import AnswerSpec

    out = Path(args.out)
    if out.suffix != ".keras":
        raise ConfigError(f"--out {out}: the adapted model is a .keras file")
    if not Path(args.data).exists():
        raise ConfigError(f"{args.data}: no such folder or zip of photos")
    from fer_core.runtime.loading import existing_model_path

    existing_model_path(args.model, settings, keras_only=True)  # an export cannot be fine-tuned: said first
    spec = AnswerSpec.resolve(args.model, tta=None, detector=args.detector, margin=args.margin,
                              shift_y=args.shift_y, calibrated=False, settings=settings)
    if args.zero_label and (args.labels or args.renormalize):
        raise ConfigError("--zero-label uses no labels (--labels) and only re-estimates the statistics "
                          "(--renormalize is what it does): give it alone")
    from fer_core.data.archives import ArchiveLimits
    from fer_core.training.adapt import AdaptOptions, adapt, labelled_faces, replay_splits

    def photos_done(done: int, total: int) -> None:
        print(f"{Path(args.data).name}: {done}/{total} photos", file=sys.stderr)

    replay = None if args.replay_data == "none" else Path(args.replay_data) if args.replay_data \
        else settings.replay_dataset()
    command = shlex.join(["python", "-m", "fer_core", "adapt", "--model", str(args.model), "--data", str(args.data),
                          *(["--labels", args.labels] if args.labels else []), "--out", str(out),
                          "--detector", args.detector, "--margin", f"{args.margin:g}", "--shift-y",
                          f"{args.shift_y:g}", "--time-budget", f"{args.time_budget:g}", "--folds", str(args.folds),
                          *(["--replay-data", str(args.replay_data)] if args.replay_data else []),
                          *(["--renormalize"] if args.renormalize else []),
                          *(["--zero-label"] if args.zero_label else [])])
    if args.zero_label:
        return _zero_label(args, spec, settings, replay, out, command, photos_done)
    faces = labelled_faces(spec.load(), args.data, args.labels, progress=photos_done)
    train, val = replay_splits(replay, settings.cache_dir, ArchiveLimits.from_settings(settings)) \
        if replay is not None else (None, None)
    report = adapt(spec.model, faces, out, train=train, val=val, replay_data=str(replay) if replay else None,
                   options=AdaptOptions(folds=args.folds, time_budget_minutes=args.time_budget,
                                        renormalize=args.renormalize), command=command,
                   progress=lambda text: print(text, file=sys.stderr))
    for line in report.lines():
        print(line)
    return 0


def _zero_label(args, spec, settings: Settings, replay, out: Path, command: str, photos_done) -> int:
    """``adapt --zero-label``: AdaBN on every face the collection holds (no labels)."""
    from fer_core.data.archives import ArchiveLimits
    from fer_core.media.collections import analyze_collection
    from fer_core.training.adapt import adapt_without_labels, replay_splits, unlabelled_faces

    analysis = analyze_collection(spec.load(), args.data, progress=photos_done)
    crops, digest = unlabelled_faces(analysis.faces)
    _, val = replay_splits(replay, settings.cache_dir, ArchiveLimits.from_settings(settings)) \
        if replay is not None else (None, None)
    report = adapt_without_labels(spec.model, crops, out, photos=len(analysis.results), content_sha256=digest,
                                  val=val, replay_data=str(replay) if replay else None, command=command,
                                  progress=lambda text: print(text, file=sys.stderr))
    for line in report.lines():
        print(line)
    return 0
