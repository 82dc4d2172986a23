"""``--device auto|cpu|gpu`` on a machine with no GPU (CI's, this one): ``cpu`` as before, ``auto``
falls back to the CPU and says why in one line, ``gpu`` is one error that says why; for an ONNX
file, a Keras file and a LiteRT file, in the library, the CLI and the API's /health."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fer_core.answering.spec import AnswerSpec
from fer_core.errors import ConfigError
from fer_core.runtime.devices import Device, onnx_providers, resolve_device, why_no_gpu
from fer_core.runtime.loading import default_model_path
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, needs_photos

KERAS = default_model_path()


def test_cpu_is_the_default_and_asks_nothing(exported_onnx):
    assert AnswerSpec.resolve(exported_onnx).device == "cpu"
    assert resolve_device("cpu", exported_onnx) == Device("cpu")  # no note
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    assert onnx_providers("gpu") == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_an_onnx_model_without_the_cuda_build_falls_back_or_fails_in_one_line(exported_onnx):
    import onnxruntime as ort

    assert "CUDAExecutionProvider" not in ort.get_available_providers()  # this machine: the CPU build
    assert resolve_device("auto", exported_onnx).name == "cpu"
    assert resolve_device("auto", exported_onnx).note == (
        f"note: --device auto: answering on the CPU (onnxruntime {ort.__version__} has no CUDA provider: install "
        "onnxruntime-gpu in its place (docs/install.md, 'Answering on a GPU'))")
    with pytest.raises(ConfigError, match=rf"^--device gpu: {exported_onnx.name} cannot answer on a GPU here: onnxruntime "):
        resolve_device("gpu", exported_onnx)
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        AnswerSpec.resolve(exported_onnx, device="tpu")


def test_a_cuda_provider_that_does_not_start_counts_as_no_gpu(exported_onnx, monkeypatch):
    """onnxruntime-gpu on a machine with no NVIDIA driver lists the provider, then falls back to
    the CPU by itself; the check opens a session and sees which provider it got."""
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert why_no_gpu(exported_onnx).startswith("onnxruntime's CUDA provider did not start")
    assert resolve_device("auto", exported_onnx).name == "cpu"


def test_a_keras_model_asks_its_backend_and_a_tflite_answers_on_the_cpu_only(monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert why_no_gpu(KERAS) == "TensorFlow sees no GPU"
    assert AnswerSpec.resolve(KERAS, device="auto").load().device == "cpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert why_no_gpu(KERAS) == "CUDA_VISIBLE_DEVICES hides every GPU"
    with pytest.raises(ConfigError, match="a .tflite model answers on the CPU only"):
        resolve_device("gpu", tmp_path / "model.tflite")


def test_the_device_word_travels_to_a_clusters_workers_and_is_resolved_there(exported_onnx):
    """A spec made on a client with no GPU for workers that may have one: the word, not the answer."""
    spec = AnswerSpec.resolve(exported_onnx, device="gpu")  # no error here: nothing loads on this machine
    assert AnswerSpec.from_description(json.loads(json.dumps(spec.describe()))).device == "gpu"
    with pytest.raises(ConfigError, match="--device gpu"):
        spec.load()  # where it loads with no GPU: the one error


@needs_photos
@pytest.mark.parametrize("device", ["auto", "gpu"])
def test_predict_says_where_it_answers_in_one_line(exported_onnx, device):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(SHARED_PHOTOS / "fr_obama.jpg"),
                           "--model", str(exported_onnx), "--device", device], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    if device == "auto":
        assert done.returncode == 0, done.stderr[-2000:]
        assert len([line for line in lines if line.startswith("note: --device auto: answering on the CPU")]) == 1
        assert json.loads(done.stdout)[0]["faces"][0]["top"]
    else:
        assert done.returncode == 2 and lines[-1].startswith(f"error: --device gpu: {exported_onnx.name} cannot answer on a GPU")
        assert done.stdout == ""
