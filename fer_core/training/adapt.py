"""Adapting a model to a user's own labelled photos in about a minute, without forgetting FER2013.

What it does, in order (``adapt``):

1. **Faces**: each labelled photo is answered as the Predict page answers it (``evaluate_photos``
   with the user's ``AnswerSpec``: detector, framing), and the labelled face's 48x48 crop is kept.
   A photo where no face is found is listed, not used. Each class the user labelled needs
   ``MIN_FACES_PER_CLASS`` faces (a class seen once cannot be cross-validated).
2. **Features, once**: the model is cut after its body (its last ``Flatten`` or global pooling);
   the body is frozen, so its features are computed once for the user's faces and their mirror
   images, a replay sample of FER2013 Training faces, and PublicTest (about 5,700 faces through
   the default model's body: most of the minute on 2 cores). Only the head's dense layers
   learn (its batch-norm layers keep their statistics), so each fit takes about a second on 2
   cores and a k-fold cross-validation costs little more than one fit.
3. **Fit**: the head, from the parent's weights, on the user's faces (mirrors included) mixed with
   the replay faces, the user's faces holding ``user_share`` of the loss, at a small learning rate
   for a few epochs: the replay and the frozen body keep what the model knew
   (``benchmarks/bench_adapt.py`` chose these values; docs/results.md has its figures).
4. **Honest figures**: before/after accuracy on the user's own labels by stratified k-fold
   cross-validation (each face scored by a head that never saw it), without TTA and with flip;
   the PublicTest accuracy before and after, without TTA (with flip would double the minute).
5. **A model with a card**: the parent with its new head, saved atomically, and a card naming
   the parent (file and SHA-256), the photos' content hash and counts, the figures, the command.

An exported ``.onnx``/``.tflite`` has no weights to fine-tune: the error says to use the
``.keras``. The folds shrink to what the time budget leaves room for (fewer than 2: not measured,
said so).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from fer_core.data.dataset import FERDataset, Split
from fer_core.data.photo_files import open_photo_set
from fer_core.errors import DataError, ModelError
from fer_core.evaluation.metrics import compute_metrics
from fer_core.evaluation.photo_evaluation import evaluate_photos
from fer_core.fileio import file_sha256
from fer_core.labels import CLASSES, IMAGE_SIZE
from fer_core.runtime.cards import ModelCard, adapted_card
from fer_core.runtime.loading import existing_model_path, load_face_model
from fer_core.training.config import AdaptOptions

if TYPE_CHECKING:
    import keras

    from fer_core.answering.answerer import Answerer
    from fer_core.data.archives import ArchiveLimits

MIN_FACES_PER_CLASS = 2
ADAPT_TTA = ("none", "flip")  # the TTAs the user's faces are scored with (features of a face and its mirror)


@dataclass
class LabelledFaces:
    """The faces a user labelled, as the model sees them."""

    crops: np.ndarray  # (n, 48, 48) uint8
    labels: np.ndarray  # (n,) class indices
    names: list[str]
    photos: int  # labelled photos read
    missed: list[str]  # labelled photos (or faces) where no face was found
    content_sha256: str  # of the labelled photos' bytes and their labels

    def counts(self) -> dict[str, int]:
        return {CLASSES[k]: int(n) for k, n in enumerate(np.bincount(self.labels, minlength=len(CLASSES))) if n}


@dataclass
class AdaptReport:
    """What adapting did and measured; ``record()`` is what the card keeps."""

    source_model: str
    out: Path
    faces: int
    faces_per_class: dict[str, int]
    photos: int
    missed: list[str]
    content_sha256: str
    replay_faces: int
    replay_data: str | None
    folds: int
    cross_validated: dict[str, dict[str, float]] = field(default_factory=dict)  # tta -> before/after accuracy
    publictest: dict[str, dict[str, float]] = field(default_factory=dict)  # tta -> before/after accuracy
    seconds: float = 0.0
    options: AdaptOptions = field(default_factory=AdaptOptions)
    zero_label: bool = False  # AdaBN on unlabelled faces only (``adapt_without_labels``)

    def record(self) -> dict[str, Any]:
        return {"source_model": self.source_model, "faces": self.faces, "faces_per_class": self.faces_per_class,
                "photos": self.photos, "photos_without_face": len(self.missed),
                "content_sha256": self.content_sha256, "replay_faces": self.replay_faces,
                "replay_data": self.replay_data, "folds": self.folds,
                "cross_validated_accuracy": self.cross_validated, "publictest_accuracy": self.publictest,
                "seconds": round(self.seconds, 1), "options": asdict(self.options), "zero_label": self.zero_label}

    def lines(self) -> list[str]:
        """The report in sentences, for the command line and the page."""
        counts = ", ".join(f"{c} {n}" for c, n in self.faces_per_class.items())
        what = "unlabelled faces (AdaBN: batch-norm statistics only)" if self.zero_label else f"faces ({counts})"
        lines = [f"adapted {self.source_model} on {self.faces} {what} from {self.photos} photos "
                 f"in {self.seconds:.0f} s -> {self.out}"]
        if self.missed:
            lines.append(f"no face found in {len(self.missed)}: {', '.join(self.missed[:5])}"
                         + (" ..." if len(self.missed) > 5 else ""))
        if self.options.renormalize and not self.zero_label:
            lines.append("batch-norm statistics re-estimated on all your faces first (their pixels, not their labels; "
                         "held-out folds' faces too)")
        if self.zero_label:
            lines.append("no labels: nothing to cross-validate on your photos")
        elif self.cross_validated:
            figures = "; ".join(f"{tta}: {v['before']:.1%} -> {v['after']:.1%}" for tta, v in self.cross_validated.items())
            lines.append(f"your labels, {self.folds}-fold cross-validated (no face scored by a model that saw it): "
                         f"{figures}")
        else:
            lines.append("your labels: not cross-validated (too few faces a class, or no time left in the budget)")
        if self.publictest:
            figures = "; ".join(f"{tta}: {v['before']:.2%} -> {v['after']:.2%}" for tta, v in self.publictest.items())
            lines.append(f"PublicTest ({self.replay_data}): {figures}")
        else:
            lines.append("PublicTest: not measured (no FER2013 dataset to replay and measure on)")
        return lines


def labelled_faces(answerer: "Answerer", source: str | os.PathLike | BinaryIO,
                   labels_file: str | os.PathLike | None = None,
                   progress: Callable[[int, int], None] | None = None) -> LabelledFaces:
    """The labelled faces of a photo set (class folders, a labels file, or the corrections folder),
    each found and framed by ``answerer`` (its spec: detector, margin) as Predict frames it. ``DataError``, one line each, for: no
    face found in any photo, a class with fewer than ``MIN_FACES_PER_CLASS`` faces (and, from
    ``evaluate_photos``, a class name that is not one of the seven)."""
    evaluation = evaluate_photos(answerer, source, labels_file, progress=progress)
    answered = evaluation.answered
    if not answered:
        raise DataError(f"no face found in any of the {len(evaluation.answers)} labelled photos: try another "
                        "detector, or check that they show faces")
    labels = np.array([a.label for a in answered])
    few = {CLASSES[k]: int(n) for k, n in enumerate(np.bincount(labels, minlength=len(CLASSES)))
           if 0 < n < MIN_FACES_PER_CLASS}
    if few:
        raise DataError(f"too few labelled faces for {', '.join(f'{c} ({n})' for c, n in few.items())}: label at least "
                        f"{MIN_FACES_PER_CLASS} faces of each class you label, or take that class out")
    crops = np.stack([np.asarray(a.face.crop, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE) for a in answered])
    return LabelledFaces(crops, labels, [a.name for a in answered], len({a.name for a in evaluation.answers}),
                         [a.name for a in evaluation.missed], _content_hash(source, evaluation.answers))


def _content_hash(source, answers) -> str:
    """SHA-256 over the labelled photos' bytes, names, labels and boxes, in name order: what names
    the photos an adapted model learnt from."""
    digest = hashlib.sha256()
    if hasattr(source, "seek"):
        source.seek(0)
    wanted = {a.name for a in answers}
    with open_photo_set(source) as collection:
        reads = dict(collection.photos)
        for name in sorted(wanted):
            digest.update(name.encode() + b"\0" + hashlib.sha256(reads[name]()).digest())
    for a in sorted(answers, key=lambda a: (a.name, a.box or ())):
        digest.update(f"{a.name}|{a.label}|{a.box}".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- body and head


def split_body_and_head(model: "keras.Model") -> tuple["keras.Model", list["keras.layers.Layer"]]:
    """The model cut after its last ``Flatten``/global pooling: the body (input -> features) and
    the head's layers, in order. A ``ModelError`` when there is no such layer at the top level or
    the head is not a plain chain (checked on the output: head(body(x)) must equal model(x))."""
    import keras

    from fer_core.training.finetune import HEAD_STARTS_AFTER

    ends = [i for i, layer in enumerate(model.layers) if isinstance(layer, HEAD_STARTS_AFTER)]
    if not ends:
        raise ModelError("this model has no Flatten or global pooling layer at its top level to tell its body from "
                         "its head, so it cannot be adapted (a fine-tuned run's model: adapt its parent)")
    body = keras.Model(model.inputs, model.layers[ends[-1]].output, name="adapt_body")
    head_layers = model.layers[ends[-1] + 1:]
    probe = np.random.default_rng(0).uniform(0, 255, (2, IMAGE_SIZE, IMAGE_SIZE, 1)).astype("float32")
    through = probe_head(head_layers, body.predict(probe, verbose=0))
    if not np.allclose(through, model.predict(probe, verbose=0), atol=1e-4):
        raise ModelError("this model's head is not a plain chain of layers after its body, so it cannot be adapted")
    return body, head_layers


def renormalize(model: "keras.Model", images: np.ndarray) -> int:
    """AdaBN (Li et al. 2016): every top-level batch norm's moving mean and variance re-estimated,
    in order, on ``images`` (48x48 grey faces; their pixels only, no labels), each on the inputs
    the already re-estimated layers before it give. Returns how many layers."""
    import keras

    x = images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype("float32")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        inputs = keras.Model(model.inputs, layer.input).predict(x, batch_size=256, verbose=0)
        axes = tuple(range(inputs.ndim - 1))
        layer.moving_mean.assign(inputs.mean(axis=axes))
        layer.moving_variance.assign(inputs.var(axis=axes))
    return len(norms)


def probe_head(layers: list, features: np.ndarray) -> np.ndarray:
    x = features
    for layer in layers:
        x = layer(x, training=False)
    return np.asarray(x)


def face_features(body: "keras.Model", images: np.ndarray, mirrored: bool = True) -> tuple[np.ndarray, ...]:
    """The body's features of 48x48 grey faces, and (``mirrored``) of their mirror images."""
    x = images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype("float32")
    plain = body.predict(x, batch_size=256, verbose=0)
    return (plain, body.predict(x[:, :, ::-1], batch_size=256, verbose=0)) if mirrored else (plain,)


class HeadFitter:
    """The head as a model of its own over the features, refitted from the parent's weights."""

    def __init__(self, head_layers: list, feature_size: int, options: AdaptOptions) -> None:
        import keras

        for layer in head_layers:
            layer.trainable = isinstance(layer, keras.layers.Dense)  # batch norm keeps the parent's statistics
        self.model = keras.Sequential([keras.Input((feature_size,)), *head_layers], name="adapt_head")
        self.initial = self.model.get_weights()
        self.options = options

    def fit(self, user: tuple[np.ndarray, np.ndarray], user_labels: np.ndarray,
            replay: tuple[np.ndarray, np.ndarray] | None) -> None:
        """From the parent's weights: the user's faces (and mirrors) and the replay faces."""
        import keras

        options = self.options
        keras.utils.set_random_seed(options.seed)
        self.model.set_weights(self.initial)
        x_user = np.concatenate(user)
        y_user = np.concatenate([user_labels, user_labels])
        if replay is not None and len(replay[0]):
            x_replay, y_replay = replay
            user_weight = options.user_share * len(x_replay) / ((1 - options.user_share) * len(x_user))
            x = np.concatenate([x_user, x_replay])
            y = np.concatenate([y_user, y_replay])
            weights = np.concatenate([np.full(len(x_user), user_weight), np.ones(len(x_replay))]).astype("float32")
        else:
            x, y, weights = x_user, y_user, np.ones(len(x_user), dtype="float32")
        weights *= len(weights) / weights.sum()  # mean weight 1: the learning rate means the same either way
        self.model.compile(optimizer=keras.optimizers.Adam(options.learning_rate),
                           loss="sparse_categorical_crossentropy", steps_per_execution=16)
        self.model.fit(x, y, sample_weight=weights, epochs=options.epochs, batch_size=options.batch_size,
                       shuffle=True, verbose=0)

    def reset(self) -> None:
        self.model.set_weights(self.initial)

    def probabilities(self, features: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        """Per TTA in ``ADAPT_TTA``: the face alone, and (given its mirror's features) the mean with
        its mirror."""
        plain = self.model.predict(features[0], batch_size=1024, verbose=0)
        if len(features) == 1:
            return {"none": plain}
        return {"none": plain, "flip": (plain + self.model.predict(features[1], batch_size=1024, verbose=0)) / 2}


# --------------------------------------------------------------------------- adapt


def replay_sample(train: Split, count: int, seed: int) -> Split:
    """``count`` Training faces drawn at random (FER2013's own class mix)."""
    rng = np.random.default_rng(seed)
    return train.subset(np.sort(rng.choice(len(train), size=min(count, len(train)), replace=False)))


def replay_splits(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                  limits: "ArchiveLimits | None" = None) -> tuple[Split | None, Split | None]:
    """FER2013's Training (replayed) and PublicTest (measured) from the dataset at ``path`` (each
    None where the dataset has no such split); ``cache_dir``, ``limits``: the entry point's."""
    from fer_core.data.loaders import load_dataset

    return replay_splits_of(load_dataset(path, cache_dir=cache_dir, limits=limits))


def replay_splits_of(dataset: FERDataset) -> tuple[Split | None, Split | None]:
    """A loaded dataset's Training and PublicTest splits (None where it has none)."""
    return dataset.splits.get("train"), dataset.splits.get("val")


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def adapt(model: str | os.PathLike, faces: LabelledFaces, out: str | os.PathLike, *,
          train: Split | None = None, val: Split | None = None, replay_data: str | None = None,
          options: AdaptOptions | None = None, command: str = "",
          progress: Callable[[str], None] | None = None) -> AdaptReport:
    """Adapt ``model`` (a ``.keras`` file, run folder or bundled name) to ``faces`` and write the
    adapted ``.keras`` and its card to ``out``; ``train``/``val``: FER2013 Training (the replay)
    and PublicTest (the figure), None to go without. Returns the report."""
    options = options or AdaptOptions()
    say = progress or (lambda _text: None)
    started = time.monotonic()
    budget = options.time_budget_minutes * 60
    path = existing_model_path(model, keras_only=True)  # an export: "this needs the .keras model it was exported from"
    parent = load_face_model(path, label=str(model))
    parent_card = ModelCard.read(path)
    if options.renormalize:
        say("re-estimating the batch-norm statistics on your faces")
        renormalize(parent, np.concatenate([faces.crops, faces.crops[:, :, ::-1]]))
    body, head_layers = split_body_and_head(parent)
    say("computing the features of your faces, the replay faces and PublicTest")
    user = face_features(body, faces.crops)
    replay_split = replay_sample(train, options.replay_faces, options.seed) if train is not None and \
        options.replay_faces else None
    replay = (face_features(body, replay_split.images, mirrored=False)[0], replay_split.labels) \
        if replay_split is not None else None
    val_features = face_features(body, val.images, mirrored=False) if val is not None else None
    fitter = HeadFitter(head_layers, user[0].shape[1], options)
    before_val = fitter.probabilities(val_features) if val_features is not None else None

    say("cross-validating on your labels")
    folds, cross_validated = _cross_validate(fitter, user, faces.labels, replay, options, started, budget)

    say("fitting the head on all your faces")
    fitter.fit(user, faces.labels, replay)
    measured, publictest = {}, {}
    if val_features is not None:
        after_val = fitter.probabilities(val_features)
        measured = {tta: compute_metrics(val.labels, p, "val") for tta, p in after_val.items()}
        publictest = {tta: {"before": _accuracy(before_val[tta], val.labels),
                            "after": _accuracy(p, val.labels)} for tta, p in after_val.items()}
    report = AdaptReport(str(model), Path(out), len(faces.labels), faces.counts(), faces.photos, faces.missed,
                         faces.content_sha256, len(replay_split) if replay_split is not None else 0, replay_data,
                         folds, cross_validated, publictest, time.monotonic() - started, options)
    return _save_adapted(parent, path, parent_card, report, measured, command)  # the head's weights now adapted


def _save_adapted(parent: "keras.Model", path: Path, parent_card: ModelCard, report: AdaptReport,
                  measured: dict, command: str) -> AdaptReport:
    """The adapted model, written atomically to ``report.out``, and its card beside it."""
    from fer_core.runtime.saving import save_inference_model

    report.out.parent.mkdir(parents=True, exist_ok=True)
    save_inference_model(parent, report.out)
    adapted_card(report.out, parent_card.parent_record(report.source_model, path, file_sha256(path)),
                 parent_card.architecture, report.record(), measured, report.replay_data, command,
                 report.out.stat().st_size).write(report.out)
    return report


def _cross_validate(fitter: HeadFitter, user: tuple[np.ndarray, np.ndarray], labels: np.ndarray,
                    replay, options: AdaptOptions, started: float, budget: float) -> tuple[int, dict]:
    """Stratified k-fold before/after accuracy on the user's faces; k is ``options.folds``, fewer
    when a class has fewer faces or the time budget (one fit timed first) leaves less room."""
    from sklearn.model_selection import StratifiedKFold

    before = fitter.probabilities(user)
    folds = min(options.folds, int(np.bincount(labels)[np.unique(labels)].min()))
    if folds < 2:
        return 0, {}
    after = {tta: np.zeros_like(p) for tta, p in before.items()}
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=options.seed).split(labels, labels))
    for k, (fit_on, held_out) in enumerate(splits):
        fold_started = time.monotonic()
        fitter.fit((user[0][fit_on], user[1][fit_on]), labels[fit_on], replay)
        for tta, p in fitter.probabilities((user[0][held_out], user[1][held_out])).items():
            after[tta][held_out] = p
        fit_seconds = time.monotonic() - fold_started
        left = budget - (time.monotonic() - started)
        if k == 0 and left < fit_seconds * len(splits):  # the rest and the final fit would overrun the budget
            fitter.reset()
            return 0, {}
    fitter.reset()
    return folds, {tta: {"before": _accuracy(before[tta], labels), "after": _accuracy(after[tta], labels)}
                   for tta in before}


# --------------------------------------------------------------------------- zero-label (AdaBN)

MIN_ZERO_LABEL_FACES = 50  # below it the statistics are noisy: 20 faces cost 0.6 points on PublicTest
ZERO_LABEL_SAMPLE = 2000  # more faces than this: a random 2,000 (1,000 cost nothing on PublicTest)


def unlabelled_faces(answers: list) -> tuple[np.ndarray, str]:
    """The 48x48 crops of every face in ``answers`` (``(name, FaceResult)`` pairs, as
    ``CollectionAnalysis.faces`` holds them) and a SHA-256 over the names and crops."""
    digest = hashlib.sha256()
    for name, face in answers:
        digest.update(name.encode() + b"\0" + np.ascontiguousarray(face.crop, dtype=np.uint8).tobytes())
    crops = np.stack([np.asarray(f.crop, dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE) for _, f in answers]) \
        if answers else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return crops, digest.hexdigest()


def adapt_without_labels(model: str | os.PathLike, crops: np.ndarray, out: str | os.PathLike, *, photos: int,
                         content_sha256: str, val: Split | None = None, replay_data: str | None = None,
                         command: str = "", seed: int = 0,
                         progress: Callable[[str], None] | None = None) -> AdaptReport:
    """Zero-label adaptation: ``model`` with every batch norm's statistics re-estimated on a
    collection's faces (AdaBN, ``renormalize``), its weights unchanged, written with a card to
    ``out``; PublicTest before/after when ``val`` is given. On the degraded-PublicTest proxy
    (``benchmarks/bench_adapt.py``) it gains +5.3 points from 1,000 faces at no PublicTest cost,
    the same gain from 50-100 faces at -0.3. ``DataError`` below ``MIN_ZERO_LABEL_FACES``."""
    if len(crops) < MIN_ZERO_LABEL_FACES:
        raise DataError(f"{len(crops)} faces found: adapting without labels needs at least {MIN_ZERO_LABEL_FACES} "
                        "(fewer give noisy statistics that cost accuracy)")
    say = progress or (lambda _text: None)
    started = time.monotonic()
    path = existing_model_path(model, keras_only=True)
    parent = load_face_model(path, label=str(model))
    parent_card = ModelCard.read(path)

    def predict(images: np.ndarray) -> np.ndarray:
        return parent.predict(images[..., None].astype("float32"), batch_size=256, verbose=0)

    before = predict(val.images) if val is not None else None
    pick = np.random.default_rng(seed).permutation(len(crops))[:ZERO_LABEL_SAMPLE]
    say(f"re-estimating the batch-norm statistics on {len(pick)} of your faces")
    renormalize(parent, crops[pick])
    measured, publictest = {}, {}
    if val is not None:
        say("measuring PublicTest before and after")
        after = predict(val.images)
        measured = {"none": compute_metrics(val.labels, after, "val")}
        publictest = {"none": {"before": _accuracy(before, val.labels), "after": _accuracy(after, val.labels)}}
    report = AdaptReport(str(model), Path(out), len(crops), {}, photos, [], content_sha256, 0, replay_data, 0, {},
                         publictest, time.monotonic() - started, AdaptOptions(renormalize=True, seed=seed),
                         zero_label=True)
    return _save_adapted(parent, path, parent_card, report, measured, command)
