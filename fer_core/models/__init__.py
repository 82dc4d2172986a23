"""Model registry: one builder per architecture, each in its own file (timm style).

A builder takes keyword hyperparameters and returns an uncompiled ``keras.Model`` mapping
(N, 48, 48, 1) images with pixel values 0-255 to 7 softmax probabilities. Scaling (and
augmentation, which is active only in training) live inside the model, so a saved model
needs no preprocessing code beside it.

- ``registry``: ``register_model``, ``build_model``, ``list_models``, ``tiny_kwargs`` (smallest sizes, for tests).
- ``reference``, ``vgg``, ``resnet``: one architecture each, read top to bottom.
- ``common``: what every architecture starts (input, augmentation, scaling) and ends with;
  ``layers``: registered layers (training crop, TTA views, averaging) for safe-mode loading.

May import: ``fer_core.labels`` and ``fer_core.data.augmentation``. Nothing above.
"""

from __future__ import annotations

from fer_core.models.registry import ModelBuilder, build_model, list_models, register_model, tiny_kwargs  # noqa: F401

# Importing the architecture modules registers them.
from fer_core.models import layers, reference, resnet, vgg  # noqa: E402,F401
