"""Wall time of one Keras-Tuner search with its trials in 1 and in 2 worker processes on this machine.

Usage: python benchmarks/bench_tune_workers.py [--data FER2013.zip] [--workers 1 2] [--trials 6]

The same search each time (random search, ``--trials`` trials of the reference CNN for 2 epochs
on 10% of FER2013 Training, seed 1234), run as ``python -m fer_core tune --workers N``: the
chief serves the oracle and N local workers run the trials. Prints the wall time of each
command, start-up and the final evaluation included. On a 2-core machine two workers share the
cores, so the gain is small; on a machine with more cores (or workers on other machines) it grows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.zip"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    search = ["--tuner", "random", "--max-trials", str(args.trials), "--epochs", "2", "--data-fraction", "0.1",
              "--model", "reference", "--base-filters", "16,32", "--dense-units", "64,128", "--batch-sizes", "64"]
    subprocess.run([sys.executable, "-m", "fer_core", "data", "--data", args.data], cwd=REPO_ROOT,
                   capture_output=True, check=True)  # the dataset cache, so both searches start alike
    print(f"workers  wall (s)   ({args.trials} trials, reference CNN, 2 epochs on 10% of Training)")
    for workers in args.workers:
        runs = tempfile.mkdtemp(prefix=f"fer_tune_{workers}_")
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "fer_core", "tune", "--data", args.data, "--runs-dir", runs,
                                 "--workers", str(workers), *search], cwd=REPO_ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        status = "" if result.returncode == 0 else f"  FAILED: {result.stderr.strip().splitlines()[-1]}"
        print(f"{workers:7d}  {wall:8.1f}{status}", flush=True)


if __name__ == "__main__":
    main()
