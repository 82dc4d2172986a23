"""Command line: ``python -m fer_core COMMAND``; ``python -m fer_core --help`` lists the commands.

Each command is a thin layer over the library functions the dashboard also calls, one module per
family: ``training`` (train, tune, tune-worker, run-job, runs, bundle, ensemble), ``evaluation``
(evaluate, compare, explain, calibrate, operating-point), ``predict``, ``adapt``, ``export`` (export, serve),
``data`` (data, pack), ``dashboard``;
``parser`` holds the flags.

The error boundary is here and only here: a ``FerError`` (a problem the user can fix: a missing
file, a bad dataset, an out-of-range option) or an ``OSError`` from the file system prints one
line, ``error: ...``, and exits with status 2. Anything else is a bug in FER Studio and keeps its
traceback, except a ``ModuleNotFoundError`` of a package an extra brings (a base install's
``train``): that is one line too, naming the extra. Settings (``fer_core.settings``) are read once
here and passed to the command.

May import anything in fer_core; nothing in fer_core imports it.
"""

from __future__ import annotations

import os
import sys

from fer_core.cli.adapt import cmd_adapt
from fer_core.cli.dashboard import cmd_dashboard
from fer_core.cli.data import cmd_data, cmd_pack
from fer_core.cli.evaluation import cmd_calibrate, cmd_compare, cmd_evaluate, cmd_explain, cmd_operating_point
from fer_core.cli.export import cmd_export, cmd_serve
from fer_core.cli.parser import build_parser
from fer_core.cli.predict import cmd_predict
from fer_core.cli.training import (cmd_bundle, cmd_ensemble, cmd_run_job, cmd_runs, cmd_train, cmd_tune,
                                   cmd_tune_worker)
from fer_core.errors import FerError
from fer_core.settings import Settings, use_onednn

COMMANDS = {"train": cmd_train, "tune": cmd_tune, "tune-worker": cmd_tune_worker, "run-job": cmd_run_job,
            "runs": cmd_runs, "bundle": cmd_bundle, "ensemble": cmd_ensemble, "evaluate": cmd_evaluate,
            "explain": cmd_explain, "calibrate": cmd_calibrate, "predict": cmd_predict, "data": cmd_data,
            "pack": cmd_pack, "export": cmd_export, "serve": cmd_serve,
            "compare": cmd_compare, "operating-point": cmd_operating_point, "adapt": cmd_adapt,
            "dashboard": cmd_dashboard}

# What a package missing from this install is part of: the extra that brings it (pyproject.toml).
EXTRA_OF_MODULE = {**dict.fromkeys(("keras", "tensorflow", "keras_tuner", "tensorboard", "sklearn", "scipy", "pandas",
                                    "plotly", "tf2onnx", "onnx", "mtcnn", "lz4"), "train"),
                   **dict.fromkeys(("streamlit", "streamlit_webrtc", "aiortc", "av"), "dashboard"),
                   **dict.fromkeys(("fastapi", "uvicorn", "multipart", "python_multipart", "prometheus_client"),
                                   "serve"),
                   **dict.fromkeys(("dask", "distributed"), "cluster")}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one line for a command that needs a package this install lacks (None: not one of ours)."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return (f"this command needs {top}, which this install lacks: pip install 'fer-studio[{extra}]' "
            f"(or the checkout's requirements.txt)")


def cmd_settings(settings: Settings) -> int:
    width = max(len(name) for name, *_ in settings.describe())
    for name, env, value, source in settings.describe():
        print(f"{name:{width}s}  {value!s:40s}  from {source} (set with {env} or {name} in secrets.toml)")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the way
    use_onednn()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load(runs_dir=getattr(args, "runs_dir", None))
        if args.command == "settings":
            return cmd_settings(settings)
        return COMMANDS[args.command](args, settings)
    except (FerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a base install (no extras) asked for more than it has
        line = missing_extra(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2
