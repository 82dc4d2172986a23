"""A residual network sized for 48x48 inputs: a 3x3 stem without early downsampling, then
stages of basic blocks (two 3x3 convolutions with batch norm and an identity or 1x1
shortcut), each later stage halving the resolution, global average pooling, dropout, softmax.

``filters`` sets the stage widths, ``blocks_per_stage`` their depth, ``dense_units`` an
optional hidden layer after pooling (0 = none, as in ResNet); the defaults
(64-128-256-512, two blocks each) are a ResNet-18 layout on a 48x48 grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from fer_core.models.registry import register_model
from fer_core.models.common import BN_MOMENTUM, InputOptions, class_probabilities, face_input


def basic_block(x, width: int, stride: int, name: str):
    shortcut = x
    y = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != width:
        shortcut = layers.Conv2D(width, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


@register_model("resnet", tiny={"filters": [4, 8, 8, 16]})
def resnet(
    filters: Sequence[int] = (64, 128, 256, 512),
    blocks_per_stage: int = 2,
    dense_units: int = 0,
    dropout: float = 0.3,
    inputs: InputOptions = InputOptions(),
) -> keras.Model:
    image, x = face_input(inputs)
    x = layers.Conv2D(filters[0], 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, width in enumerate(filters, start=1):
        for block in range(1, blocks_per_stage + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            x = basic_block(x, width, stride, name=f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = class_probabilities(x)
    return keras.Model(image, outputs, name="resnet")
