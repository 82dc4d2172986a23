"""The reference CNN of the project's notebook: three conv blocks, a dense layer, 7 outputs.

Each block is Conv2D -> BatchNormalization -> ReLU -> MaxPooling; then Flatten,
Dense(dense_units) -> BatchNormalization -> ReLU with dropout, and a 7-way softmax.

Two measured choices beyond the notebook: without batch norm after the wide dense layer
(4608 -> 256) Adam at 1e-3 stalls at the majority class; and batch-norm momentum 0.9
(not Keras's 0.99) lets the moving statistics settle within short runs, so val accuracy
tracks train accuracy from the first epochs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from fer_core.models.registry import register_model
from fer_core.models.common import BN_MOMENTUM, InputOptions, class_probabilities, face_input


@register_model("reference", tiny={"filters": [4, 8, 8], "dense_units": 8})
def reference_cnn(
    filters: Sequence[int] = (32, 64, 128),
    dense_units: int = 256,
    dropout: float = 0.5,
    inputs: InputOptions = InputOptions(),
) -> keras.Model:
    image, x = face_input(inputs)
    for block, n_filters in enumerate(filters, start=1):
        x = layers.Conv2D(n_filters, 3, padding="same", use_bias=False, name=f"block{block}_conv")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{block}_bn")(x)
        x = layers.ReLU(name=f"block{block}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = class_probabilities(x)
    return keras.Model(image, outputs, name="reference_cnn")
