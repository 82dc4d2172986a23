"""A Keras-Tuner search spread over processes and machines, with Keras-Tuner's own distributed mode.

The chief process holds the oracle and serves it over gRPC; workers ask it for trials
(``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``). Here the
chief is the ``tune`` run itself (``tune --workers N``): it starts N local worker processes
(``python -m fer_core tune-worker RUN_DIR --oracle HOST:PORT``), and workers on other machines
join with the same command.

One search, one record. Only the chief writes the run's files: ``trials.csv`` (with the worker
that ran each trial) after each trial the oracle ends, ``trial_times.json``, and ``progress.json``
with every worker's own progress (which each worker writes to ``workers/<id>/progress.json``).
Per-trial histories are written by the worker running the trial, one folder per trial.

A local worker that dies mid-trial does not stall the search: the chief notices its process is
gone, sends its trial back to the oracle's retry queue (Keras-Tuner's own mechanism, used when
a search is reloaded), so the trial is **run again** by another worker, and starts a replacement
worker. A remote worker cannot be watched this way (Keras-Tuner has no heartbeat): if one dies,
its trial waits until the search is resumed (``tune --resume``), which retries it. Cancelling the
chief (SIGTERM) stops its local workers too.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fer_core.fileio import read_json, write_json_atomic
from fer_core.settings import PROJECT_ROOT, child_process_env
from fer_core.runs.progress import PROGRESS_FILENAME
from fer_core.errors import ConfigError

WORKERS_DIR = "workers"
ORACLE_FILE = "oracle.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oracle_env(host: str, port: int, tuner_id: str) -> dict[str, str]:
    """Keras-Tuner's environment for one process of a distributed search."""
    return {"KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": str(port), "KERASTUNER_TUNER_ID": tuner_id}


def parse_oracle(address: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port), with a clear error for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--oracle must be HOST:PORT (e.g. 192.168.1.10:8470), got '{address}'")
    return host, int(port)


def worker_progress_dir(run_dir: Path, worker_id: str) -> Path:
    return Path(run_dir) / WORKERS_DIR / worker_id


class LocalWorkers:
    """The chief's own worker processes: started, watched, replaced when one dies, stopped at the end."""

    def __init__(self, run_dir: Path, host: str, port: int, count: int):
        self.run_dir, self.host, self.port = Path(run_dir), host, port
        self.procs: dict[str, subprocess.Popen] = {}
        self._next = 0
        for _ in range(count):
            self.start_one()

    def start_one(self) -> str:
        worker_id = f"worker{self._next}"
        self._next += 1
        env = child_process_env(**oracle_env(self.host, self.port, worker_id))
        log_dir = worker_progress_dir(self.run_dir, worker_id)
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / "worker.log", "w")
        self.procs[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "fer_core", "tune-worker", str(self.run_dir), "--oracle",
             f"{self.host}:{self.port}", "--worker-id", worker_id],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        write_json_atomic(self.run_dir / WORKERS_DIR / "pids.json",
                          {wid: proc.pid for wid, proc in self.procs.items()})
        logging.getLogger("fer_core").info("started %s (pid %d)", worker_id, self.procs[worker_id].pid)
        return worker_id

    def dead(self) -> list[str]:
        """Workers whose process ended with an error or a signal (not a clean finish)."""
        return [wid for wid, proc in self.procs.items() if proc.poll() not in (None, 0)]

    def forget(self, worker_id: str) -> None:
        self.procs.pop(worker_id, None)

    def stop_all(self, grace: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.time() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def requeue_trial_of(oracle, tuner_id: str) -> str | None:
    """Send the trial a dead worker was running back to the oracle's retry queue (Keras-Tuner's
    own mechanism for trials interrupted by a reload) and forget the worker; return the trial id."""
    import keras_tuner as kt

    def requeue(oracle, tuner_id):
        oracle.tuner_ids.discard(tuner_id)
        trial = oracle.ongoing_trials.pop(tuner_id, None)
        if trial is None:
            return None
        oracle._retry_queue.append(trial.trial_id)
        oracle.save()
        return trial.trial_id

    return kt.synchronized(requeue)(oracle, tuner_id)


class ChiefWatch(threading.Thread):
    """In the chief, every ``interval`` seconds: note which worker runs which trial (for
    ``trials.csv`` and trial times), merge the workers' progress into ``progress.json``, and
    replace a local worker that died, sending its trial back to be run again."""

    def __init__(self, oracle, workers: LocalWorkers | None, run_dir: Path, progress, record, interval: float = 1.0):
        super().__init__(daemon=True, name="fer-chief-watch")
        self.oracle, self.workers, self.run_dir = oracle, workers, Path(run_dir)
        self.progress, self.record, self.interval = progress, record, interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # the watch must never take the chief down; the next tick tries again
                logging.getLogger("fer_core").exception("chief watch")

    def tick(self) -> None:
        for tuner_id, trial in list(self.oracle.ongoing_trials.items()):
            self.record.trial_running(trial.trial_id, tuner_id)
        if self.workers is not None:
            for worker_id in self.workers.dead():
                trial_id = requeue_trial_of(self.oracle, worker_id)
                self.workers.forget(worker_id)
                logging.getLogger("fer_core").warning(
                    "%s died%s; starting a replacement", worker_id,
                    f" during trial {trial_id}, which will be run again" if trial_id else "")
                if not self.finished():
                    self.workers.start_one()
        self.progress.update(force=True, workers=read_worker_progress(self.run_dir))

    def finished(self) -> bool:
        oracle = self.oracle
        return bool(oracle.max_trials) and len(oracle.trials) >= oracle.max_trials and not oracle.ongoing_trials \
            and not oracle._retry_queue


def read_worker_progress(run_dir: Path) -> dict[str, Any]:
    """Each worker's latest progress (trial, epoch, ETA), by worker id."""
    found = {}
    root = Path(run_dir) / WORKERS_DIR
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            state = read_json(folder / PROGRESS_FILENAME, default=None)
            if state:
                found[folder.name] = {k: state.get(k) for k in ("phase", "trial", "trial_id", "epoch", "epochs",
                                                                 "step", "steps", "eta_seconds", "updated_at")}
    return found


def write_oracle_address(run_dir: Path, host: str, port: int) -> None:
    """Where workers on other machines find the oracle (``oracle.json`` in the run folder)."""
    write_json_atomic(Path(run_dir) / ORACLE_FILE, {"host": host, "port": port,
                                                    "join": f"python -m fer_core tune-worker {run_dir} "
                                                            f"--oracle HOST:{port}"})


def read_oracle_address(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(run_dir) / ORACLE_FILE).read_text())
    except (OSError, ValueError):
        return None
