"""Exported models (ONNX through onnxruntime, LiteRT) run without TensorFlow or Keras.

An exported file (``python -m fer_core export``, ``fer_core.export``) maps float32
(N, 48, 48, 1) grey pixels 0-255 to the 7 class probabilities, with its test-time augmentation
and calibration temperature inside. Its card travels with it: in the ONNX file's metadata
(``metadata_props["fer_studio_card"]``) and as ``<file>.json`` beside it (docs/export.md).

Why a runtime of our own: ``import tensorflow`` alone takes about 2.5 s on the 2-core machine and
the install is several hundred MB; onnxruntime imports in 0.2 s from a 20 MB wheel
(docs/performance.md, "Exported models"). This module imports only numpy at the top, so the
Predict paths, the CLI's ``predict`` and ``serve`` run in ``requirements-runtime.txt``.
``threads``: onnxruntime's intra-op threads, a value the caller hands down (0: its default)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.errors import ModelError, first_line
from fer_core.runtime.cards import EXPORTED_SUFFIXES, ModelCard
from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.runtime.model import INPUT_SHAPE


ONNX_SUFFIX, LITERT_SUFFIX = EXPORTED_SUFFIXES


@dataclass
class ExportedModel:
    """An exported face model, used like a Keras model by every Predict path (``predict_on_batch``,
    ``input_shape``, ``output_shape``, ``name``). ``card``: what the export wrote (classes, TTA,
    temperature, PublicTest metrics, source hash, command), read once as it loaded."""

    path: Path
    card: ModelCard
    input_shape: tuple = (None, *INPUT_SHAPE)
    output_shape: tuple = (None, len(CLASSES))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def tta(self) -> str:
        return self.card.built_in_tta

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxModel(ExportedModel):
    """An ``.onnx`` file through onnxruntime (its CPU provider, or CUDA's on a GPU). One session
    serves every thread (onnxruntime's ``run`` is thread-safe), so it needs no lock."""

    def __init__(self, path: Path, session, card: ModelCard):
        super().__init__(path, card)
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]


class LiteRTModel(ExportedModel):
    """A ``.tflite`` file through LiteRT's interpreter (ai-edge-litert, already installed for
    BlazeFace). An interpreter holds one input size at a time and is not thread-safe: resized
    per batch size, under a lock."""

    def __init__(self, path: Path, interpreter, card: ModelCard):
        super().__init__(path, card)
        self.interpreter = interpreter
        self.input_index = interpreter.get_input_details()[0]["index"]
        self.output_index = interpreter.get_output_details()[0]["index"]
        self.batch = None

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            if self.batch != len(x):
                self.interpreter.resize_tensor_input(self.input_index, [len(x), *INPUT_SHAPE])
                self.interpreter.allocate_tensors()
                self.batch = len(x)
            self.interpreter.set_tensor(self.input_index, np.ascontiguousarray(x, dtype=np.float32))
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output_index).copy()


def load_exported(path: str | os.PathLike, label: str | None = None, threads: int = 0,
                  card: ModelCard | None = None, device: str = "cpu") -> ExportedModel:
    """An ``.onnx`` or ``.tflite`` face model, checked: it must load, take (N, 48, 48, 1) and give 7
    outputs. A damaged or foreign file is a ``ModelError`` in one line. ``threads``: onnxruntime's
    intra-op threads (0: its own choice, all cores); ``card``: the file's card when the caller has
    read it already (else it is read here, an ONNX file's from its open session); ``device``: "cpu"
    or "gpu" (onnxruntime's CUDA provider; ``runtime.devices``), resolved by the caller."""
    path = Path(path)
    label = label or path.name
    try:
        if path.suffix.lower() == ONNX_SUFFIX:
            model = _load_onnx(path, threads, card, device)
        elif path.suffix.lower() == LITERT_SUFFIX:
            model = _load_litert(path, card)
        else:
            raise ModelError(f"{label}: expected an exported .onnx or .tflite model")
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime and LiteRT raise their own kinds for a damaged file
        raise ModelError(f"{label}: not a model onnxruntime or LiteRT can load ({type(exc).__name__}: "
                         f"{first_line(exc)})") from None
    _check_shapes(model, label)
    return model


def _load_onnx(path: Path, threads: int, card: ModelCard | None, device: str = "cpu") -> OnnxModel:
    import onnxruntime as ort

    from fer_core.runtime.devices import onnx_providers

    options = ort.SessionOptions()
    options.log_severity_level = 3  # its warnings are about graph optimisations, not the user's file
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=onnx_providers(device))
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path.name}: has {len(inputs)} inputs and {len(outputs)} outputs; a face model has one "
                         f"of each")
    model = OnnxModel(path, session, card if card is not None else ModelCard.read(path, session))
    model.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
    model.output_shape = tuple(d if isinstance(d, int) else None for d in outputs[0].shape)
    return model


def _load_litert(path: Path, card: ModelCard | None) -> LiteRTModel:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path.name}: has {len(inputs)} inputs and {len(outputs)} outputs; a face model has one "
                         f"of each")
    model = LiteRTModel(path, interpreter, card if card is not None else ModelCard.read(path))
    model.input_shape = (None, *(int(d) for d in inputs[0]["shape_signature"][1:]))
    model.output_shape = (None, *(int(d) for d in outputs[0]["shape_signature"][1:]))
    return model


def _check_shapes(model: ExportedModel, label: str) -> None:
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or tuple(model.output_shape[1:]) != (len(CLASSES),):
        raise ModelError(f"{label}: maps inputs of shape {model.input_shape} to outputs of shape "
                         f"{model.output_shape}; FER Studio models map ({IMAGE_SIZE}, {IMAGE_SIZE}, 1) grey faces "
                         f"to the {len(CLASSES)} classes ({', '.join(CLASSES)})")
