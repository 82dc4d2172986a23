"""Background training and tuning jobs with a queue, for the dashboard.

``submit`` writes the run directory and registers the run as *queued*, then starts a
detached job process (``python -m fer_core run-job RUN_DIR``) in its own session, so it
outlives page reloads and restarts of the Streamlit server. The job process waits until the
registry grants it a slot (at most ``max_running`` jobs run at once, first come first
served), then runs the very same ``training.resume`` / ``tuning.resume_tuning`` code the
CLI runs. ``cancel`` works on queued and running jobs; a killed job can be requeued and
continues from its last checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fer_core.fileio import read_json
from fer_core.settings import PROJECT_ROOT, child_process_env
from fer_core.runs.progress import ProgressFile
from fer_core.runs.registry import RunRegistry, _pid_alive, start_run
from fer_core.errors import ConfigError
from fer_core.run_files import CONFIG_FILE

JOB_LOG = "job.log"  # the job process's own output (a crash before the run log exists)


def submit(runs_dir: str | os.PathLike, config, max_running: int = 1) -> str:
    """Queue a TrainConfig or TuneConfig as a background job; return its run id."""
    from fer_core.training.config import TrainConfig
    from fer_core.training.train import run_record

    kind = "train" if isinstance(config, TrainConfig) else "tune"
    label, values = run_record(config) if kind == "train" else (config.tuner, asdict(config))
    values["data"] = str(Path(values["data"]).absolute())
    run_id, run_dir, registry = start_run(Path(runs_dir).absolute(), kind, label, values, status="queued")
    ProgressFile(run_dir).update(force=True, phase="queued", kind=kind, run_id=run_id)
    _spawn_job(registry, run_id, run_dir, max_running)
    return run_id


def requeue(runs_dir: str | os.PathLike, run_id: str, max_running: int = 1) -> None:
    """Queue a failed or cancelled job again; it resumes from its last finished epoch or trial."""
    registry = RunRegistry(runs_dir)
    record = registry.get(run_id)
    if record is None:
        raise ConfigError(f"no run {run_id}")
    if record.status not in ("failed", "cancelled"):
        raise ConfigError(f"run {run_id} is {record.status}; only failed or cancelled runs can be resumed")
    registry.requeue(run_id)
    ProgressFile(record.run_dir).update(force=True, phase="queued", error=None)
    _spawn_job(registry, run_id, Path(record.run_dir), max_running)


def _spawn_job(registry: RunRegistry, run_id: str, run_dir: Path, max_running: int) -> None:
    env = child_process_env()
    with open(run_dir / JOB_LOG, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fer_core", "run-job", str(run_dir), "--max-running", str(max_running)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env=env,
            start_new_session=True,  # not in the server's process group: a server restart leaves it running
        )
    registry.set_pid(run_id, process.pid)


def cancel(runs_dir: str | os.PathLike, run_id: str) -> str:
    """Cancel a queued or running job; return what happened, in words."""
    registry = RunRegistry(runs_dir)
    record = registry.get(run_id)
    if record is None:
        raise ConfigError(f"no run {run_id}")
    if record.status == "queued" and registry.cancel_if_queued(run_id):
        ProgressFile(record.run_dir).update(force=True, phase="cancelled")
        _signal(record.pid)
        return "cancelled while queued"
    record = registry.get(run_id)
    if record.status == "running":
        if record.pid and _pid_alive(record.pid):
            _signal(record.pid)
            return "asked the running job to stop; it is marked cancelled when it does"
        registry.reconcile()
        return "the job's process was already gone; marked failed"
    return f"nothing to cancel: the job is {record.status}"


def _signal(pid: int | None) -> None:
    if pid and _pid_alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def queue_position(registry: RunRegistry, run_id: str) -> int | None:
    """1 for the next job to start, None if the job is not queued."""
    queued = sorted(registry.list(status="queued"), key=lambda r: (r.created_at, r.run_id))
    for position, record in enumerate(queued, start=1):
        if record.run_id == run_id:
            return position
    return None


def run_job(run_dir: str | os.PathLike, max_running: int = 1, poll_seconds: float = 1.0) -> int:
    """The job's own process: wait for a slot, then train or tune. Returns an exit status."""
    run_dir = Path(run_dir).absolute()
    saved = read_json(run_dir / CONFIG_FILE)
    if not saved or saved.get("kind") not in ("train", "tune"):
        raise ConfigError(f"{run_dir} is not a run directory (no config.json)")
    run_id, kind = saved["run_id"], saved["kind"]
    registry = RunRegistry(run_dir.parent)
    registry.set_pid(run_id, os.getpid())

    def stop_waiting(signum, frame):  # noqa: ARG001
        raise SystemExit(130)

    previous = signal.signal(signal.SIGTERM, stop_waiting)
    try:
        while True:
            registry.reconcile()
            status = registry.claim(run_id, max_running)
            if status == "running":
                break
            if status != "queued":
                return 0  # cancelled (or failed) while waiting
            time.sleep(poll_seconds)
    except SystemExit:
        if registry.cancel_if_queued(run_id):
            ProgressFile(run_dir).update(force=True, phase="cancelled")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)

    if kind == "train":
        from fer_core.training.train import resume

        resume(run_dir, verbose=2)
    else:
        from fer_core.training.tune import resume_tuning

        resume_tuning(run_dir, verbose=2)
    return 0


def describe_workers(progress: dict) -> list[str]:
    """One line per worker of a distributed search: its trial, epoch and ETA."""
    lines = []
    for worker, state in sorted((progress.get("workers") or {}).items()):
        if state.get("phase") == "done":
            lines.append(f"{worker}: done")
            continue
        if state.get("phase") != "training":
            lines.append(f"{worker}: {state.get('phase') or 'starting'}")
            continue
        words = [f"trial {state.get('trial')}"] if state.get("trial") else []
        if state.get("epoch"):
            words.append(f"epoch {state['epoch']}/{state.get('epochs') or '?'}")
        if state.get("eta_seconds") is not None:
            words.append(f"ETA {_duration(state['eta_seconds'])} for this trial")
        lines.append(f"{worker}: " + ", ".join(words))
    return lines


def describe_progress(progress: dict, status: str) -> tuple[float, str]:
    """A job's progress as (fraction done 0-1, one line of words) for a progress bar."""
    phase = progress.get("phase", status)
    if status in ("done", "failed", "cancelled"):
        return (1.0 if status == "done" else 0.0), status
    if status == "queued" or phase == "queued":
        return 0.0, "queued: waiting for a free slot"
    if phase == "loading_data":
        return 0.0, "loading data"
    if phase == "timing":
        return 0.0, "timing a few steps to fit the time budget"
    if phase == "evaluating":
        return 1.0, "evaluating the best model"
    epoch, epochs = progress.get("epoch") or 0, progress.get("epochs") or 1
    step, steps = progress.get("step") or 0, progress.get("steps") or 1
    within = ((epoch - 1) + step / steps) / epochs if epoch else 0.0
    parts = []
    trial, trials = progress.get("trial"), progress.get("trials")
    if trial:
        parts.append(f"trial {trial}" + (f" of {trials}" if trials else ""))
        within = ((trial - 1) + within) / trials if trials else within
    if epoch:
        parts.append(f"epoch {epoch}/{epochs}, batch {step}/{steps}")
    eta = progress.get("eta_seconds")
    if eta is not None:
        parts.append(f"ETA {_duration(eta)}" + (" for this trial" if trial else ""))
    if progress.get("best_val_accuracy") is not None and progress["best_val_accuracy"] >= 0:
        parts.append(f"best val accuracy {progress['best_val_accuracy']:.1%}")
    return max(0.0, min(1.0, within)), ", ".join(parts) or phase


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def log_tail(run_dir: str | os.PathLike, lines: int = 40) -> str:
    """The last lines of a job's logs (run log, then the job process's own output for crashes)."""
    run_dir = Path(run_dir)
    chunks = []
    for name in ("train.log", "tune.log", JOB_LOG):
        path = run_dir / name
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                chunks.append(f"== {name} ==\n" + "\n".join(text))
    return "\n\n".join(chunks)
