"""The GPU flow end to end on this machine's backend: pack, ``scripts/gpu_train.sh``, bundle.

On a GPU machine the same script runs under JAX (docs/gpu.md); here it runs
with tiny settings, which checks what it writes and that a run it made can be bundled.
"""

from __future__ import annotations

import pytest

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_larger_teachers_their_ensemble_and_a_student_from_their_multicrop_soft_labels(tmp_path):
    """The teacher flow (issue 27, part 2) dry-run on the CPU: two teacher recipes (tiny here), their
    ensemble evaluated with multicrop TTA, a student distilled from it; the teachers stay behind."""
    data = write_kaggle_folder(tmp_path / "fer", {"train": 12, "test": 4})
    pack = tmp_path / "fer.ferpack"
    assert run(sys.executable, "-m", "fer_core", "pack", "--data", data, "--out", pack).returncode == 0
    out = tmp_path / "out"
    result = run("bash", "scripts/gpu_train.sh", "--data", pack, "--out", out, "--minutes", "8", "--seeds",
                 "--teachers", "teacher-vgg:1", "teacher-resnet:2", "--teacher-minutes", "1.5", "--distill",
                 "--distill-minutes", "1.5", "--runs-dir", tmp_path / "runs", *TINY, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["log.txt", "run-student.tar", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    teachers = [summary["runs"][name]["run_dir"] for name in ("teacher-teacher-vgg-1", "teacher-teacher-resnet-2")]
    ensemble = summary["teacher_ensemble"]
    assert ensemble["members"] == teachers and ensemble["tta"] == "multicrop" and 0 <= ensemble["val_accuracy"] <= 1
    assert summary["runs"]["student"]["teacher"] == teachers
    log = (out / "log.txt").read_text()
    assert "teachers' multicrop-TTA probabilities" in log and "--preset teacher-resnet" in log


def test_pack_refuses_an_output_without_its_suffix(tmp_path):
    data = write_kaggle_folder(tmp_path / "fer", {"train": 2})
    result = run(sys.executable, "-m", "fer_core", "pack", "--data", data, "--out", tmp_path / "x.zip")
    assert result.returncode == 2 and "error: --out must end in .ferpack" in result.stderr


def test_a_file_travels_in_parts_and_is_joined_only_when_every_part_is_right(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    original = here / "data.ferpack"
    original.write_bytes(os.urandom(300_001))
    result = run(sys.executable, "scripts/travel_parts.py", "split", original, "--parts", "3")
    assert result.returncode == 0 and "part3" in result.stdout, result.stderr
    (there / "data.ferpack.parts").mkdir(parents=True)
    carried = there / "data.ferpack.parts"
    for name in ("manifest.json", "part1", "part3"):  # the second call's part not here yet
        (carried / name).write_bytes((here / "data.ferpack.parts" / name).read_bytes())
    result = run(sys.executable, "scripts/travel_parts.py", "join", there / "data.ferpack")
    assert result.returncode == 2 and "part2 of data.ferpack not here" in result.stderr
    (carried / "part2").write_bytes(b"x" + (here / "data.ferpack.parts" / "part2").read_bytes()[1:])
    result = run(sys.executable, "scripts/travel_parts.py", "join", there / "data.ferpack")
    assert result.returncode == 2 and "not the part the manifest names" in result.stderr
    assert not (there / "data.ferpack").exists()
    (carried / "part2").write_bytes((here / "data.ferpack.parts" / "part2").read_bytes())
    result = run(sys.executable, "scripts/travel_parts.py", "join", there / "data.ferpack")
    assert result.returncode == 0 and (there / "data.ferpack").read_bytes() == original.read_bytes()


def test_the_travel_check_prints_one_call_and_the_plan_in_parts():
    result = run(sys.executable, "scripts/travel_size.py")
    assert result.returncode == 0 and "tracked files" in result.stdout and "MiB to spare" in result.stdout
