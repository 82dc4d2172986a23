"""Starting a run from a trained model: fine-tuning and transfer to a user's own faces.

``TrainConfig.init_from`` names the parent (a bundled name such as ``default``, a run folder or a
``.keras`` file), loaded in safe mode. The run trains the parent's network with the run's own
augmentation in front (the parent's in-model augmentation is taken out: its ranges suited the
parent's data, not necessarily this one's).

Freezing (``TrainConfig.freeze``):

* ``body``: everything but the head, the head being the layers after the network's last spatial
  layer (its ``Flatten`` or global pooling): for ``vgg`` the two dense layers and the output, for
  ``resnet`` the output, for the reference CNN the dense layer and the output;
* ``N`` (a number): the first N stages (``stageK_*`` / ``blockK_*`` layers with K <= N, and the
  ResNet stem).

Frozen batch-norm layers run in inference mode (their statistics stay the parent's). With
``unfreeze_after`` K, the frozen layers train too from epoch K + 1, the whole network at
``lr x unfreeze_lr_factor`` (one lower rate for body and head alike: Keras optimizers have no
per-layer rates). A resumed run finds the freeze state in its checkpoint.
"""

from __future__ import annotations

import os
import re
from typing import Any

import keras

from fer_core.data.augmentation import FaceAugment
from fer_core.runtime.cards import ModelCard
from fer_core.runtime.loading import existing_model_path, load_face_model
from fer_core.fileio import file_sha256
from fer_core.labels import IMAGE_SIZE
from fer_core.errors import ModelError

STAGE_NAME = re.compile(r"^(?:stage|block)(\d+)_")
HEAD_STARTS_AFTER = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


def load_parent(model: str | os.PathLike) -> tuple[keras.Model, dict[str, Any]]:
    """The parent model (safe mode, uncompiled) and what a card should record of it.

    A ``ModelError`` with one clear sentence for a missing file, a file Keras cannot load safely, or
    a model that does not map 48x48 grey faces to FER's 7 classes (``loading.load_face_model``)."""
    path = existing_model_path(model, keras_only=True)
    parent = load_face_model(path, label=str(model))
    return parent, ModelCard.read(path).parent_record(str(model), path, file_sha256(path))


def _is_augmentation(layer: keras.layers.Layer) -> bool:
    """The in-model training augmentation: FaceAugment, or the Keras layers fer_core used before it."""
    return isinstance(layer, FaceAugment) or (isinstance(layer, keras.Sequential) and layer.name == "augmentation")


def finetune_model(parent: keras.Model, augmentation: keras.layers.Layer | None) -> keras.Model:
    """The parent's network (its own weights, its augmentation taken out) behind ``augmentation``."""
    body = keras.models.clone_model(
        parent, clone_function=lambda layer: layer,  # the same layers: the parent's weights
        call_function=lambda layer, *args, **kwargs: args[0] if _is_augmentation(layer) else layer(*args, **kwargs))
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    return keras.Model(inputs, body(x), name=f"finetuned_{parent.name}")


def leaf_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model`` in order, nested models opened up."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(leaf_layers(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            found.append(layer)
    return found


def layers_to_freeze(model: keras.Model, freeze: str) -> list[keras.layers.Layer]:
    """The layers ``freeze`` names (see the module docstring); ValueError if it names none."""
    layers = [layer for layer in leaf_layers(model) if not _is_augmentation(layer) and layer.weights]
    if freeze == "none":
        return []
    if freeze == "body":
        everything = leaf_layers(model)
        ends = [i for i, layer in enumerate(everything) if isinstance(layer, HEAD_STARTS_AFTER)]
        if not ends:
            raise ModelError("this model has no Flatten or global pooling layer to tell its body from its head")
        body = set(id(layer) for layer in everything[:ends[-1]])
        return [layer for layer in layers if id(layer) in body]
    stages = int(freeze)
    chosen = [layer for layer in layers if layer.name.startswith("stem_") or
              ((m := STAGE_NAME.match(layer.name)) and int(m.group(1)) <= stages)]
    if not chosen:
        raise ModelError(f"this model has no stage layers (stageK_... or blockK_...) to freeze {stages} of")
    return chosen


def freeze_layers(model: keras.Model, freeze: str) -> int:
    """Freeze what ``freeze`` names; return how many layers."""
    chosen = layers_to_freeze(model, freeze)
    for layer in chosen:
        layer.trainable = False
    return len(chosen)


def frozen_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in leaf_layers(model) if layer.weights and not layer.trainable]


def unfreeze_all(model: keras.Model) -> int:
    """Let every frozen layer train again; return how many were frozen."""
    frozen = frozen_layers(model)
    for layer in frozen:
        layer.trainable = True
    return len(frozen)
