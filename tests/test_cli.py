"""The command line, run as users run it: ``python -m fer_core ...`` in subprocesses."""

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

from fer_core.runs.history import read_history
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, face_image, write_kaggle_folder

TINY_TRAIN = ["--filters", "4,8,8", "--dense-units", "16", "--batch-size", "32", "--augment", "0.25"]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)


def start_cli(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT,
                            env=os.environ.copy(), stdout=open(log, "w"), stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, proc: subprocess.Popen, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"process ended (rc={proc.returncode}) before {what}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def only_run_dir(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return run_dir


def test_data_command_prints_splits(kaggle_folder):
    result = run_cli("data", "--data", kaggle_folder)
    assert result.returncode == 0, result.stderr
    assert "train: 42 images" in result.stdout and "val: 21 images" in result.stdout
    copied = next((kaggle_folder / "train" / "sad").iterdir())
    (kaggle_folder / "test" / "sad" / "PublicTest_copy.jpg").write_bytes(copied.read_bytes())
    result = run_cli("data", "--data", kaggle_folder, "--duplicates")
    assert "in both train and val: 1" in result.stdout
    assert "LEAK: 1 val images have an exact copy in train" in result.stdout


@pytest.mark.slow
def test_train_evaluate_predict(train_folder, tmp_path):
    runs = tmp_path / "runs"
    result = run_cli("train", "--data", train_folder, "--epochs", "1", "--runs-dir", runs, *TINY_TRAIN)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    run_dir = Path(summary["run_dir"])
    assert summary["split"] == "val" and 0 <= summary["accuracy"] <= 1

    out = tmp_path / "eval"
    result = run_cli("evaluate", "--data", train_folder, "--model", run_dir, "--split", "val", "--out", out)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    low, high = metrics["intervals"]["accuracy"]
    assert metrics["n"] == 56 and low <= metrics["accuracy"] <= high
    assert f"accuracy={100 * metrics['accuracy']:.2f}% ({100 * low:.2f}-{100 * high:.2f})" in result.stdout
    assert (out / "misclassified.csv").exists() and (out / "samples.png").exists()

    result = run_cli("evaluate", "--data", train_folder, "--model", run_dir, "--split", "test", "--out", out)
    assert result.returncode == 2
    assert "no 'test' split; it has: train, val" in result.stderr and "Traceback" not in result.stderr

    face_image(5, 3, size=120, mode="RGB").save(tmp_path / "face.png")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    result = run_cli("predict", tmp_path / "face.png", tmp_path / "bad.jpg", "--model", run_dir / "model.keras",
                     "--detector", "none")
    assert result.returncode == 1  # one file failed; the other still answered
    answers = json.loads(result.stdout)
    assert answers[0]["file"].endswith("face.png") and answers[0]["whole_image"] is True
    assert answers[0]["faces"][0]["box"] is None and len(answers[0]["faces"][0]["probabilities"]) == 7
    assert answers[1]["file"].endswith("bad.jpg") and "error" in answers[1]

    result = run_cli("runs", "--runs-dir", runs)
    assert result.returncode == 0 and "done" in result.stdout and "val_accuracy=" in result.stdout

    bundled = tmp_path / "models" / "mine.keras"
    result = run_cli("bundle", run_dir, "--data", train_folder, "--out", bundled)
    assert result.returncode == 0, result.stderr
    card = json.loads(bundled.with_suffix(".json").read_text())
    assert card["architecture"] == "reference" and card["epochs"] == 1 and card["keras_backend"] == "tensorflow"
    assert card["command"].split()[-len(TINY_TRAIN):] == TINY_TRAIN  # the exact training command
    assert card["publictest_metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert set(card["publictest_metrics_tta"]) == {"flip", "multicrop"}
    assert card["publictest_accuracy_by_tta"]["none"] == pytest.approx(metrics["accuracy"], abs=1e-4)
    flip_eval = tmp_path / "eval-flip"
    assert run_cli("evaluate", "--data", train_folder, "--model", bundled, "--split", "val", "--tta", "flip",
                   "--out", flip_eval).returncode == 0
    flip_metrics = json.loads((flip_eval / "metrics.json").read_text())
    assert card["publictest_metrics_tta"]["flip"]["accuracy"] == pytest.approx(flip_metrics["accuracy"])

    # A shipped model (with its card) and a run make a shipped ensemble with its own card.
    ensemble = tmp_path / "models" / "ensemble.keras"
    result = run_cli("bundle", bundled, run_dir, "--data", train_folder, "--out", ensemble)
    assert result.returncode == 0, result.stderr
    assert "PublicTest accuracy" in result.stdout and "flip TTA" in result.stdout
    card = json.loads(ensemble.with_suffix(".json").read_text())
    assert [m["source"] for m in card["members"]] == ["mine.keras", run_dir.name]
    assert card["members"][0]["command"] == card["members"][1]["command"] and card["training_seconds"] > 0
    assert card["members"][1]["publictest_accuracy_by_tta"]["none"] == pytest.approx(metrics["accuracy"], abs=1e-4)
    assert card["command"].startswith("python -m fer_core bundle") and card["file_bytes"] == ensemble.stat().st_size
    # Two copies of one model average to that model.
    assert card["publictest_metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    result = run_cli("bundle", bundled, tmp_path / "nothing.keras", "--data", train_folder, "--out", ensemble)
    assert result.returncode == 2 and "not either" in result.stderr


@pytest.mark.slow
def test_quick_preset_with_overrides(train_folder, tmp_path):
    runs = tmp_path / "runs"
    result = run_cli("train", "--preset", "quick", "--data", train_folder, "--epochs", "1", "--filters", "4,8,8,8",
                     "--dense-units", "16", "--no-flip", "--crop-size", "44", "--no-mixed-precision",
                     "--runs-dir", runs)
    assert result.returncode == 0, result.stderr
    config = json.loads((only_run_dir(runs) / "config.json").read_text())
    # The preset's values, except where an option overrides them.
    assert config["model"] == "vgg" and config["optimizer"] == "adamw" and config["lr"] == 2e-3
    assert config["lr_schedule"] == "onecycle" and config["crop_padding"] == 4 and config["augment_strength"] == 0
    assert config["model_args"] == {"convs_per_stage": [1, 1, 2, 2], "stage_dropout": 0.0}
    assert config["epochs"] == 1 and config["filters"] == [4, 8, 8, 8] and config["flip"] is False
    assert config["crop_size"] == 44 and config["validate_last"] == 3 and config["mixed_precision"] is False
    # The preset's time budget holds; --epochs is then the most it may train.
    assert config["time_budget"] == 29 and config["epochs_cap"] == 1 and config["time_budget_plan"]["epochs"] == 1
    assert "--preset quick" in config["provenance"]["command"]
    result = run_cli("train", "--preset", "slow", "--data", train_folder)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_user_errors_are_one_line_without_traceback(tmp_path):
    result = run_cli("train", "--data", tmp_path / "nowhere", "--epochs", "1", "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and "no such file or folder" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("predict", tmp_path / "x.jpg", "--model", tmp_path / "missing.keras")
    assert result.returncode == 2 and "no model file" in result.stderr
    result = run_cli("train", "--epochs", "1")
    assert result.returncode == 2 and "needs --data" in result.stderr


@pytest.mark.slow
def test_training_killed_halfway_resumes_with_nothing_lost(tmp_path):
    data = write_kaggle_folder(tmp_path / "data", {"train": 80, "test": 8})
    runs = tmp_path / "runs"
    proc = start_cli("train", "--data", data, "--epochs", "6", "--runs-dir", runs, "--batch-size", "32",
                     log=tmp_path / "first.log")
    state = lambda: json.loads((only_run_dir(runs) / "state.json").read_text())  # noqa: E731
    wait_for(lambda: runs.exists() and any(runs.glob("*/state.json")) and state()["epochs_done"] >= 2,
             240, proc, "two finished epochs")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = only_run_dir(runs)
    done_before = state()["epochs_done"]
    history_before = read_history(run_dir)
    assert done_before < 6 and len(history_before) >= done_before

    result = run_cli("runs", "--runs-dir", runs)
    assert "failed" in result.stdout  # the registry noticed the dead process

    result = run_cli("train", "--resume", run_dir)
    assert result.returncode == 0, result.stderr
    history = read_history(run_dir)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(history_before[:done_before], history):
        assert before == after  # finished epochs are kept as they were
    assert "resuming" in (run_dir / "train.log").read_text()
    assert "done" in run_cli("runs", "--runs-dir", runs).stdout


@pytest.mark.slow
def test_tuning_killed_halfway_resumes(train_folder, tmp_path):
    runs = tmp_path / "runs"
    args = ["tune", "--data", train_folder, "--tuner", "random", "--max-trials", "3", "--epochs", "2",
            "--base-filters", "4,8", "--dense-units", "8,16", "--batch-sizes", "32", "--runs-dir", runs]
    proc = start_cli(*args, log=tmp_path / "tune.log")

    def one_trial_done() -> bool:
        files = list(runs.glob("*/trials.csv")) if runs.exists() else []
        return bool(files) and (pd.read_csv(files[0])["status"] == "COMPLETED").sum() >= 1

    wait_for(one_trial_done, 240, proc, "one finished trial")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = only_run_dir(runs)
    first = pd.read_csv(run_dir / "trials.csv")
    done_first = first[first["status"] == "COMPLETED"]

    result = run_cli("tune", "--resume", run_dir)
    assert result.returncode == 0, result.stderr
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 3 and (trials["status"] == "COMPLETED").all()
    kept = trials.set_index("trial_id").loc[done_first["trial_id"], "val_accuracy"]
    assert list(kept) == list(done_first["val_accuracy"])  # finished trials were not rerun
    assert (run_dir / "model.keras").exists() and json.loads((run_dir / "metrics.json").read_text())["n"] == 56


@pytest.mark.slow
def test_sigterm_cancels_a_run_and_keeps_its_files(train_folder, tmp_path):
    runs = tmp_path / "runs"
    proc = start_cli("train", "--data", train_folder, "--epochs", "200", "--runs-dir", runs, *TINY_TRAIN,
                     log=tmp_path / "cancel.log")
    wait_for(lambda: runs.exists() and any(runs.glob("*/state.json")), 240, proc, "a finished epoch")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    run_dir = only_run_dir(runs)
    assert json.loads((run_dir / "progress.json").read_text())["phase"] == "cancelled"
    assert "run cancelled; resume with" in (run_dir / "train.log").read_text()
    assert (run_dir / "model.keras").exists() and read_history(run_dir)
    assert "cancelled" in run_cli("runs", "--runs-dir", runs).stdout


@pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")
@pytest.mark.slow
def test_predict_finds_each_face_in_a_photo(tmp_path):
    from PIL import Image

    Image.new("RGB", (300, 200), (128, 128, 128)).save(tmp_path / "wall.png")
    result = run_cli("predict", SHARED_PHOTOS / "fr_two_people.jpg", tmp_path / "wall.png")
    assert result.returncode == 0, result.stderr
    two, wall = json.loads(result.stdout)
    assert len(two["faces"]) == 2 and two["width"] == 1126
    for face in two["faces"]:
        assert set(face["box"]) == {"x", "y", "width", "height", "score"} and face["box"]["score"] > 0.6
        assert face["top"] in face["probabilities"] and len(face["probabilities"]) == 7
    assert wall["faces"] == [] and "no face found in" in result.stderr
    result = run_cli("predict", tmp_path / "wall.png", "--whole-image-if-no-face", "--detector", "haar")
    (wall,) = json.loads(result.stdout)
    assert wall["whole_image"] is True and len(wall["faces"]) == 1


@pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")
@pytest.mark.slow
def test_predict_a_video_and_a_photo_collection(tmp_path):
    import zipfile

    import cv2

    from tests.conftest import write_test_video

    video = write_test_video(tmp_path / "talk.mp4", script=[(0.0, 1.0, ("fr_obama.jpg", "fr_biden.jpg")),
                                                            (1.0, 2.0, ("fr_obama.jpg", None))])
    (tmp_path / "broken.webm").write_bytes(b"\x1aE\xdf\xa3 not really a webm" * 50)
    with zipfile.ZipFile(tmp_path / "party.zip", "w") as zf:
        zf.write(SHARED_PHOTOS / "df_couple.jpg", "couple.jpg")
        zf.writestr("../outside.jpg", b"not an image")
    result = run_cli("predict", video, tmp_path / "party.zip", "--fps", "5")
    assert result.returncode == 2 and "add --out DIR" in result.stderr and result.stdout == ""

    out = tmp_path / "out"
    result = run_cli("predict", video, tmp_path / "broken.webm", tmp_path / "party.zip", "--fps", "5", "--out", out)
    assert result.returncode == 1, result.stderr  # the broken video
    talk, broken, party = json.loads(result.stdout)
    assert talk["sampled_frames"] == 10 and talk["people"] == [1, 2] and talk["frames_with_faces"] == 10
    assert "10/10 frames" in result.stderr and "not a video OpenCV can read" in broken["error"]
    frames = (out / "talk" / "frames.csv").read_text().splitlines()
    assert frames[0].startswith("frame,time,person,x,y,width,height,detector_score,top,angry,") and len(frames) == 16
    assert cv2.VideoCapture(str(out / "talk" / "annotated.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 10
    assert not (out / "broken").exists()
    assert party["faces"] == 2 and party["skipped"][0]["file"] == "../outside.jpg"
    assert (out / "party" / "predictions.csv").exists() and not (tmp_path / "outside.jpg").exists()
    from PIL import Image

    with Image.open(out / "party" / "faces_by_class.png") as grid:  # a row per predicted class, 72-pixel faces
        assert grid.width == 120 + 12 * 72 and grid.height in (86, 172)
    charts = (out / "party" / "charts.html").read_text()
    assert charts.count('class="plotly-graph-div"') == 2 and "faces per predicted class" in charts


@pytest.mark.slow
def test_ensemble_tta_and_model_args_from_the_command_line(finished_run, tmp_path):
    data = json.loads((finished_run / "config.json").read_text())["data"]
    ensemble = tmp_path / "ensemble.keras"
    result = run_cli("ensemble", finished_run, finished_run / "model.keras", "--out", ensemble)
    assert result.returncode == 0 and ensemble.exists(), result.stderr
    scores = {}
    for name, extra in (("plain", [finished_run]), ("ensemble", [ensemble]), ("flip", [finished_run, "--tta", "flip"])):
        result = run_cli("evaluate", "--data", data, "--out", tmp_path / name, "--model", *extra)
        assert result.returncode == 0, result.stderr
        scores[name] = json.loads((tmp_path / name / "metrics.json").read_text())["accuracy"]
    assert scores["ensemble"] == scores["plain"]  # the mean of a model with itself is the model
    result = run_cli("ensemble", finished_run, "--out", tmp_path / "one.keras")
    assert result.returncode == 2 and "at least two" in result.stderr

    result = run_cli("train", "--data", data, "--epochs", "1", "--runs-dir", tmp_path / "runs", "--model", "vgg",
                     "--filters", "4,4,4,4", "--dense-units", "8", "--model-arg", "convs_per_stage=1",
                     "--optimizer", "sgd", "--lr", "0.01", "--lr-schedule", "onecycle", "--class-weight", "sqrt")
    assert result.returncode == 0, result.stderr
    config = json.loads((only_run_dir(tmp_path / "runs") / "config.json").read_text())
    assert config["model_args"] == {"convs_per_stage": 1} and config["optimizer"] == "sgd"
    result = run_cli("train", "--data", data, "--model-arg", "oops", "--runs-dir", tmp_path / "runs2")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_a_missing_extra_is_named_in_one_line_and_the_dashboard_keeps_its_settings_from_any_folder():
    """A base install's ``fer-studio train`` (no Keras) names the extra to install; any other
    missing module stays a bug. ``dashboard`` hands the app's .streamlit/config.toml to Streamlit
    as options (Streamlit reads that file only from the working folder)."""
    from fer_core.cli import missing_extra
    from fer_core.cli.dashboard import app_folder, config_options, streamlit_command

    assert missing_extra(ModuleNotFoundError("No module named 'keras'", name="keras")) == (
        "this command needs keras, which this install lacks: pip install 'fer-studio[train]' "
        "(or the checkout's requirements.txt)")
    assert "[serve]" in missing_extra(ModuleNotFoundError(name="fastapi"))
    assert missing_extra(ModuleNotFoundError(name="no_such_thing")) is None
    folder = app_folder()
    assert (folder / "streamlit_app.py").is_file() and (folder / "pages" / "4_Predict.py").is_file()
    options = config_options(folder)
    assert "--server.maxUploadSize=200" in options and "--server.fileWatcherType=none" in options
    assert "--browser.gatherUsageStats=false" in options and "--client.toolbarMode=viewer" in options
    command = streamlit_command(folder, 8765, "127.0.0.1")
    assert command[1:4] == ["-m", "streamlit", "run"] and command[-2:] == ["--server.port=8765",
                                                                           "--server.address=127.0.0.1"]
