"""Where a model answers: the CPU or an NVIDIA GPU (``predict``, ``serve`` and cluster workers'
``--device auto|cpu|gpu``).

Why: peers' users ask for GPU inference (deepface#1335, py-feat#107), and until now onnxruntime
was fixed to its CPU provider. What answers on a GPU depends on the file:

- an exported ``.onnx``: onnxruntime's ``CUDAExecutionProvider``, which only the ``onnxruntime-gpu``
  build has (it replaces ``onnxruntime``: the two install the same module, docs/install.md). A
  provider that is there may still fail to start (no NVIDIA driver, missing CUDA libraries):
  onnxruntime then falls back to the CPU on its own, so the check opens a session and asks it.
- a ``.keras`` model: its Keras backend (TensorFlow or JAX), which places work on a GPU it sees by
  itself; ``cpu`` hides the GPUs from a process that has not started its backend yet.
- a ``.tflite``: LiteRT's interpreter, CPU only here (its GPU delegate is for phones).

``cpu`` is the default, as before: nothing changes for a user who does not ask. ``auto`` takes a
GPU where one answers and otherwise says in one line why not (``Device.note``); ``gpu`` without one
is one error.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from fer_core.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "gpu")
CUDA_PROVIDER = "CUDAExecutionProvider"


def onnx_providers(device: str) -> list[str]:
    """onnxruntime's providers for a resolved device, in its order of preference."""
    return [CUDA_PROVIDER, "CPUExecutionProvider"] if device == "gpu" else ["CPUExecutionProvider"]


def why_no_gpu(model: Path) -> str | None:
    """Why ``model`` cannot answer on a GPU in this process, in a few words; None where it can."""
    suffix = model.suffix.lower()
    if suffix == ".tflite":
        return "a .tflite model answers on the CPU only (LiteRT); export it as .onnx for a GPU"
    if suffix == ".onnx":
        return _why_no_onnx_gpu(model)
    return _why_no_keras_gpu()


def _why_no_onnx_gpu(model: Path) -> str | None:
    import onnxruntime as ort

    if CUDA_PROVIDER not in ort.get_available_providers():
        return (f"onnxruntime {ort.__version__} has no CUDA provider: install onnxruntime-gpu in its place "
                "(docs/install.md, 'Answering on a GPU')")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        with warnings.catch_warnings():  # its own "not in available provider names": the answer is below
            warnings.simplefilter("ignore")
            session = ort.InferenceSession(str(model), options, providers=onnx_providers("gpu"))
    except Exception as exc:  # a damaged file is load_exported's to name; here only whether CUDA starts
        return f"onnxruntime's CUDA provider did not start ({type(exc).__name__})"
    if session.get_providers()[0] != CUDA_PROVIDER:
        return "onnxruntime's CUDA provider did not start (no NVIDIA GPU or driver, or its CUDA libraries missing)"
    return None


def _why_no_keras_gpu() -> str | None:
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return "CUDA_VISIBLE_DEVICES hides every GPU"
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return None if any(d.platform == "gpu" for d in jax.devices()) else "JAX sees no GPU (jax[cuda13]: [gpu])"
    if backend == "tensorflow":
        import tensorflow as tf

        return None if tf.config.list_physical_devices("GPU") else "TensorFlow sees no GPU"
    return f"Keras' {backend} backend is not one fer_core places on a GPU"


def check_device(requested: str) -> str:
    """The one check of a device word (a spec is made on one machine and may load on another's
    worker, so the word is checked here and resolved where the model loads)."""
    if requested not in DEVICE_CHOICES:
        raise ConfigError(f"unknown device {requested!r} (expected {', '.join(DEVICE_CHOICES)})")
    return requested


@dataclass(frozen=True)
class Device:
    """Where a model answers, as one resolution found it: ``name`` "cpu" or "gpu"; ``note``, the
    one line ``auto`` says when it fell back to the CPU (None otherwise)."""

    name: str
    note: str | None = None


def resolve_device(requested: str, model: Path) -> Device:
    """``requested`` (auto, cpu or gpu) made where ``model`` answers. ``gpu`` with no GPU for it
    is a ``ConfigError`` that says why; ``auto`` falls back to the CPU, its note saying why."""
    if check_device(requested) == "cpu":
        return Device("cpu")
    reason = why_no_gpu(model)
    if reason is None:
        return Device("gpu")
    if requested == "gpu":
        raise ConfigError(f"--device gpu: {model.name} cannot answer on a GPU here: {reason}")
    return Device("cpu", f"note: --device auto: answering on the CPU ({reason})")


def keep_off_gpus(device: str, model: Path) -> None:
    """For a ``.keras`` model on "cpu": hide the GPUs from Keras' backend, which would otherwise use
    one it sees. Only before the backend has started (an entry point, a fresh worker process):
    afterwards the process keeps the devices it started with."""
    if device != "cpu" or model.suffix.lower() in (".onnx", ".tflite"):
        return
    if "tensorflow" in sys.modules or "jax" in sys.modules:
        return  # started already: its devices are fixed (on a CPU-only machine, nothing to hide)
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
