"""Background jobs as the dashboard launches them: real detached job processes and a queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fer_core.training.jobs import cancel, describe_progress, log_tail, queue_position, requeue, submit
from fer_core.runs.progress import read_progress
from fer_core.runs.registry import RunRegistry, _pid_alive
from fer_core.training.config import TrainConfig
from tests.conftest import REPO_ROOT, TINY_TRAIN_CONFIG, write_kaggle_folder


def wait_status(runs: Path, run_id: str, wanted: set[str], timeout: float = 240) -> str:
    registry = RunRegistry(runs)
    deadline = time.time() + timeout
    while time.time() < deadline:
        registry.reconcile()
        status = registry.get(run_id).status
        if status in wanted:
            return status
        time.sleep(0.3)
    pytest.fail(f"{run_id} never became {wanted} (is {status}); log:\n{log_tail(registry.get(run_id).run_dir)}")


@pytest.fixture
def data(tmp_path) -> str:
    return str(write_kaggle_folder(tmp_path / "data", {"train": 12, "test": 4}))


@pytest.mark.slow
def test_queue_runs_one_at_a_time_and_cancels_a_queued_job(data, tmp_path):
    runs = tmp_path / "runs"
    first = submit(runs, TrainConfig(data=data, epochs=3, **TINY_TRAIN_CONFIG), max_running=1)
    second = submit(runs, TrainConfig(data=data, epochs=1, **TINY_TRAIN_CONFIG), max_running=1)
    third = submit(runs, TrainConfig(data=data, epochs=1, **TINY_TRAIN_CONFIG), max_running=1)
    registry = RunRegistry(runs)
    wait_status(runs, first, {"running"})
    assert registry.get(second).status == "queued" and queue_position(registry, third) == 2
    assert describe_progress(read_progress(registry.get(third).run_dir), "queued")[1].startswith("queued")
    job_pid = registry.get(third).pid
    assert cancel(runs, third) == "cancelled while queued"
    assert wait_status(runs, first, {"done"}) == "done"
    assert wait_status(runs, second, {"done"}) == "done"
    assert registry.get(third).status == "cancelled"
    deadline = time.time() + 30
    while time.time() < deadline and _pid_alive(job_pid):
        time.sleep(0.2)
    assert not _pid_alive(job_pid), "the cancelled job's process is still waiting"
    a, b = registry.get(first), registry.get(second)
    assert a.started_at <= a.finished_at <= b.started_at  # never both at once
    assert (Path(a.run_dir) / "model.keras").exists()
    assert describe_progress(read_progress(a.run_dir), "done") == (1.0, "done")


@pytest.mark.slow
def test_job_outlives_the_process_that_launched_it(data, tmp_path):
    """A Streamlit server restart: the launching process exits right after submitting."""
    runs = tmp_path / "runs"
    code = ("import sys; from fer_core.training.jobs import submit; from fer_core.training.train import TrainConfig; "
            f"print(submit({str(runs)!r}, TrainConfig(data={data!r}, epochs=1, filters=[4, 8, 8], dense_units=16)))")
    launched = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=os.environ.copy(),
                              capture_output=True, text=True, timeout=120)
    assert launched.returncode == 0, launched.stderr
    run_id = launched.stdout.strip().splitlines()[-1]
    assert wait_status(runs, run_id, {"done", "failed"}) == "done"


@pytest.mark.slow
def test_cancel_a_running_job_keeps_its_log_and_resume_finishes_it(data, tmp_path):
    runs = tmp_path / "runs"
    run_id = submit(runs, TrainConfig(data=data, epochs=40, **TINY_TRAIN_CONFIG))
    registry = RunRegistry(runs)
    run_dir = Path(registry.get(run_id).run_dir)
    deadline = time.time() + 240
    while time.time() < deadline and not (run_dir / "state.json").exists():
        time.sleep(0.2)
    assert (run_dir / "state.json").exists(), log_tail(run_dir)
    assert "asked the running job to stop" in cancel(runs, run_id)
    assert wait_status(runs, run_id, {"cancelled", "failed"}) == "cancelled"
    assert "run cancelled" in log_tail(run_dir)
    with pytest.raises(ValueError, match="only failed or cancelled"):
        requeue(runs, submit(runs, TrainConfig(data=data, epochs=1, **TINY_TRAIN_CONFIG)))
    requeue(runs, run_id)
    assert wait_status(runs, run_id, {"done", "failed"}) == "done"
    assert "resuming" in log_tail(run_dir, lines=400)


def test_describe_progress_words():
    fraction, words = describe_progress({"phase": "training", "epoch": 2, "epochs": 4, "step": 5, "steps": 10,
                                         "eta_seconds": 75, "trial": 2, "trials": 4}, "running")
    assert words.startswith("trial 2 of 4, epoch 2/4, batch 5/10, ETA 1m 15s")
    assert fraction == pytest.approx((1 + (1 + 0.5) / 4) / 4)
    assert describe_progress({"phase": "timing"}, "running") == (0.0, "timing a few steps to fit the time budget")


def test_each_worker_of_a_distributed_search_gets_a_line():
    from fer_core.training.jobs import describe_workers

    progress = {"workers": {"worker1": {"phase": "training", "trial": 3, "epoch": 2, "epochs": 5, "eta_seconds": 70},
                            "worker0": {"phase": "done"}, "worker2": {"phase": "loading_data"}}}
    assert describe_workers(progress) == ["worker0: done", "worker1: trial 3, epoch 2/5, ETA 1m 10s for this trial",
                                          "worker2: loading_data"]
    assert describe_workers({}) == []
