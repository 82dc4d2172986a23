"""A VGG-style network for 48x48 faces, in the spirit of the tuned VGG that reached 73.3% on
FER2013's PrivateTest (Khaireddin and Chen, 2021): four stages of paired 3x3 convolutions with
batch norm and ReLU, each ending in max pooling and dropout; then two dense layers.

``filters`` sets the stage widths (four by default; fewer stages make a smaller, faster net),
``convs_per_stage`` the depth of each stage: one number for all, or one per stage (the CPU
``quick`` preset puts its second convolutions in the cheap low-resolution stages).
``stage_dropout`` is dropout after each pooling; with TensorFlow's oneDNN kernels off its random
masks on the large early feature maps cost about half the CPU step time (with them on, about
a tenth); the quick preset sets 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from fer_core.models.registry import register_model
from fer_core.models.common import BN_MOMENTUM, InputOptions, class_probabilities, face_input
from fer_core.errors import ConfigError


@register_model("vgg", tiny={"filters": [4, 8, 8, 16], "dense_units": 8})
def vgg_net(
    filters: Sequence[int] = (64, 128, 256, 512),
    convs_per_stage: int | Sequence[int] = 2,
    dense_units: int = 512,
    dropout: float = 0.4,
    stage_dropout: float = 0.1,
    inputs: InputOptions = InputOptions(),
) -> keras.Model:
    depths = [convs_per_stage] * len(filters) if isinstance(convs_per_stage, int) else list(convs_per_stage)
    if len(depths) != len(filters) or min(depths) < 1:
        raise ConfigError(f"convs_per_stage must be a positive number or one per stage ({len(filters)}), "
                         f"got {convs_per_stage}")
    image, x = face_input(inputs)
    for stage, (width, depth) in enumerate(zip(filters, depths), start=1):
        for conv in range(1, depth + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{stage}_conv{conv}")(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"stage{stage}_bn{conv}")(x)
            x = layers.ReLU(name=f"stage{stage}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        if stage_dropout:
            x = layers.Dropout(stage_dropout, name=f"stage{stage}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    for k in (1, 2):
        x = layers.Dense(dense_units, use_bias=False, name=f"dense{k}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"dense{k}_bn")(x)
        x = layers.ReLU(name=f"dense{k}_relu")(x)
        x = layers.Dropout(dropout, name=f"dense{k}_dropout")(x)
    outputs = class_probabilities(x)
    return keras.Model(image, outputs, name="vgg")
