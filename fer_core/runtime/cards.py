"""Model cards: what a model is and how well it does, from measurements, never by hand.

A card is JSON beside the model file (``card_path``) and, for an ``.onnx`` export, also inside the
file's metadata (so a file that travelled alone keeps it). This module is the one way in and out:

- ``ModelCard.read(path)`` reads the card of a ``.keras`` file, an ``.onnx`` (beside it, else
  embedded), a ``.tflite`` or a SavedModel folder; an empty card when there is none.
- Its properties are the only places a key is spelled for reading; ``OperatingPoint`` is the
  operating point typed.
- Writers go through ``card.with_temperature(...)``, ``card.with_operating_point(...)``,
  ``with_parity(...)`` and ``write(path)`` (atomic); the cards that ``bundle``, ``ensemble``,
  promotion and ``export`` write are composed here (``run_card``, ``ensemble_card``,
  ``promoted_card``, ``export_card``).

Imports only the base modules (and onnxruntime, lazily, for an embedded card), so loading can
read cards without a cycle.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fer_core.errors import ConfigError
from fer_core.fileio import write_json_atomic

# Test-time augmentation (fer_core.runtime.tta): none, the face and its mirror, or both each also
# shifted 2 pixels four ways (10 views). Here, with no Keras import, so the command line lists them.
TTA_MODES = ("none", "flip", "multicrop")
AUTO_TTA = "auto"  # the TTA the model's card ranks best on PublicTest (an export's: the one inside it)

# Exported models (fer_core.export): their card is <file>.json, so that default.onnx's card never
# takes the place of default.keras's default.json in the same folder.
EXPORTED_SUFFIXES = (".onnx", ".tflite")
ONNX_SUFFIX = ".onnx"
CARD_METADATA_KEY = "fer_studio_card"  # an ONNX file's metadata_props entry holding its card


def card_path(model_path: str | os.PathLike) -> Path:
    """Where a model's card is: ``default.keras`` -> ``default.json``; an exported ``default.onnx``
    -> ``default.onnx.json`` (and a SavedModel folder ``saved`` -> ``saved.json``)."""
    path = Path(model_path)
    return path.with_suffix(".json") if path.suffix == ".keras" else path.with_name(path.name + ".json")


def is_exported(path: str | os.PathLike) -> bool:
    """An exported model file (``.onnx``, ``.tflite``): one that answers without TensorFlow, its
    TTA and temperature inside its graph."""
    return Path(path).suffix.lower() in EXPORTED_SUFFIXES


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _embedded_card(path: Path, session=None) -> dict | None:
    """The card in an ONNX file's metadata (read through ``session`` when one is open already)."""
    try:
        if session is None:
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        data = json.loads(session.get_modelmeta().custom_metadata_map.get(CARD_METADATA_KEY, "{}"))
    except Exception:  # a damaged file: loading it says so, in its own words
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- the operating point


@dataclass(frozen=True)
class PointFigures:
    """One side (before, or after cross-fitted) of an operating point's measurement."""

    accuracy: float
    macro_f1: float
    balanced_recall: float
    recall: Mapping[str, float]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "PointFigures":
        return cls(float(record["accuracy"]), float(record["macro_f1"]), float(record["balanced_recall"]),
                   dict(record["recall"]))


@dataclass(frozen=True)
class OperatingPoint:
    """Per-class offsets on the log-probabilities (``fer_core.evaluation.operating_points``), what
    they target, and their cross-fitted figures on the split they were fitted on."""

    offsets: Mapping[str, float]
    target_words: str  # 'fear recall 0.60' or 'balanced recall'
    before: PointFigures
    after: PointFigures  # cross-fitted: fitted on one half of the split, measured on the other
    split: str = "val"
    record: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # as written

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "OperatingPoint":
        return cls(dict(record["offsets"]), str(record["target_words"]), PointFigures.from_record(record["before"]),
                   PointFigures.from_record(record["after_cross_fitted"]), str(record.get("split", "val")),
                   dict(record))

    @classmethod
    def fitted(cls, report: Mapping[str, Any], split: str, data: str, tta: str, how: str) -> "OperatingPoint":
        """A fit's report (``operating_points.cross_fitted``) with where and how it was fitted."""
        return cls.from_record({**report, "split": split, "data": data, "tta": tta, "how": how})

    def words(self) -> str:
        """'fear recall 0.60 (cross-fitted on val: accuracy 70.9% -> 68.1%)'."""
        return (f"{self.target_words} (cross-fitted on {self.split}: accuracy {self.before.accuracy:.1%} -> "
                f"{self.after.accuracy:.1%})")


# --------------------------------------------------------------------------- the card


@dataclass(frozen=True)
class ModelCard:
    """A model's card, typed: what every reader asks of it, with one fallback for a model without
    one (an empty card: no figures, no temperature, no operating point, TTA ranked 'flip').

    ``data`` holds the JSON as written; the properties are the only places its keys are spelled
    out for reading."""

    data: Mapping[str, Any] = field(default_factory=dict)
    exported: bool = False  # an .onnx/.tflite/SavedModel export: its TTA and temperature are inside the graph

    @classmethod
    def read(cls, model_path: str | os.PathLike, session=None) -> "ModelCard":
        """The card of any model file: beside it (``card_path``); for an ``.onnx`` file without one
        beside it, the copy in its metadata (through ``session`` when it is open already). An empty
        card when there is none or it does not parse."""
        path = Path(model_path)
        data = _read_json(card_path(path))
        if data is None and path.suffix.lower() == ONNX_SUFFIX and path.is_file():
            data = _embedded_card(path, session)
        return cls(data or {}, is_exported(path) or path.is_dir())  # a folder: a SavedModel export

    def __bool__(self) -> bool:
        return bool(self.data)

    # ------------------------------------------------------------------ what readers ask

    @property
    def name(self) -> str | None:
        return self.data.get("name")

    @property
    def architecture(self) -> str | None:
        return self.data.get("architecture")

    @property
    def command(self) -> str | None:
        """The command that made the model (training, bundling, exporting)."""
        return self.data.get("command")

    @property
    def hardware(self) -> Any:
        return self.data.get("hardware")

    @property
    def training_seconds(self) -> float | None:
        return self.data.get("training_seconds")

    @property
    def metrics(self) -> dict[str, Any]:
        """The PublicTest metrics without TTA (``bundle``'s measurement); {} when unmeasured."""
        return dict(self.data.get("publictest_metrics") or {})

    @property
    def accuracy(self) -> float | None:
        """PublicTest accuracy as the model answers: an export's with its TTA inside, else without TTA."""
        return self.data.get("publictest_accuracy") or self.metrics.get("accuracy")

    @property
    def accuracy_by_tta(self) -> dict[str, float]:
        return dict(self.data.get("publictest_accuracy_by_tta") or {})

    @property
    def built_in_tta(self) -> str | None:
        """The TTA inside an exported graph; None for a Keras model."""
        return str(self.data.get("tta") or "none") if self.exported else None

    @property
    def temperature(self) -> float | None:
        """The calibration temperature (``calibrate``); None when uncalibrated or exactly 1."""
        value = self.data.get("temperature")
        return float(value) if value and float(value) != 1.0 else None

    @property
    def operating_point(self) -> OperatingPoint | None:
        """The per-class offsets and their cross-fitted figures (``operating-point``), if fitted."""
        record = self.data.get("operating_point")
        return OperatingPoint.from_record(record) if record else None

    @property
    def parity(self) -> dict[str, Any]:
        """An export's agreement with the Keras model it came from ({} for a Keras model)."""
        return dict(self.data.get("parity") or {})

    def best_tta(self) -> str:
        """The test-time augmentation ('none', 'flip' or 'multicrop') that scored highest on
        PublicTest by this card ('flip' without figures). By their cards that is multicrop for the
        default model (71.25% against 70.99% without and 70.55% with flip) and for the quick model
        (69.16 / 66.45 / 68.46). Multicrop classifies 10 views of each face, five times flip's work.
        An exported model's is the one built into it."""
        if self.exported:
            return self.built_in_tta
        by_tta = self.accuracy_by_tta
        return max(by_tta, key=by_tta.get) if by_tta else "flip"

    def answer_tta(self, asked: str | None, label: str) -> str:
        """The one rule that turns a TTA a user asked for into the one a model answers with:
        'auto' -> ``best_tta``; None -> the model as it is (none for a Keras model, the TTA inside
        an export: what ``evaluate`` measures without --tta); a mode is checked; an export answers
        only with the TTA inside it (naming another is the one ``ConfigError`` for it)."""
        if asked == AUTO_TTA:
            return self.best_tta()
        if asked is None:
            return self.built_in_tta if self.exported else "none"
        if asked not in TTA_MODES:
            raise ConfigError(f"TTA must be auto or one of {', '.join(TTA_MODES)}, got '{asked}'")
        if self.exported and asked != self.built_in_tta:
            raise ConfigError(f"{label} was exported with test-time augmentation '{self.built_in_tta}' built in; "
                              f"it cannot run with '{asked}' (export the .keras model again with --tta {asked})")
        return asked

    def parity_words(self) -> str:
        """What an export's card says of it, in one sentence (the CLI prints it; the Results page
        shows it): size, TTA inside, and how it agrees with the Keras model it came from."""
        card, parity = self.data, self.parity
        line = (f"{card['file']}: {card['file_bytes'] / 1e6:.1f} MB, {card['format']}"
                f"{' int8' if card.get('int8') else ''}, TTA {card['tta']}. On {parity['faces']} "
                f"{'PublicTest ' if 'keras_accuracy' in parity else 'random '}faces it gives the Keras model's "
                f"answer for {parity['top1_agreement']:.2%} of them (largest probability difference "
                f"{parity['max_abs_probability_difference']:.2g})")
        if "keras_accuracy" in parity:
            line += (f"; accuracy {parity['exported_accuracy']:.2%} against the Keras model's "
                     f"{parity['keras_accuracy']:.2%}")
        return line + "."

    def parent_record(self, model: str, path: Path, sha256: str) -> dict[str, Any]:
        """What a fine-tuned run's card records of this, its parent's card."""
        return {"model": model, "file": str(path), "sha256": sha256, "architecture": self.architecture,
                "publictest_accuracy": self.metrics.get("accuracy")}

    def member_record(self, source: str) -> dict[str, Any]:
        """What an ensemble's card records of a member that is a bundled model (this its card)."""
        return {"source": source, "architecture": self.architecture, "command": self.command,
                "hardware": self.hardware, "training_seconds": self.training_seconds}

    # ------------------------------------------------------------------ writers

    def named(self, name: str) -> "ModelCard":
        """This card, or a new one called ``name`` when there is none (calibrating a bare model)."""
        return self if self.data else replace(self, data={"name": name})

    def with_temperature(self, report: Mapping[str, Any], split: str, data: str, how: str) -> "ModelCard":
        """The card with a fitted temperature (``analysis.cross_fitted_calibration``'s report)."""
        return self._with(temperature=report["temperature"],
                          calibration={**report, "split": split, "data": data, "how": how})

    def with_operating_point(self, point: OperatingPoint) -> "ModelCard":
        return self._with(operating_point=dict(point.record))

    def with_parity(self, parity: Mapping[str, Any]) -> "ModelCard":
        return self._with(parity=dict(parity))

    def with_file(self, path: Path, size: int, sha256: str | None) -> "ModelCard":
        return self._with(file=path.name, file_bytes=size, file_sha256=sha256)

    def _with(self, **values: Any) -> "ModelCard":
        return replace(self, data={**self.data, **values})

    def write(self, model_path: str | os.PathLike) -> Path:
        """The card beside ``model_path``, written atomically; its path."""
        path = card_path(model_path)
        write_json_atomic(path, dict(self.data))
        return path


# --------------------------------------------------------------------------- the cards fer_core writes


# The terms a card states for weights learnt from FER2013 (docs/licences.md, "The weights"): every
# card bundle, export and adapt write carries them, as the shipped cards do.
WEIGHTS_TERMS = ("code MIT; weights learnt from FER2013, research data published with no licence: fit for "
                 "research, teaching and evaluation; check your own terms before commercial use (docs/licences.md)")


def measured_card(name: str, data: str, out_path: Path, measured: Mapping[str, Mapping[str, Any]],
                  fields: Mapping[str, Any]) -> ModelCard:
    """A bundled model's card: PublicTest metrics without TTA (``publictest_metrics``, what the
    dashboard shows) and per TTA mode (``evaluation.metrics.measure_publictest``), plus how to
    measure them again."""
    return ModelCard({
        "name": name,
        **fields,
        "terms": WEIGHTS_TERMS,
        "publictest_metrics": measured["none"],
        "publictest_metrics_tta": {mode: m for mode, m in measured.items() if mode != "none"},
        "publictest_accuracy_by_tta": {mode: round(m["accuracy"], 4) for mode, m in measured.items()},
        "measured_with": f"python -m fer_core evaluate --data {data} --model {out_path} --split val "
                         "--tta none|flip|multicrop --out DIR",
    })


def run_card(out_path: Path, data: str, measured: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any],
             history: list[dict[str, Any]], training_seconds: float, file_bytes: int) -> ModelCard:
    """The card ``bundle`` writes for a finished run's model: its recipe, provenance and figures."""
    best_epoch = max(history, key=lambda row: row.get("val_accuracy", -1.0))["epoch"] if history else None
    provenance = config.get("provenance", {})
    return measured_card(out_path.stem, data, out_path, measured, {
        "architecture": config.get("model"),
        "hyperparameters": {k: v for k, v in config.items()
                            if k not in ("run_id", "kind", "data", "provenance", "parent_model")},
        "data": "FER2013 Training (28,709 images); epoch chosen on PublicTest (our 'val', 3,589)",
        "epochs": len(history),
        "best_epoch": best_epoch,
        "command": provenance.get("command"),
        "keras_backend": provenance.get("keras_backend"),
        "keras_version": provenance.get("keras_version"),
        "hardware": provenance.get("hardware"),
        "training_seconds": training_seconds,
        "wall_seconds": config.get("wall_seconds"),
        "parent_model": config.get("parent_model"),  # a fine-tuned run's starting point, else None
        "source_run": config.get("run_id"),
        "file_bytes": file_bytes,
    })


def ensemble_card(out_path: Path, data: str, measured: Mapping[str, Mapping[str, Any]], members: list[dict],
                  command: str, file_bytes: int) -> ModelCard:
    """The card of an ensemble of runs or bundled models: each member's provenance and accuracy."""
    training = [m["training_seconds"] for m in members]
    return measured_card(out_path.stem, data, out_path, measured, {
        "architecture": "ensemble (mean of the members' probabilities)",
        "members": members,
        "data": "FER2013 Training (28,709 images); members chosen on PublicTest (our 'val', 3,589)",
        "command": command,
        "training_seconds": round(sum(training), 1) if None not in training else None,
        "file_bytes": file_bytes,
    })


def run_member_record(config: Mapping[str, Any], folder_name: str, training_seconds: float) -> dict[str, Any]:
    """What an ensemble's card records of a member that is a run folder (its ``config.json``)."""
    provenance = config.get("provenance", {})
    return {"source": config.get("run_id", folder_name), "architecture": config.get("model"),
            "command": provenance.get("command"), "hardware": provenance.get("hardware"),
            "training_seconds": training_seconds}


def member_figures(measured: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A member's own PublicTest accuracy with and without TTA, as an ensemble card records it."""
    return {"publictest_accuracy_by_tta": {mode: round(m["accuracy"], 4) for mode, m in measured.items()}}


def promoted_card(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> ModelCard:
    """A promoted run's card: the run's own val report (``metrics.json``), nothing measured again."""
    provenance = config.get("provenance", {})
    return ModelCard({
        "name": f"promoted from {config.get('run_id')}",
        "architecture": config.get("model"),
        "hyperparameters": {k: v for k, v in config.items() if k not in ("run_id", "kind", "provenance")},
        "publictest_metrics" if metrics.get("split") == "val" else f"{metrics.get('split')}_metrics": dict(metrics),
        "source_run": config.get("run_id"),
        "command": provenance.get("command"),
        "keras_backend": provenance.get("keras_backend"),
        "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def adapted_card(out_path: Path, parent: Mapping[str, Any], architecture: str | None, adaptation: Mapping[str, Any],
                 measured: Mapping[str, Mapping[str, Any]], data: str | None, command: str,
                 file_bytes: int) -> ModelCard:
    """An adapted model's card (``fer_core.training.adapt``): its parent, what it learnt from (the
    photos' content hash and counts), its cross-validated and PublicTest figures, the command.
    No temperature or operating point: the parent's were fitted to the parent's answers."""
    fields = {"architecture": architecture, "adapted_from": dict(parent), "adaptation": dict(adaptation),
              "data": f"adapted on {adaptation['faces']} "
                      f"{'unlabelled faces (batch-norm statistics only)' if adaptation.get('zero_label') else 'labelled faces'}"
                      " of your photos"
                      + (f", replaying {adaptation['replay_faces']:,} FER2013 Training faces" if adaptation["replay_faces"]
                         else ""),
              "command": command, "file_bytes": file_bytes}
    if measured:
        return measured_card(out_path.stem, data or "", out_path, measured, fields)
    return ModelCard({"name": out_path.stem, **fields, "terms": WEIGHTS_TERMS})


def export_card(source: Path, source_card: ModelCard, *, sha256: str, format: str, int8: bool, tta: str,
                classes: list[str], input_shape: tuple, options: Mapping[str, Any], command: str, faces_from: str,
                exported_at: str, keras_version: str) -> ModelCard:
    """An export's card, from the card of the ``.keras`` file it came from (``fer_core.export``)."""
    source_data = source_card.data
    return ModelCard({
        "name": source_card.name or source.stem,
        "format": format,
        "int8": int8,
        "classes": list(classes),
        "input": {"shape": [None, *input_shape], "dtype": "float32",
                  "pixels": "grey, 0-255, a 48x48 face crop framed as fer_core.faces.cropping frames it"},
        "output": {"shape": [None, len(classes)], "meaning": "class probabilities, in 'classes' order"},
        "tta": tta,
        "temperature": source_data.get("temperature"),
        "operating_point": source_data.get("operating_point"),  # not inside the graph: applied when asked
        "publictest_accuracy": source_card.accuracy_by_tta.get(tta),
        "publictest_metrics_without_tta": source_data.get("publictest_metrics"),
        "source": {"name": source.name, "sha256": sha256, "architecture": source_card.architecture,
                   "command": source_card.command},
        "command": command,
        "parity_faces": faces_from,
        "options": dict(options),
        "exported_at": exported_at,
        "keras_version": keras_version,
        "terms": source_data.get("terms", WEIGHTS_TERMS),
    }, exported=True)
