"""Why a face was called what it was: class activation maps over the 48x48 crop, by HiResCAM
(Draelos and Carin, 2020), the Grad-CAM variant (Selvaraju et al., 2017) that multiplies gradient and
activation place by place instead of averaging each channel's gradient first.

For the class asked about (by default the predicted one), the gradient of its score (the logit
before the softmax) with respect to the network's last feature map at 6x6 or finer (the last
convolution stage, before pooling or flattening) is multiplied by that map and summed over
channels; the rectified map is upsampled to 48x48 and scaled to [0, 1]. Warm regions are those
that raised the class's score. Why not plain Grad-CAM: on a synthetic task whose class is the
corner holding a bright patch (tests/evaluation/test_explain.py), channel-averaged weights left
many maps empty or peaking elsewhere (the right corner for 15-95% of faces, depending on the
training seed), HiResCAM found the corner for 100% on every seed tried.

Wrapped models are explained through the networks inside them: a TTA wrapper (or a calibration
layer) through its one network, on the face as given (the unshifted, unmirrored view); an ensemble
by averaging its members' maps. The gradient is taken with the active backend's own autodiff
(TensorFlow, JAX or PyTorch).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from fer_core.errors import DataError, ModelError
from fer_core.labels import CLASSES, IMAGE_SIZE

if TYPE_CHECKING:
    from fer_core.answering.answerer import Answerer

MIN_MAP_SIDE = 6  # finer maps localise better; FER networks reach 6x6 in their last stage
FLAT_HEADS = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


def networks_inside(model: keras.Model) -> list[keras.Model]:
    """The convolutional networks a model answers with: itself, or those nested in it (TTA views,
    ensemble members, a fine-tuned model's body), each once."""
    if any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers):
        return [model]
    found: list[keras.Model] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(n for n in networks_inside(layer) if all(n is not f for f in found))
    return found


def feature_layer(network: keras.Model) -> keras.layers.Layer:
    """The last layer with a spatial map at least MIN_MAP_SIDE wide, before the network flattens."""
    spatial = []
    for layer in network.layers:
        if isinstance(layer, FLAT_HEADS):
            break
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and shape[1] and shape[1] >= MIN_MAP_SIDE:
            spatial.append(layer)
    if not spatial:
        raise ModelError(f"{network.name} has no spatial feature map to explain")
    return spatial[-1]


def class_scores(network: keras.Model, layer: keras.layers.Layer):
    """A function from the feature map to each class's score: the logit before the softmax where
    the network ends in fer_core's ``probabilities`` layer (Grad-CAM's y^c), else log p."""
    try:
        output = network.get_layer("probabilities")
    except ValueError:
        output = None
    if output is not None and isinstance(output, keras.layers.Dense):
        penultimate = keras.Model(layer.output, output.input)
        kernel, bias = output.kernel, output.bias

        def logits(features):
            return keras.ops.matmul(penultimate(features, training=False), kernel) + bias

        return logits
    head = keras.Model(layer.output, network.output)
    return lambda features: keras.ops.log(head(features, training=False) + 1e-12)


def _gradients(scores, features, classes: np.ndarray, n_classes: int):
    """d score(class) / d features, per image, with the backend's autodiff."""
    backend = keras.backend.backend()
    picks = np.eye(n_classes, dtype="float32")[classes]
    if backend == "tensorflow":
        import tensorflow as tf

        features = tf.convert_to_tensor(features)
        with tf.GradientTape() as tape:
            tape.watch(features)
            score = tf.reduce_sum(scores(features) * picks)
        return tape.gradient(score, features).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda f: jnp.sum(scores(f) * picks))(jnp.asarray(features)))
    if backend == "torch":
        import torch

        features = torch.as_tensor(np.asarray(features)).requires_grad_(True)
        (scores(features) * torch.as_tensor(picks)).sum().backward()
        return features.grad.detach().cpu().numpy()
    raise ModelError(f"no gradient for the {backend} backend")


def gradcam_network(network: keras.Model, faces: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM maps (N, 48, 48) in [0, 1] of one network for uint8 faces (N, 48, 48)."""
    layer = feature_layer(network)
    features_of = keras.Model(network.inputs, layer.output)
    x = faces.astype("float32")[..., None]
    with warnings.catch_warnings():  # Keras notes that the input is a tensor, not a dict named 'image'
        warnings.simplefilter("ignore", UserWarning)
        features = np.asarray(features_of(x, training=False))
    grads = _gradients(class_scores(network, layer), features, classes, int(network.output_shape[-1]))
    cams = np.maximum((grads * features).sum(axis=-1), 0.0)  # HiResCAM: gradient x activation at each place
    resized = np.asarray(keras.ops.image.resize(cams[..., None], (IMAGE_SIZE, IMAGE_SIZE),
                                                interpolation="bilinear"))[..., 0]
    peaks = resized.max(axis=(1, 2), keepdims=True)
    return np.where(peaks > 0, resized / np.where(peaks > 0, peaks, 1.0), 0.0).astype("float32")


def gradcam(model: keras.Model, faces: np.ndarray, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(maps (N, 48, 48) in [0, 1], the classes explained): for ``classes`` or, by default, what
    ``model`` predicts; an ensemble's members' maps are averaged."""
    faces = np.asarray(faces)
    if classes is None:
        classes = np.asarray(model.predict_on_batch(faces.astype("float32")[..., None])).argmax(axis=1)
    classes = np.asarray(classes, dtype=int)
    maps = [gradcam_network(network, faces, classes) for network in networks_inside(model)]
    return np.mean(maps, axis=0), classes


def overlay(face: np.ndarray, heat: np.ndarray, alpha: float = 0.45, scale: int = 4) -> np.ndarray:
    """An RGB picture (48*scale square) of the grey face with the heat map over it (blue to red)."""
    from PIL import Image

    grey = np.repeat(face[..., None].astype("float32"), 3, axis=-1)
    colour = np.stack([np.clip(1.5 - np.abs(4 * heat - k), 0, 1) for k in (3, 2, 1)], axis=-1) * 255  # jet-like
    blended = (1 - alpha * heat[..., None]) * grey + alpha * heat[..., None] * colour
    image = Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))
    return np.asarray(image.resize((IMAGE_SIZE * scale, IMAGE_SIZE * scale), Image.Resampling.BILINEAR))


def explain_faces(model: keras.Model, faces: np.ndarray, classes: np.ndarray | None = None,
                  probabilities: np.ndarray | None = None) -> list[dict]:
    """Each 48x48 face explained: its heat-map picture over the face (``overlay``), the class
    explained (``classes``, by default the predicted one) and its probabilities. What the ``explain``
    command, the Predict page and the Results page's gallery all show."""
    from fer_core.runtime.model import predict_probabilities

    if classes is None:
        probabilities = predict_probabilities(model, faces) if probabilities is None else probabilities
        classes = probabilities.argmax(axis=1)
    maps, explained = gradcam(model, faces, classes)
    rows = [None] * len(faces) if probabilities is None else probabilities
    return [{"picture": overlay(face, heat), "class": int(cls), "probabilities": row}
            for face, heat, cls, row in zip(faces, maps, explained, rows)]


def explain_photo(answerer: "Answerer", photo: str | os.PathLike) -> list[dict]:
    """``explain_faces`` for every face found in a photo file as the answerer's spec finds them (its
    detector 'none': the whole photo is one face); each entry also says where the face is (``face``,
    ``box``). ``Answerer.explain`` calls this."""
    from fer_core.faces.images import read_image_file
    from fer_core.media.photos import analyze_photos

    (result,) = analyze_photos(answerer, [(str(photo), read_image_file(photo))])
    if result.error:
        raise DataError(f"{photo}: {result.error}")
    if not result.faces:
        raise DataError(f"no face found in {photo} (try --detector none)")
    with answerer.slot():
        entries = explain_faces(answerer.model, np.stack([f.crop for f in result.faces]))
    for k, (entry, face) in enumerate(zip(entries, result.faces), 1):
        entry.update(face=k, box=None if face.box is None else face.box.box_dict())
    return entries


def explain_dataset_face(model: keras.Model, data: str | os.PathLike, split: str, index: int,
                         cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """``explain_faces`` for face ``index`` of a dataset's split; the entry also names it and its label."""
    from fer_core.data.loaders import load_dataset

    part = load_dataset(data, cache_dir=cache_dir).split(split)
    if not 0 <= index < len(part):
        raise DataError(f"index {index} is outside {split} (0-{len(part) - 1})")
    (entry,) = explain_faces(model, part.images[index:index + 1])
    entry.update(index=index, file=part.files[index], true=CLASSES[part.labels[index]])
    return [entry]


def write_explanations(entries: list[dict], out: Path, model_path: Path) -> list[dict]:
    """Each entry's picture as ``out/face_K.png`` and all of them in ``out/explain.json``; the JSON
    entries (class names, probabilities by class, the picture's file name) are returned."""
    from PIL import Image

    from fer_core.fileio import atomic_path, write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, entry in enumerate(entries, 1):
        with atomic_path(out / f"face_{k}.png") as tmp:
            Image.fromarray(entry["picture"]).save(tmp, format="PNG")
        about = {key: value for key, value in entry.items() if key not in ("picture", "class", "probabilities")}
        written.append({**about, "explained": CLASSES[entry["class"]], "map": f"face_{k}.png",
                        "probabilities": {c: round(float(p), 4) for c, p in zip(CLASSES, entry["probabilities"])}})
    write_json_atomic(out / "explain.json", {"model": str(model_path), "method": "HiResCAM on the class logit",
                                             "faces": written})
    return written
