"""Small deterministic layers for test-time augmentation, registered so that models holding
them load in Keras safe mode (no Lambda layers, no code in the file)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fer_core")
class HorizontalFlip(keras.layers.Layer):
    """Mirror images left-right, always (unlike RandomFlip, which is off at inference)."""

    def call(self, images):
        return ops.flip(images, axis=2)


@keras.saving.register_keras_serializable(package="fer_core")
class Shift(keras.layers.Layer):
    """Move images by (dx, dy) pixels, repeating the edge: one view of a multi-crop TTA."""

    def __init__(self, dx: int = 0, dy: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dx, self.dy = int(dx), int(dy)

    def call(self, images):
        pad = max(abs(self.dx), abs(self.dy))
        if pad == 0:
            return images
        height, width = images.shape[1], images.shape[2]
        # Edge padding by repeating the border rows and columns (TensorFlow's pad has no "edge" mode).
        padded = ops.concatenate([ops.repeat(images[:, :1], pad, axis=1), images,
                                  ops.repeat(images[:, -1:], pad, axis=1)], axis=1)
        padded = ops.concatenate([ops.repeat(padded[:, :, :1], pad, axis=2), padded,
                                  ops.repeat(padded[:, :, -1:], pad, axis=2)], axis=2)
        top, left = pad - self.dy, pad - self.dx
        return padded[:, top:top + height, left:left + width, :]

    def get_config(self):
        return {**super().get_config(), "dx": self.dx, "dy": self.dy}


@keras.saving.register_keras_serializable(package="fer_core")
class AverageProbabilities(keras.layers.Layer):
    """Mean of several softmax outputs (a TTA wrapper or an ensemble)."""

    def call(self, inputs):
        return ops.mean(ops.stack(inputs, axis=0), axis=0)
