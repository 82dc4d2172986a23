"""Exporting a model for use without FER Studio: ONNX (float32 or int8), LiteRT, TensorFlow SavedModel.

The exported graph is the model as Predict runs it, for inference only:
- training augmentation removed (``FaceAugment`` and ``Random*`` layers become identities);
- the test-time augmentation the card ranks best on PublicTest (or ``tta``) inside, so an app
  gets the bundled model's 71.25% (multicrop) rather than 70.99%;
- the calibration temperature of the card inside, so probabilities mean what they say.

Input: float32 (N, 48, 48, 1), grey pixels 0-255 (a face crop as ``fer_core.faces.detectors``
makes it); output: (N, 7) probabilities in ``CLASSES`` order. The card (classes, input format,
TTA, temperature, PublicTest metrics of the source model, its SHA-256, the command, a parity
check) goes into the ONNX file's metadata and into ``<file>.json`` beside every format
(docs/export.md).

Every export is checked against the Keras graph before it is kept: on PublicTest faces when a
dataset is given (the first ``PARITY_FACES``), else on seeded random faces. int8 uses
onnxruntime's static quantizer (QDQ, per-channel weights) calibrated on ``CALIBRATION_FACES``
seeded Training faces; on PublicTest it is measured against float32 by
``benchmarks/bench_runtime.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.errors import ConfigError, ModelError, first_line
from fer_core.fileio import atomic_path, file_sha256
from fer_core.runtime.cards import CARD_METADATA_KEY, TTA_MODES, ModelCard, export_card
from fer_core.runtime.exported import LITERT_SUFFIX, ONNX_SUFFIX, load_exported
from fer_core.runtime.model import INPUT_SHAPE, predict_probabilities
from fer_core.labels import CLASSES
from fer_core.settings import child_process_env



@dataclass(frozen=True)
class ExportFormat:
    """One row of the export-format registry: the CLI's and the Results page's name for it, what
    it writes (a file suffix, or "" for a folder), Keras's name for it in ``Model.export``, whether
    onnxruntime's int8 quantizer applies, and what runs it (``GET /v1/model`` says so)."""

    name: str
    suffix: str
    keras_format: str
    int8: bool
    runtime: str


EXPORT_FORMAT_REGISTRY: dict[str, ExportFormat] = {entry.name: entry for entry in (
    ExportFormat("onnx", ONNX_SUFFIX, "onnx", int8=True, runtime="onnxruntime"),
    ExportFormat("litert", LITERT_SUFFIX, "litert", int8=False, runtime="litert"),
    ExportFormat("savedmodel", "", "tf_saved_model", int8=False, runtime="tensorflow"),
)}
EXPORT_FORMATS = tuple(EXPORT_FORMAT_REGISTRY)
FORMAT_SUFFIXES = {entry.name: entry.suffix for entry in EXPORT_FORMAT_REGISTRY.values()}


def runtime_of(path: str | os.PathLike) -> str:
    """What runs the model file at ``path``: 'onnxruntime', 'litert', or 'keras' for a .keras file."""
    suffix = Path(path).suffix.lower()
    return next((entry.runtime for entry in EXPORT_FORMAT_REGISTRY.values() if entry.suffix and entry.suffix == suffix),
                "keras")
CALIBRATION_FACES = 512
PARITY_FACES = 512
PARITY_SEED = 0
FLOAT_AGREEMENT = 0.999  # a float32 export's top-1 agreement with Keras below this is a broken conversion


@dataclass(frozen=True)
class ExportOptions:
    """What ``export_model`` writes. ``tta`` 'auto': the card's best on PublicTest; ``data``: a
    dataset whose Training faces calibrate int8 and whose PublicTest faces check parity."""

    format: str = "onnx"
    int8: bool = False
    tta: str = "auto"
    data: str | None = None

    def resolved_tta(self, source: str | os.PathLike) -> str:
        """The TTA that goes into the graph: ``tta``, or for 'auto' the card's best on PublicTest."""
        return ModelCard.read(source).answer_tta(self.tta, Path(source).name)

    def check(self, out: str | os.PathLike) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ConfigError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got '{self.format}'")
        if self.tta not in ("auto", *TTA_MODES):
            raise ConfigError(f"TTA must be auto or one of {', '.join(TTA_MODES)}, got '{self.tta}'")
        if self.int8 and not EXPORT_FORMAT_REGISTRY[self.format].int8:
            raise ConfigError("--int8 is for --format onnx (onnxruntime's quantizer)")
        if self.int8 and not self.data:
            raise ConfigError("--int8 needs --calibration-data: a dataset whose Training faces set the int8 ranges")
        suffix = FORMAT_SUFFIXES[self.format]
        if suffix and Path(out).suffix.lower() != suffix:
            raise ConfigError(f"a {self.format} export is a {suffix} file; got --out {out}")
        if not suffix and Path(out).suffix:
            raise ConfigError(f"a savedmodel export is a folder; got --out {out}")


def export_arguments(model: str | os.PathLike, out: str | os.PathLike, options: ExportOptions) -> list[str]:
    """The arguments of ``python -m fer_core export`` that make this export."""
    parts = [str(model), "--format", options.format, "--out", str(out)]
    if options.tta != "auto":
        parts += ["--tta", options.tta]
    if options.int8:
        parts.append("--int8")
    if options.data:
        parts += ["--calibration-data", str(options.data)]
    return parts


def export_command(model: str | os.PathLike, out: str | os.PathLike, options: ExportOptions) -> str:
    """The command line that makes this export (recorded in its card; the dashboard shows it)."""
    return " ".join(["python -m fer_core export", *export_arguments(model, out, options)])


def default_export_path(model_path: Path, options: ExportOptions, folder: Path) -> Path:
    """``folder/default-multicrop-int8.onnx``: where the dashboard puts an export."""
    tta = options.resolved_tta(model_path)
    name = f"{model_path.parent.name if model_path.stem == 'model' else model_path.stem}-{tta}"
    return folder / f"{name}{'-int8' if options.int8 else ''}{FORMAT_SUFFIXES[options.format]}"


def export_model(model: str | os.PathLike, out: str | os.PathLike, options: ExportOptions = ExportOptions(),
                 command: str | None = None, cache_dir: str | os.PathLike | None = None) -> ModelCard:
    """Export ``model`` (a .keras file, run folder, 'default' or a bundled name) to ``out``; returns
    the card written beside it (``cache_dir``: where ``options.data`` is decoded, the entry point's). Refuses, in one line: a model that cannot be exported, bad options."""
    import keras

    from fer_core.runtime.loading import existing_model_path, inference_graph, safe_load

    out = Path(out)
    options.check(out)
    source = existing_model_path(model, keras_only=True)
    if keras.backend.backend() != "tensorflow":
        return _export_under_tensorflow(model, out, options)
    source_card = ModelCard.read(source)
    tta = options.resolved_tta(source)
    graph = inference_graph(strip_augmentation(safe_load(source)), source_card, tta, calibrated=True)
    faces, labels, faces_from = _parity_faces(options.data, cache_dir)
    reference = predict_probabilities(graph, faces)  # also the first call, which export needs
    card = export_card(source, source_card, sha256=file_sha256(source), format=options.format, int8=options.int8,
                       tta=tta, classes=list(CLASSES), input_shape=INPUT_SHAPE, options=asdict(options),
                       command=command or export_command(model, out, options), faces_from=faces_from,
                       exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       keras_version=keras.__version__)
    what = (source.name, options.format)
    if options.format == "savedmodel":
        card = _export_savedmodel(graph, out, card, what, faces, reference, labels)
    else:
        with atomic_path(out) as tmp:
            _export_file(graph, tmp, options, what, cache_dir)
            card = card.with_parity(_parity(load_exported(tmp, out.name), faces, reference, labels))
            _refuse_broken(card, what)
            if options.format == "onnx":
                _write_onnx_metadata(tmp, card)
    card = card.with_file(out, _size(out), file_sha256(out) if out.is_file() else None)
    card.write(out)
    return card


def _export_under_tensorflow(model: str | os.PathLike, out: Path, options: ExportOptions) -> ModelCard:
    """Export in a child process under ``KERAS_BACKEND=tensorflow``, on the CPU, and return its card.

    Every converter used here is TensorFlow's (tf2onnx, the LiteRT converter, SavedModel); under JAX,
    as on a GPU machine (``scripts/dashboard.sh --gpu``), Keras 3.15 refuses LiteRT and wants another
    package (jax2onnx) for ONNX. A model file is the same under either backend, so the export is made
    where the converters are; it takes a few seconds more (a fresh process imports TensorFlow)."""
    result = subprocess.run([sys.executable, "-m", "fer_core", "export", *export_arguments(model, out, options)],
                            env=child_process_env(KERAS_BACKEND="tensorflow"), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["(nothing on stderr)"]
        said = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        raise ModelError(said[-1] if said else f"the export under TensorFlow failed (exit status "
                                               f"{result.returncode}): {lines[-1]}")
    return ModelCard.read(out)


def strip_augmentation(model):
    """A copy of ``model`` whose training augmentation layers are identities (same weights,
    shared): augmentation is off at inference anyway, but left in it would put its random ops
    and their branches into the exported graph."""
    import keras

    from fer_core.data.augmentation import FaceAugment

    def augments(layer) -> bool:
        if isinstance(layer, FaceAugment) or type(layer).__name__.startswith("Random"):
            return True
        return isinstance(layer, keras.Sequential) and bool(layer.layers) and all(augments(x) for x in layer.layers)

    if not any(augments(layer) for layer in model.layers):
        return model
    try:
        return keras.models.clone_model(
            model, clone_function=lambda layer: keras.layers.Identity(name=layer.name) if augments(layer) else layer)
    except Exception as exc:  # a subclassed model has no graph to rewrite
        raise ModelError(f"{model.name}: its augmentation layers cannot be removed for export "
                         f"({type(exc).__name__}: {first_line(exc)})") from None


def _parity_faces(data: str | None, cache_dir: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    if data:
        from fer_core.data.loaders import load_dataset

        val = load_dataset(data, cache_dir=cache_dir).split("val")
        return val.images[:PARITY_FACES], val.labels[:PARITY_FACES], f"the first {min(PARITY_FACES, len(val))} " \
                                                                     f"PublicTest (val) faces of {data}"
    rng = np.random.default_rng(PARITY_SEED)
    return rng.integers(0, 256, (256, *INPUT_SHAPE[:2]), dtype=np.uint8), None, \
        f"256 random faces (seed {PARITY_SEED}; give --calibration-data to check on real faces)"


def _calibration_faces(data: str, cache_dir: str | os.PathLike | None) -> np.ndarray:
    from fer_core.data.loaders import load_dataset

    train = load_dataset(data, cache_dir=cache_dir).split("train")
    pick = np.random.default_rng(PARITY_SEED).choice(len(train), size=min(CALIBRATION_FACES, len(train)),
                                                     replace=False)
    return train.images[np.sort(pick)]


def _export_file(graph, path: Path, options: ExportOptions, what: tuple[str, str],
                 cache_dir: str | os.PathLike | None) -> None:
    try:
        if options.int8:
            float_path = path.with_name(path.name + ".float.onnx")
            try:
                graph.export(str(float_path), format="onnx", verbose=False)
                _quantize(float_path, path, _calibration_faces(options.data, cache_dir))
            finally:
                float_path.unlink(missing_ok=True)
        else:
            graph.export(str(path), format=EXPORT_FORMAT_REGISTRY[options.format].keras_format, verbose=False)
    except (ModelError, ConfigError):
        raise
    except Exception as exc:  # tf2onnx and the LiteRT converter raise many kinds for an unsupported op
        raise _not_exportable(what, exc) from None


def _not_exportable(what: tuple[str, str], exc: Exception) -> ModelError:
    source, format = what
    return ModelError(f"{source}: cannot be exported to {format} ({type(exc).__name__}: {first_line(exc)})")


def _quantize(float_path: Path, out: Path, faces: np.ndarray) -> None:
    """int8 with onnxruntime's static quantizer: QDQ nodes, per-channel weights, activation ranges
    from ``faces`` (MinMax). ``quant_pre_process`` folds batch norm first; its symbolic shape
    inference fails on Keras's dynamic batch dimension, hence ``skip_symbolic_shape``.

    The softmax stays float: quantized, its probabilities came out in steps of 1/255 (0.239216 =
    61/255), for 5% more speed (2,088 against 1,976 faces/s at batch 256; the same 70.83% on
    PublicTest, against float32's 70.99%)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Faces(CalibrationDataReader):
        def __init__(self, name: str):
            self.batches = iter([{name: faces[k:k + 32].astype("float32")[..., None]}
                                 for k in range(0, len(faces), 32)])

        def get_next(self):
            return next(self.batches, None)

    import onnx

    prepared = float_path.with_name(float_path.name + ".pre.onnx")
    try:
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared)).graph
        softmax = [node.name for node in graph.node if node.op_type == "Softmax"]
        quantize_static(str(prepared), str(out), Faces(graph.input[0].name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=softmax)
    finally:
        prepared.unlink(missing_ok=True)


def _export_savedmodel(graph, out: Path, card: ModelCard, what: tuple[str, str], faces: np.ndarray,
                       reference: np.ndarray, labels: np.ndarray | None) -> ModelCard:
    """A SavedModel folder (its ``serve`` signature), swapped in whole: the old folder, if any, is
    replaced only once the new one is written and checked."""
    staging = out.with_name(f".{out.name}.{os.urandom(6).hex()}")
    try:
        try:
            graph.export(str(staging), format=EXPORT_FORMAT_REGISTRY["savedmodel"].keras_format, verbose=False)
        except Exception as exc:
            raise _not_exportable(what, exc) from None
        card = card.with_parity(_parity(_SavedModel(staging), faces, reference, labels))
        _refuse_broken(card, what)
        (staging / "fer_studio_card.json").write_text(json.dumps(dict(card.data), indent=2))
        old = out.with_name(f".{out.name}.old-{os.urandom(6).hex()}")
        if out.exists():
            os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card


class _SavedModel:
    """A SavedModel's ``serve`` function, with ``predict_on_batch`` for the parity check."""

    def __init__(self, path: Path):
        import tensorflow as tf

        self.loaded = tf.saved_model.load(str(path))  # kept: its variables live as long as it does
        self.serve = self.loaded.serve
        self.name = path.name
        self.input_shape, self.output_shape = (None, *INPUT_SHAPE), (None, len(CLASSES))

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.serve(x))


def _parity(exported, faces: np.ndarray, reference: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
    """How the export agrees with the Keras graph: top-1 agreement, the largest probability
    difference and, on labelled faces, both accuracies. A float32 export that disagrees on more
    than 1 face in 1,000 is refused (a broken conversion, not rounding)."""
    answers = predict_probabilities(exported, faces)
    parity = {"faces": int(len(faces)),
              "top1_agreement": float((answers.argmax(1) == reference.argmax(1)).mean()),
              "max_abs_probability_difference": float(np.abs(answers - reference).max())}
    if labels is not None:
        parity.update(keras_accuracy=float((reference.argmax(1) == labels).mean()),
                      exported_accuracy=float((answers.argmax(1) == labels).mean()))
    return parity


def _refuse_broken(card: ModelCard, what: tuple[str, str]) -> None:
    parity = card.parity
    if not card.data["int8"] and parity["top1_agreement"] < FLOAT_AGREEMENT:
        raise ModelError(f"{what[0]}: the {what[1]} export agrees with Keras on only "
                         f"{parity['top1_agreement']:.1%} of {parity['faces']} faces; not written")


def _write_onnx_metadata(path: Path, card: ModelCard) -> None:
    import onnx

    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    onnx.helper.set_model_props(graph, {CARD_METADATA_KEY: json.dumps(dict(card.data)), "classes": ",".join(CLASSES)})
    graph.producer_name = "FER Studio"
    onnx.save(graph, str(path))


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
