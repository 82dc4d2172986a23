"""How a face model answers: one frozen ``AnswerSpec`` that the Predict page, videos, photo
collections, the live camera, ``serve``, ``predict`` and ``fer_core.predict_*`` all take.

Before it, the same six values (model, TTA, calibrated, operating point, detector, margin)
travelled as loose parameters through about ten functions, and the rules that turn a user's words
into them ("auto" TTA, detector "none") were written in four places each. Here they are resolved
once (``AnswerSpec.resolve``), and every path finds, crops and classifies faces through the spec's
own methods (``find_faces``, ``crop``, ``load``, ``warm``), so a new answering knob is one field
plus its use in one of those methods: ``tests/inference/test_answering.py`` adds a ``min_face_px``
filter that way and sees it reach photos, videos, the live camera and the API.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.data.detection import (DEFAULT_DETECTOR, DEFAULT_MARGIN, DEFAULT_SHIFT_Y, DETECT_MAX_SIDE, WHOLE_IMAGE,
                                     FaceBox,
                                     check_detector, crop_face, detect_faces, get_detector)
from fer_core.data.images import image_to_face_array
from fer_core.errors import ConfigError
from fer_core.inference.cards import TTA_MODES, ModelCard, card_path
from fer_core.inference.runtime import is_exported, read_exported_card
from fer_core.labels import IMAGE_SIZE

if TYPE_CHECKING:
    from PIL import Image

    from fer_core.inference.runtime import FaceModel
    from fer_core.settings import Settings

AUTO_TTA = "auto"  # the TTA the model's card ranks best on PublicTest (an export's: the one inside it)


@dataclass(frozen=True)
class AnswerSpec:
    """Everything that decides a face's answer besides the pixels. Resolved: ``model`` is an
    existing file, ``tta`` a concrete mode, ``whole_image`` stands for the detector word "none".
    Make one with ``resolve``; ``dataclasses.replace`` changes one value (the Predict page's
    "classify the whole image" button)."""

    model: Path
    tta: str = "none"  # none, flip or multicrop; an exported model's is the one built into it
    calibrated: bool = True  # the card's temperature applied (every Predict path answers calibrated)
    operating_point: bool = False  # the card's per-class offsets applied (fer_core.inference.operating_points)
    detector: str = DEFAULT_DETECTOR
    whole_image: bool = False  # no detection: each image is one face
    margin: float = DEFAULT_MARGIN  # border added around each detected face, as a share of its side
    shift_y: float = DEFAULT_SHIFT_Y  # the crop's centre moved down by this share of the face's side

    @classmethod
    def resolve(cls, model: str | os.PathLike = "default", *, tta: str | None = AUTO_TTA,
                detector: str = DEFAULT_DETECTOR, margin: float = DEFAULT_MARGIN,
                shift_y: float = DEFAULT_SHIFT_Y, calibrated: bool = True,
                operating_point: bool = False, settings: "Settings | None" = None, **more: Any) -> "AnswerSpec":
        """The one home of the rules that turn a user's words into a spec: ``model`` 'default', a
        bundled name, a run folder or a file (checked, without loading TensorFlow); ``tta`` 'auto'
        (or None) -> the card's best, and for an export the TTA inside it (naming another is a
        ``ConfigError``); ``detector`` 'none' -> whole images. ``more``: a subclass's own fields."""
        from fer_core.inference.loading import existing_model_path, missing_operating_point

        path = existing_model_path(model, settings)
        check_detector(detector, allow_whole_image=True)
        if not 0 <= margin <= 1:
            raise ConfigError(f"the crop margin must be between 0 and 1 (a share of the face's side), got {margin}")
        if not -0.5 <= shift_y <= 0.5:
            raise ConfigError(f"the crop's shift must be between -0.5 and 0.5 (a share of the face's side), got {shift_y}")
        card = model_card(path)
        if tta in (None, AUTO_TTA):
            tta = card.best_tta()
        elif tta not in TTA_MODES:
            raise ConfigError(f"TTA must be auto or one of {', '.join(TTA_MODES)}, got '{tta}'")
        elif card.exported and tta != card.built_in_tta:
            raise ConfigError(f"{path.name} was exported with test-time augmentation '{card.built_in_tta}' built in; "
                              f"it cannot run with '{tta}' (export the .keras model again with --tta {tta})")
        if operating_point and not card.operating_point:
            raise missing_operating_point(path)
        whole = detector == WHOLE_IMAGE
        return cls(model=path, tta=tta, calibrated=calibrated, operating_point=operating_point,
                   detector=DEFAULT_DETECTOR if whole else detector, whole_image=whole, margin=float(margin),
                   shift_y=float(shift_y), **more)

    # ------------------------------------------------------------------ the model

    def card(self) -> ModelCard:
        return model_card(self.model)

    def cache_key(self) -> tuple:
        """What a cached answer or a cached model depends on: every field, and the modification
        times of the model file and of its card (a retrained or recalibrated model is a new key)."""
        card = card_path(self.model)
        return (type(self).__name__, *(_plain(getattr(self, f.name)) for f in dataclasses.fields(self)),
                self.model.stat().st_mtime_ns, card.stat().st_mtime_ns if card.exists() else 0)

    def load(self) -> "FaceModel":
        """The model as this spec answers with it (``fer_core.inference.loading.load_model``)."""
        from fer_core.inference.loading import load_model

        return load_model(self.model, tta=self.tta, calibrated=self.calibrated, operating_point=self.operating_point)

    def warm(self, model: "FaceModel") -> None:
        """Build what answering needs (the model's compiled predict step, the detector) before the
        first request, so that it does not pay for it (building MTCNN alone takes seconds)."""
        from fer_core.inference.runtime import predict_probabilities

        predict_probabilities(model, np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))
        if not self.whole_image:
            get_detector(self.detector).detect(np.zeros((64, 64, 3), dtype=np.uint8))

    # ------------------------------------------------------------------ faces

    def find_faces(self, image: "Image.Image", max_side: int = DETECT_MAX_SIDE) -> list[FaceBox]:
        """The faces this spec answers for in ``image``, largest first ([] for whole images)."""
        return [] if self.whole_image else detect_faces(image, self.detector, max_side=max_side)

    def crop(self, image: "Image.Image", box: FaceBox | None) -> np.ndarray:
        """The 48x48 grey face the model sees: ``box`` framed by ``margin`` (None: the whole image)."""
        return image_to_face_array(image) if box is None else crop_face(image, box, self.margin,
                                                                         shift_y=self.shift_y)

    # ------------------------------------------------------------------ words and transport

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-ready values (``serve``'s worker processes, a video's summary)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_description(cls, values: dict[str, Any]) -> "AnswerSpec":
        return cls(**{**values, "model": Path(values["model"])})

    @property
    def detector_words(self) -> str:
        """The detector as the CLI and the API spell it ('none' for whole images)."""
        return WHOLE_IMAGE if self.whole_image else self.detector


def model_card(path: str | os.PathLike) -> ModelCard:
    """A model file's card, typed: an export's own (beside it, or in an ONNX file's metadata when it
    travelled alone), else the JSON beside the ``.keras`` file; an empty card when there is none."""
    if is_exported(path):
        return ModelCard(read_exported_card(path), exported=True)
    return ModelCard.read(path)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
