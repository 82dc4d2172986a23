"""Running a model on faces: ``predict_probabilities`` for any model, and exported models (ONNX
through onnxruntime, LiteRT) run without TensorFlow or Keras.

An exported file (``python -m fer_core export``, ``fer_core.inference.export``) maps float32
(N, 48, 48, 1) grey pixels 0-255 to the 7 class probabilities, with its test-time augmentation
and calibration temperature inside. Its card travels with it: in the ONNX file's metadata
(``metadata_props["fer_studio_card"]``) and as ``<file>.json`` beside it (docs/export.md).

Why a runtime of our own: ``import tensorflow`` alone takes about 2.5 s on the 2-core machine and
the install is several hundred MB; onnxruntime imports in 0.2 s from a 20 MB wheel
(docs/performance.md, "Exported models"). This module imports only numpy at the top, so the
Predict paths, the CLI's ``predict`` and ``serve`` run in ``requirements-runtime.txt``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fer_core.errors import ModelError, first_line
from fer_core.inference.cards import EXPORTED_SUFFIXES, card_path
from fer_core.labels import CLASSES, IMAGE_SIZE

ONNX_SUFFIX, LITERT_SUFFIX = EXPORTED_SUFFIXES
CARD_METADATA_KEY = "fer_studio_card"
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


@runtime_checkable
class FaceModel(Protocol):
    """What every Predict path asks of a model: a Keras model, an ``ExportedModel`` (ONNX,
    LiteRT), one with operating-point offsets (``operating_points.WithOffsets``) and a SavedModel
    export (``export``'s parity check) all have it. Maps float32 (N, 48, 48, 1) pixels 0-255 to
    (N, 7) probabilities in ``CLASSES`` order."""

    name: str
    input_shape: tuple
    output_shape: tuple

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray: ...


def is_exported(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in EXPORTED_SUFFIXES


def predict_probabilities(model: FaceModel, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for uint8 (N, 48, 48) images, through a Keras model or an ``ExportedModel``.

    Batch by batch through ``predict_on_batch``, which reuses the model's compiled predict step:
    ``model.predict`` builds a data pipeline and callbacks on every call, about 50 ms on the
    2-core machine, which for the one or two faces of a photo was nearly all of the time
    (docs/performance.md, "The Predict page")."""
    x = images.astype("float32")[..., None]
    if len(x) == 0:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float64)
    chunks = [np.asarray(model.predict_on_batch(x[k:k + batch_size]), dtype=np.float64)
              for k in range(0, len(x), batch_size)]
    return np.concatenate(chunks)


@dataclass
class ExportedModel:
    """An exported face model, used like a Keras model by every Predict path (``predict_on_batch``,
    ``input_shape``, ``output_shape``, ``name``). ``card``: what the export wrote (classes, TTA,
    temperature, PublicTest metrics, source hash, command)."""

    path: Path
    card: dict[str, Any]
    input_shape: tuple = (None, *INPUT_SHAPE)
    output_shape: tuple = (None, len(CLASSES))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def tta(self) -> str:
        return str(self.card.get("tta", "none"))

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxModel(ExportedModel):
    """An ``.onnx`` file through onnxruntime's CPU provider. One session serves every thread
    (onnxruntime's ``run`` is thread-safe), so it needs no lock."""

    def __init__(self, path: Path, session, card: dict[str, Any]):
        super().__init__(path, card)
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]


class LiteRTModel(ExportedModel):
    """A ``.tflite`` file through LiteRT's interpreter (ai-edge-litert, already installed for
    BlazeFace). An interpreter holds one input size at a time and is not thread-safe: resized
    per batch size, under a lock."""

    def __init__(self, path: Path, interpreter, card: dict[str, Any]):
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


def read_exported_card(path: str | os.PathLike, session=None) -> dict[str, Any]:
    """The card beside an exported file (``<file>.json``); for ONNX, the copy in its metadata when
    the file travelled alone (read through ``session`` when it is already open). ``{}`` when
    neither is there."""
    try:
        return json.loads(card_path(path).read_text())
    except (OSError, ValueError):
        pass
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        try:
            if session is None:
                import onnxruntime as ort

                session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            return json.loads(session.get_modelmeta().custom_metadata_map.get(CARD_METADATA_KEY, "{}"))
        except Exception:  # a damaged file: load_exported says so
            return {}
    return {}


def load_exported(path: str | os.PathLike, label: str | None = None) -> ExportedModel:
    """An ``.onnx`` or ``.tflite`` face model, checked: it must load, take (N, 48, 48, 1) and give 7
    outputs. A damaged or foreign file is a ``ModelError`` in one line."""
    path = Path(path)
    label = label or path.name
    try:
        if path.suffix.lower() == ONNX_SUFFIX:
            model = _load_onnx(path)
        elif path.suffix.lower() == LITERT_SUFFIX:
            model = _load_litert(path)
        else:
            raise ModelError(f"{label}: expected an exported .onnx or .tflite model")
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime and LiteRT raise their own kinds for a damaged file
        raise ModelError(f"{label}: not a model onnxruntime or LiteRT can load ({type(exc).__name__}: "
                         f"{first_line(exc)})") from None
    _check_shapes(model, label)
    return model


def _load_onnx(path: Path) -> OnnxModel:
    import onnxruntime as ort

    from fer_core.settings import Settings

    options = ort.SessionOptions()
    options.log_severity_level = 3  # its warnings are about graph optimisations, not the user's file
    threads = Settings.load().cpu_threads
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path.name}: has {len(inputs)} inputs and {len(outputs)} outputs; a face model has one "
                         f"of each")
    model = OnnxModel(path, session, read_exported_card(path, session))
    model.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
    model.output_shape = tuple(d if isinstance(d, int) else None for d in outputs[0].shape)
    return model


def _load_litert(path: Path) -> LiteRTModel:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path.name}: has {len(inputs)} inputs and {len(outputs)} outputs; a face model has one "
                         f"of each")
    model = LiteRTModel(path, interpreter, read_exported_card(path))
    model.input_shape = (None, *(int(d) for d in inputs[0]["shape_signature"][1:]))
    model.output_shape = (None, *(int(d) for d in outputs[0]["shape_signature"][1:]))
    return model


def _check_shapes(model: ExportedModel, label: str) -> None:
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or tuple(model.output_shape[1:]) != (len(CLASSES),):
        raise ModelError(f"{label}: maps inputs of shape {model.input_shape} to outputs of shape "
                         f"{model.output_shape}; FER Studio models map ({IMAGE_SIZE}, {IMAGE_SIZE}, 1) grey faces "
                         f"to the {len(CLASSES)} classes ({', '.join(CLASSES)})")
