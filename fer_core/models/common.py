"""What every architecture starts and ends with, so the model files hold only their own design."""

from __future__ import annotations

import keras
from keras import layers

from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.data.augmentation import build_augmentation
from fer_core.models.layers import FaceCrop
from fer_core.errors import ConfigError


def face_input(augment_strength: float, erasing: float, seed: int | None, crop_size: int = 0,
               crop_padding: int = 0, flip: bool = False, photo_style: float = 0.0):
    """The (48, 48, 1) input with pixel values 0-255, training-time augmentation (``FaceAugment``:
    ``augment_strength`` scales flip, rotation, shift, zoom and contrast; ``erasing``; a random
    shift of up to ``crop_padding`` pixels; ``flip``; ``photo_style``, the probability of each
    photo-style degradation), an optional
    ``crop_size`` window of the face (random in training, central at inference; 0 = the whole
    face), and scaling to 0-1; returns (input tensor, tensor to build on)."""
    if not 0 <= crop_size <= IMAGE_SIZE:
        raise ConfigError(f"crop size must be 0 (off) or at most {IMAGE_SIZE}, got {crop_size}")
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    augmentation = build_augmentation(augment_strength, erasing=erasing, seed=seed, shift_pixels=crop_padding,
                                      flip=flip, image_size=IMAGE_SIZE, photo=photo_style)
    if augmentation is not None:
        x = augmentation(x)
    if crop_size and crop_size < IMAGE_SIZE:
        x = FaceCrop(crop_size, seed=seed, name="crop")(x)
    return inputs, layers.Rescaling(1.0 / 255.0, name="scale")(x)


def class_probabilities(x):
    """The 7-way softmax; float32 even under mixed precision (a float16 softmax loses small probabilities)."""
    return layers.Dense(len(CLASSES), activation="softmax", dtype="float32", name="probabilities")(x)
