"""A model ready to answer, as one object: the ``Answerer`` that ``AnswerSpec.load()`` returns.

It holds the resolved spec, the loaded ``FaceModel``, the model's card (read once, as it loaded)
and ``slot``, the turn it takes at the model (the dashboard's and the API's ``ModelGate``; none by
default). Its methods are every way FER Studio answers faces, one line each over the functions that
do the work (``fer_core.media`` and ``fer_core.evaluation.explain``), which take an ``Answerer`` in
their turn: so no path carries a model and its spec as a pair, and a new answering knob (a spec
field) reaches all of them.

Like py-feat's ``Detector`` (one object owns its models; ``detect_image``/``detect_video`` are its
methods), but built from a typed spec (timm's pretrained config riding on its model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, ContextManager

import numpy as np

from fer_core.errors import ModelError
from fer_core.labels import IMAGE_SIZE
from fer_core.runtime.cards import ModelCard, is_exported
from fer_core.runtime.devices import resolve_device
from fer_core.runtime.loading import answering_model
from fer_core.runtime.model import FaceModel, predict_probabilities

if TYPE_CHECKING:
    from fer_core.answering.spec import AnswerSpec
    from fer_core.data.video_files import VideoLimits
    from fer_core.faces.tracking import FaceTracker
    from fer_core.media.collections import CollectionAnalysis
    from fer_core.media.photos import PhotoResult
    from fer_core.media.video import VideoAnalysis, VideoOptions

Slot = Callable[[], ContextManager]
Progress = Callable[..., None]


@dataclass(frozen=True)
class Answerer:
    """The spec, its model, its card and its turn at the model (see the module docstring)."""

    spec: "AnswerSpec"
    model: FaceModel
    card: ModelCard
    slot: Slot = contextlib.nullcontext
    device: str = "cpu"  # where it answers: the spec's device word resolved on this machine

    def with_slot(self, slot: Slot) -> "Answerer":
        """The same model taking its turns through ``slot`` (a ``ModelGate``'s)."""
        return dataclasses.replace(self, slot=slot)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(N, 7) class probabilities for uint8 (N, 48, 48) face crops."""
        return predict_probabilities(self.model, crops)

    def warm(self) -> None:
        """Build what answering needs (the model's compiled predict step, the detector) before the
        first request, so that it does not pay for it (building MTCNN alone takes seconds)."""
        from fer_core.faces.detectors import get_detector

        self.probabilities(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))
        if not self.spec.whole_image:
            get_detector(self.spec.detector, self.spec.threads).detect(np.zeros((64, 64, 3), dtype=np.uint8))

    # ------------------------------------------------------------------ photos

    def photos(self, photos: list[tuple[str, bytes]], whole_image_if_no_face: bool = False) -> list["PhotoResult"]:
        """Every face of photos given as (name, bytes), in one batch (``media.photos.analyze_photos``)."""
        from fer_core.media.photos import analyze_photos

        return analyze_photos(self, photos, whole_image_if_no_face)

    def files(self, paths: list[str | os.PathLike], whole_image_if_no_face: bool = False) -> list["PhotoResult"]:
        """``photos`` for files on disk, an unreadable file its own error (``media.photos.analyze_files``)."""
        from fer_core.media.photos import analyze_files

        return analyze_files(self, paths, whole_image_if_no_face)

    def collection(self, path: str | os.PathLike | BinaryIO, whole_image_if_no_face: bool = False,
                   progress: Progress | None = None, max_photos: int | None = None,
                   name: str | None = None) -> "CollectionAnalysis":
        """Every face of a zip or folder of photos (``media.collections.analyze_collection``)."""
        from fer_core.media.collections import analyze_collection

        return analyze_collection(self, path, whole_image_if_no_face, progress, max_photos, name)

    # ------------------------------------------------------------------ frames and videos

    def frame(self, rgb: np.ndarray, index: int, seconds: float, tracker: "FaceTracker",
              track_time: float | None = None) -> list[dict[str, Any]]:
        """One frame's faces as rows, followed by ``tracker`` (``media.video.analyze_frame``)."""
        from fer_core.media.video import analyze_frame

        return analyze_frame(self, rgb, index, seconds, tracker, track_time)

    def video(self, path: str | os.PathLike, options: "VideoOptions | None" = None,
              annotated_path: str | os.PathLike | None = None, name: str | None = None,
              progress: Progress | None = None, limits: "VideoLimits | None" = None) -> "VideoAnalysis":
        """Expressions over time in a video (``media.video.analyze_video``)."""
        from fer_core.media.video import VideoOptions, analyze_video

        return analyze_video(self, path, options or VideoOptions(), annotated_path, name, progress, limits)

    # ------------------------------------------------------------------ heat maps

    def explain(self, photo: str | os.PathLike) -> list[dict]:
        """HiResCAM heat maps for every face of a photo file (``evaluation.explain.explain_photo``);
        they need the ``.keras`` model's gradients, so an export is refused in one line."""
        from fer_core.evaluation.explain import explain_photo

        self._check_explainable()
        return explain_photo(self, photo)

    def explain_crops(self, crops: np.ndarray, classes: np.ndarray | None = None) -> list[dict]:
        """``evaluation.explain.explain_faces`` on 48x48 crops, in this answerer's turn."""
        from fer_core.evaluation.explain import explain_faces

        self._check_explainable()
        with self.slot():
            return explain_faces(self.model, crops, classes)

    def _check_explainable(self) -> None:
        if is_exported(self.spec.model):
            raise ModelError(f"{self.spec.model.name}: heat maps need the gradients of the .keras model it was "
                             f"exported from; explain that one")


def build_answerer(spec: "AnswerSpec") -> Answerer:
    """``AnswerSpec.load``'s private builder: the card read once, the model built from the spec's
    resolved values (``runtime.loading.answering_model``: no rule of ``resolve`` applied again)."""
    card = ModelCard.read(spec.model)
    device = resolve_device(spec.device, spec.model).name  # here, on the machine that answers (a cluster's worker)
    model = answering_model(spec.model, card, spec.tta, spec.calibrated, spec.operating_point, spec.threads, device)
    return Answerer(spec, model, card, device=device)
