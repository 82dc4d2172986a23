"""The GPU flow end to end on this machine's backend: pack, ``scripts/gpu_train.sh``, bundle.

On a GPU machine the same script runs under JAX (docs/gpu.md); here it runs
with tiny settings, which checks what it writes and that a run it made can be bundled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

from tests.conftest import REPO_ROOT, write_kaggle_folder

# Tiny runs of fixed length (no time-budget probe: fer_core.time_budget has its own tests).
TINY = ["--train-arg=--filters=4,8,8,8", "--train-arg=--dense-units=8", "--train-arg=--epochs=2",
        "--train-arg=--batch-size=32", "--train-arg=--time-budget=0"]


def run(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "FER_WHEELS": "/nonexistent"}
    return subprocess.run(list(map(str, args)), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_pack_train_seeds_distil_and_bundle(tmp_path):
    data = write_kaggle_folder(tmp_path / "fer", {"train": 12, "test": 4})
    pack = tmp_path / "fer.ferpack"
    result = run(sys.executable, "-m", "fer_core", "pack", "--data", data, "--out", pack, "--splits", "train,val")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "val: 28 images" in result.stdout

    out = tmp_path / "out"
    result = run("bash", "scripts/gpu_train.sh", "--data", pack, "--out", out, "--minutes", "6", "--seeds", "1",
                 "--seed-minutes", "1.5", "--distill", "--distill-minutes", "1.5", "--runs-dir", tmp_path / "runs",
                 *TINY)
    assert result.returncode == 0, result.stdout + result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["log.txt", "run-seed1.tar", "run-student.tar", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["runs"]) == {"seed1", "student"}
    for name, entry in summary["runs"].items():
        assert entry["returncode"] == 0 and 0 <= entry["val_accuracy"] <= 1 and set(entry["val_recall"]) >= {"fear"}
    assert summary["runs"]["student"]["teacher"] == [summary["runs"]["seed1"]["run_dir"]]  # distilled from the seed
    with tarfile.open(out / "run-student.tar") as tar:
        names = [member.name.split("/")[-1] for member in tar.getmembers()]
        assert "model.keras" in names and "checkpoint.keras" not in names
        tar.extractall(tmp_path / "back", filter="data")
    (run_dir,) = (tmp_path / "back").iterdir()
    card_path = tmp_path / "models" / "student.keras"
    result = run(sys.executable, "-m", "fer_core", "bundle", run_dir, "--data", pack, "--out", card_path)
    assert result.returncode == 0, result.stderr
    card = json.loads(card_path.with_suffix(".json").read_text())
    assert card["keras_backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert card["wall_seconds"] > 0 and card["hardware"] and "--teacher" in card["command"]


def test_pack_refuses_an_output_without_its_suffix(tmp_path):
    data = write_kaggle_folder(tmp_path / "fer", {"train": 2})
    result = run(sys.executable, "-m", "fer_core", "pack", "--data", data, "--out", tmp_path / "x.zip")
    assert result.returncode == 2 and "error: --out must end in .ferpack" in result.stderr
