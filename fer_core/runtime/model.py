"""What every Predict path asks of a model (``FaceModel``) and the one way to run one on faces
(``predict_probabilities``): a Keras model, an exported ``ExportedModel`` (ONNX, LiteRT), one with
operating-point offsets (``offsets.WithOffsets``) and a SavedModel export all answer through it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from fer_core.labels import IMAGE_SIZE


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
