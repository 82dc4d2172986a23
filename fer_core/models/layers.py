"""Small layers of our own, registered so that models holding them load in Keras safe mode (no
Lambda layers, no code in the file): the training crop, and the views of test-time augmentation."""

from __future__ import annotations

import keras
from fer_core.errors import ConfigError
from keras import ops


@keras.saving.register_keras_serializable(package="fer_core")
class FaceCrop(keras.layers.Layer):
    """A ``size`` x ``size`` window of the face: a random one for each image in training, the
    centre one at inference.

    Training on crops costs (size / 48)^2 of the full face's compute, and shifts the face by up
    to (48 - size) / 2 pixels each way, the random-crop augmentation in one step. Models keep
    taking 48x48 faces.
    """

    def __init__(self, size: int = 40, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size, self.seed = int(size), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        height, width = images.shape[1], images.shape[2]
        if self.size > min(height, width):
            raise ConfigError(f"crop size {self.size} is larger than the {height}x{width} input")
        if not training:
            top, left = (height - self.size) // 2, (width - self.size) // 2
            return images[:, top:top + self.size, left:left + self.size, :]
        batch = ops.shape(images)[0]
        tops = keras.random.randint((batch, 1), 0, height - self.size + 1, seed=self.seed_generator)
        lefts = keras.random.randint((batch, 1), 0, width - self.size + 1, seed=self.seed_generator)
        steps = ops.arange(self.size, dtype="int32")[None, :]
        rows = ops.cast(tops, "int32") + steps  # (batch, size)
        cols = ops.cast(lefts, "int32") + steps
        rows = ops.broadcast_to(rows[:, :, None, None], (batch, self.size, width, images.shape[3]))
        images = ops.take_along_axis(images, rows, axis=1)
        cols = ops.broadcast_to(cols[:, None, :, None], (batch, self.size, self.size, images.shape[3]))
        return ops.take_along_axis(images, cols, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed}


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


@keras.saving.register_keras_serializable(package="fer_core")
class Temperature(keras.layers.Layer):
    """softmax(log p / T) of probabilities p: temperature scaling, the calibration that
    ``python -m fer_core calibrate`` fits and stores in a model's card."""

    def __init__(self, temperature: float = 1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def call(self, probabilities):
        return ops.softmax(ops.log(ops.maximum(probabilities, 1e-12)) / self.temperature, axis=-1)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
