"""A distributed Keras-Tuner search on localhost: a chief and two worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fer_core.training.distributed import parse_oracle, read_worker_progress
from tests.conftest import REPO_ROOT, write_kaggle_folder

SEARCH = ["--tuner", "random", "--max-trials", "6", "--epochs", "1", "--base-filters", "4,8", "--dense-units", "8,16",
          "--batch-sizes", "32", "--workers", "2"]


def start(*args, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT, env=os.environ.copy(),
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is as good as gone
        return f.read().split(")")[-1].split()[0] != "Z"


def wait_for(condition, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"the chief ended (rc={proc.returncode}) early:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out:\n{log.read_text()[-3000:]}")


@pytest.fixture
def small_data(tmp_path) -> Path:
    return write_kaggle_folder(tmp_path / "fer", {"train": 12, "test": 4})


def the_run(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return run_dir


@pytest.mark.slow
def test_a_chief_and_two_workers_finish_six_trials_each_run_once(small_data, tmp_path):
    runs = tmp_path / "runs"
    chief = start("tune", "--data", small_data, "--runs-dir", runs, *SEARCH, log=tmp_path / "chief.log")
    assert chief.wait(timeout=400) == 0, (tmp_path / "chief.log").read_text()[-3000:]
    run_dir = the_run(runs)
    trials = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert len(trials) == 6 and (trials["status"] == "COMPLETED").all()
    assert trials["trial_id"].is_unique and set(trials["worker"]) <= {"worker0", "worker1"}
    assert trials["seconds"].notna().all()
    assert json.loads((run_dir / "best_hyperparameters.json").read_text())
    assert sorted(p.name for p in (run_dir / "trial_histories").iterdir()) == sorted(trials["trial_id"])
    workers = read_worker_progress(run_dir)
    assert set(workers) == {"worker0", "worker1"} and all(w["phase"] == "done" for w in workers.values())
    assert json.loads((run_dir / "progress.json").read_text())["phase"] == "done"
    pids = json.loads((run_dir / "workers" / "pids.json").read_text())
    assert not any(alive(pid) for pid in pids.values())


@pytest.mark.slow
def test_a_worker_killed_mid_trial_has_its_trial_run_again_and_the_search_ends(small_data, tmp_path):
    runs = tmp_path / "runs"
    log = tmp_path / "chief.log"
    chief = start("tune", "--data", small_data, "--runs-dir", runs, "--max-trials", "6", *SEARCH[:2], *SEARCH[4:],
                  log=log)
    pids_file = lambda: next(runs.glob("*/workers/pids.json"), None) if runs.exists() else None  # noqa: E731

    def a_worker_is_training() -> bool:
        if pids_file() is None:
            return False
        return any(w.get("phase") == "training" for w in read_worker_progress(pids_file().parent.parent).values())

    wait_for(a_worker_is_training, 240, chief, log)
    victim = json.loads(pids_file().read_text())["worker0"]
    os.killpg(victim, signal.SIGKILL)
    assert chief.wait(timeout=400) == 0, log.read_text()[-3000:]
    run_dir = the_run(runs)
    trials = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert len(trials) == 6 and (trials["status"] == "COMPLETED").all()
    assert "worker0 died" in (run_dir / "tune.log").read_text()
    assert "worker2" in json.loads((run_dir / "workers" / "pids.json").read_text())  # the replacement


@pytest.mark.slow
def test_cancelling_the_chief_stops_every_worker(small_data, tmp_path):
    runs = tmp_path / "runs"
    log = tmp_path / "chief.log"
    chief = start("tune", "--data", small_data, "--runs-dir", runs, "--max-trials", "40", "--epochs", "3",
                  *SEARCH[4:], log=log)
    wait_for(lambda: runs.exists() and any(runs.glob("*/workers/worker1/progress.json")), 240, chief, log)
    run_dir = the_run(runs)
    pids = json.loads((run_dir / "workers" / "pids.json").read_text())
    chief.send_signal(signal.SIGTERM)
    assert chief.wait(timeout=60) == 130
    deadline = time.time() + 30
    while time.time() < deadline and any(alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    assert not any(alive(pid) for pid in pids.values())
    assert json.loads((run_dir / "progress.json").read_text())["phase"] == "cancelled"


def test_bad_worker_arguments_are_one_error_line(tmp_path):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_oracle("localhost")
    result = subprocess.run([sys.executable, "-m", "fer_core", "tune-worker", tmp_path, "--oracle", "127.0.0.1:1"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a run folder" in result.stderr and "Traceback" not in result.stderr
