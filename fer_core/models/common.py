"""What every architecture starts and ends with, so the model files hold only their own design."""

from __future__ import annotations

from dataclasses import dataclass, fields

import keras
from keras import layers

from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.data.augmentation import build_augmentation
from fer_core.models.layers import FaceCrop
from fer_core.errors import ConfigError

# Batch norm's moving-average momentum, one value for every architecture (the shipped models were
# trained with it; Keras's own default is 0.99).
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class InputOptions:
    """What every architecture's input does, one set of options for all of them (``build_model``
    hands them to the builder as ``inputs``): training-time augmentation (``FaceAugment``:
    ``augment_strength`` scales flip, rotation, shift, zoom and contrast; ``erasing``; a random shift
    of up to ``crop_padding`` pixels; ``flip``; ``photo_style``, the probability of each photo-style
    degradation), an optional ``crop_size`` window of the face (random in training, central at
    inference; 0 = the whole face), and the augmentation's ``seed``."""

    augment_strength: float = 0.0
    erasing: float = 0.0
    photo_style: float = 0.0
    crop_size: int = 0
    crop_padding: int = 0
    flip: bool = False
    seed: int | None = None

    @classmethod
    def take(cls, kwargs: dict) -> "InputOptions":
        """The input's options out of a builder's keyword arguments (removed from ``kwargs``)."""
        return cls(**{f.name: kwargs.pop(f.name) for f in fields(cls) if f.name in kwargs})


def face_input(options: InputOptions = InputOptions()):
    """The (48, 48, 1) input with pixel values 0-255, its training-time augmentation and crop
    (``InputOptions``), and scaling to 0-1; returns (input tensor, tensor to build on)."""
    if not 0 <= options.crop_size <= IMAGE_SIZE:
        raise ConfigError(f"crop size must be 0 (off) or at most {IMAGE_SIZE}, got {options.crop_size}")
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    augmentation = build_augmentation(options.augment_strength, erasing=options.erasing, seed=options.seed,
                                      shift_pixels=options.crop_padding, flip=options.flip, image_size=IMAGE_SIZE,
                                      photo=options.photo_style)
    if augmentation is not None:
        x = augmentation(x)
    if options.crop_size and options.crop_size < IMAGE_SIZE:
        x = FaceCrop(options.crop_size, seed=options.seed, name="crop")(x)
    return inputs, layers.Rescaling(1.0 / 255.0, name="scale")(x)


def class_probabilities(x):
    """The 7-way softmax; float32 even under mixed precision (a float16 softmax loses small probabilities)."""
    return layers.Dense(len(CLASSES), activation="softmax", dtype="float32", name="probabilities")(x)
