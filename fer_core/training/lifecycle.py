"""A run's life around its body: logging to the run's log file, a SIGTERM turned into a recorded
cancel, the outcome in the registry and ``progress.json``, and the final report on val.

Nothing here outlives the run: the log handlers it adds and the SIGTERM handler it installs are
taken back when the run ends, however it ends, so a notebook or a test that trains twice in one
process sees no doubled log lines and keeps its own signal handling.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fer_core.evaluation.metrics import write_report
from fer_core.runtime.model import predict_probabilities
from fer_core.runtime.loading import load_model
from fer_core.training.inputs import PreparedData
from fer_core.runs.progress import ProgressFile
from fer_core.runs.registry import RunRegistry
from fer_core.run_files import MODEL_FILE

LOGGER_NAME = "fer_core"


@contextlib.contextmanager
def run_logging(run_dir: Path, log_name: str) -> Iterator[logging.FileHandler]:
    """Log ``fer_core`` at INFO to ``run_dir/log_name`` (and to stderr, unless a handler already
    writes there) for the ``with`` block; the logger's handlers and level are restored after it."""
    logger = logging.getLogger(LOGGER_NAME)
    level = logger.level
    logger.setLevel(logging.INFO)
    file_handler = logging.FileHandler(run_dir / log_name)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    added: list[logging.Handler] = [file_handler]
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in logger.handlers):
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(message)s"))
        added.append(stream)
    for handler in added:
        logger.addHandler(handler)
    try:
        yield file_handler
    finally:
        for handler in added:
            logger.removeHandler(handler)
        file_handler.close()
        logger.setLevel(level)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so a cancelled run is recorded as cancelled.

    A BaseException, like KeyboardInterrupt: broad ``except Exception`` blocks on the stack
    when the signal lands (logging's emit is one) must not swallow it and train on.
    """


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` in the main thread for the ``with`` block; the previous handler
    is put back after it. Elsewhere than the main thread (inside Streamlit) nothing changes: the
    dashboard runs jobs as subprocesses."""

    def handler(signum, frame):  # noqa: ARG001
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_managed(run_dir: Path, run_id: str, kind: str, registry: RunRegistry, progress: ProgressFile,
                body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``body()`` and record its outcome in the registry, progress.json and the log."""
    with run_logging(run_dir, f"{kind}.log") as log_file, sigterm_raises():
        log = logging.getLogger(LOGGER_NAME)
        registry.mark_running(run_id)
        try:
            metrics = body()
        except (KeyboardInterrupt, Terminated):
            log.warning("run cancelled; resume with: python -m fer_core %s --resume %s", kind, run_dir)
            registry.finish(run_id, "cancelled")
            progress.update(force=True, phase="cancelled")
            raise SystemExit(130) from None
        except Exception as exc:
            log.error("run failed: %s", exc)
            log_file.stream.write(traceback.format_exc())  # the traceback goes to the run's log file only
            log_file.flush()
            registry.finish(run_id, "failed", error=str(exc))
            progress.update(force=True, phase="failed", error=str(exc))
            raise
    registry.finish(run_id, "done", metrics=metrics)
    progress.update(force=True, phase="done", eta_seconds=0.0, final_metrics=metrics)
    return metrics


def report_best_model(run_dir: Path, data: PreparedData) -> dict[str, Any]:
    """Evaluate the run's saved ``model.keras`` on val, write the report files, return headline metrics."""
    model = load_model(run_dir / MODEL_FILE)
    metrics = write_report(run_dir, data.val_name, data.val, predict_probabilities(model, data.val.images))
    logging.getLogger(LOGGER_NAME).info("best model on %s: accuracy %.4f, macro-F1 %.4f", data.val_name,
                                        metrics["accuracy"], metrics["macro_f1"])
    split = metrics["split"]
    return {f"{split}_accuracy": metrics["accuracy"], f"{split}_macro_f1": metrics["macro_f1"]}
