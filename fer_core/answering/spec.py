"""How a face model answers: one frozen ``AnswerSpec`` that the Predict page, videos, photo
collections, the live camera, ``serve``, ``predict`` and ``fer_core.predict_*`` all start from.

The rules that turn a user's words into values ("auto" TTA, detector "none", the margin's and the
shift's ranges, a missing operating point) are applied once, in ``AnswerSpec.resolve``. How faces
are found (detector, the sizes photos and frames are detected at, the smallest face a frame
keeps, the CPU threads) and framed (margin, shift) are the spec's fields and its ``find_faces`` and
``crop``. ``load()`` gives the ``Answerer`` (``answering.answerer``): the spec with its model
loaded and its card read once, which every path answers through. So a new answering knob is one
field plus its use in one of the spec's methods: ``tests/answering/test_answering.py`` adds a
``min_face_px`` filter that way and sees it reach photos, videos, the live camera and the API.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.errors import ConfigError
from fer_core.faces.boxes import FaceBox
from fer_core.faces.cropping import DEFAULT_MARGIN, DEFAULT_SHIFT_Y, crop_face
from fer_core.faces.detectors import (DEFAULT_DETECTOR, DETECT_MAX_SIDE, WHOLE_IMAGE, check_detector, detect_faces,
                                      face_likeness)
from fer_core.faces.images import image_to_face_array
from fer_core.runtime.cards import AUTO_TTA, ModelCard, card_path
from fer_core.runtime.devices import check_device
from fer_core.runtime.loading import existing_model_path, missing_operating_point

if TYPE_CHECKING:
    from PIL import Image

    from fer_core.answering.answerer import Answerer
    from fer_core.settings import Settings

FRAME_MAX_SIDE = 640  # 720p frames are detected at 640x360: many frames, and MTCNN's time grows with pixels
MIN_FRAME_FACE = 24  # pixels; smaller boxes in frames are dropped: mostly false detections, too small to read
# A photo this small and this near-square is what expression datasets ship as face crops (aligned
# 96-256 px faces): with no face found in it, it is answered whole (``whole_image_reason``).
FACE_CROP_SIDES = (96, 256)
FACE_CROP_ASPECT = 1.25  # longer side over shorter side at most
# ... and BlazeFace must take it for a face at least this much (``faces.detectors.face_likeness``):
# chosen on benchmarks/bench_face_crops.py's own sets (all 300 PublicTest crops score above it).
FACE_CROP_MIN_LIKENESS = 0.3


@dataclass(frozen=True)
class AnswerSpec:
    """Everything that decides a face's answer besides the pixels. Resolved: ``model`` is an
    existing file, ``tta`` a concrete mode, ``whole_image`` stands for the detector word "none".
    Make one with ``resolve``; ``dataclasses.replace`` changes one value (the Predict page's
    "classify the whole image" button)."""

    model: Path
    tta: str = "none"  # none, flip or multicrop; an exported model's is the one built into it
    calibrated: bool = True  # the card's temperature applied (every Predict path answers calibrated)
    operating_point: bool = False  # the card's per-class offsets applied (fer_core.evaluation.operating_points)
    detector: str = DEFAULT_DETECTOR
    whole_image: bool = False  # no detection: each image is one face
    margin: float = DEFAULT_MARGIN  # border added around each detected face, as a share of its side
    shift_y: float = DEFAULT_SHIFT_Y  # the crop's centre moved down by this share of the face's side
    photo_max_side: int = DETECT_MAX_SIDE  # a photo is detected on a copy at most this many pixels a side
    frame_max_side: int = FRAME_MAX_SIDE  # likewise a video's or the live camera's frame
    min_frame_face: int = MIN_FRAME_FACE  # a frame's faces narrower than this are left out
    threads: int = 0  # CPU threads of one model call in onnxruntime and BlazeFace (0: their own choice)
    face_crops_whole: bool = True  # a face-crop-sized photo with no face found is answered whole (the setting)
    device: str = "cpu"  # auto, cpu or gpu, as asked: resolved where the model loads (runtime.devices)

    @classmethod
    def resolve(cls, model: str | os.PathLike = "default", *, tta: str | None = AUTO_TTA,
                detector: str = DEFAULT_DETECTOR, margin: float = DEFAULT_MARGIN,
                shift_y: float = DEFAULT_SHIFT_Y, calibrated: bool = True,
                operating_point: bool = False, settings: "Settings | None" = None, **more: Any) -> "AnswerSpec":
        """The one home of the rules that turn a user's words into a spec: ``model`` 'default', a
        bundled name, a run folder or a file (checked, without loading TensorFlow); ``tta`` 'auto'
        -> the card's best (None: as the model is), and for an export the TTA inside it (``ModelCard.answer_tta``);
        ``detector`` 'none' -> whole images. ``settings``: the entry point's (the default model, the
        thread count); ``more``: other fields (``threads``) and a subclass's own."""
        path = existing_model_path(model, settings)
        check_detector(detector, allow_whole_image=True)
        if not 0 <= margin <= 1:
            raise ConfigError(f"the crop margin must be between 0 and 1 (a share of the face's side), got {margin}")
        if not -0.5 <= shift_y <= 0.5:
            raise ConfigError(f"the crop's shift must be between -0.5 and 0.5 (a share of the face's side), got {shift_y}")
        card = ModelCard.read(path)
        tta = card.answer_tta(tta, path.name)
        if operating_point and card.operating_point is None:
            raise missing_operating_point(path)
        whole = detector == WHOLE_IMAGE
        check_device(more.get("device", "cpu"))
        more.setdefault("threads", settings.cpu_threads if settings is not None else 0)
        more.setdefault("face_crops_whole", settings.face_crops_whole if settings is not None else True)
        return cls(model=path, tta=tta, calibrated=calibrated, operating_point=operating_point,
                   detector=DEFAULT_DETECTOR if whole else detector, whole_image=whole, margin=float(margin),
                   shift_y=float(shift_y), **more)

    # ------------------------------------------------------------------ the model

    def cache_key(self) -> tuple:
        """What a cached answer or a cached model depends on: every field, and the modification
        times of the model file and of its card (a retrained or recalibrated model is a new key)."""
        card = card_path(self.model)
        return (type(self).__name__, *(_plain(getattr(self, f.name)) for f in dataclasses.fields(self)),
                self.model.stat().st_mtime_ns, card.stat().st_mtime_ns if card.exists() else 0)

    def load(self) -> "Answerer":
        """The model loaded as this spec answers with it, its card read once: an ``Answerer``."""
        from fer_core.answering.answerer import build_answerer

        return build_answerer(self)

    # ------------------------------------------------------------------ faces

    def find_faces(self, image: "Image.Image", in_frame: bool = False) -> list[FaceBox]:
        """The faces this spec answers for in ``image``, largest first ([] for whole images); in a
        video's or the live camera's frame (``in_frame``) detected smaller, and the tiny ones left out."""
        if self.whole_image:
            return []
        boxes = detect_faces(image, self.detector, max_side=self.frame_max_side if in_frame else self.photo_max_side,
                             threads=self.threads)
        return [b for b in boxes if min(b.width, b.height) >= self.min_frame_face] if in_frame else boxes

    def whole_image_reason(self, image: "Image.Image", asked_if_no_face: bool = False) -> str | None:
        """Why a photo in which ``find_faces`` found nothing is answered whole, as one face, or None
        when it is not: the detector 'none'; ``whole_image_if_no_face`` asked; or (``face_crops_whole``)
        a photo of 96-256 px a side and near-square, what public expression datasets ship as aligned
        face crops (BlazeFace missed 4.8% of such 100x100 crops, which answered whole were right as
        often as the rest: issue 41's held-out measurement), that BlazeFace still takes for a face
        somewhat (``face_likeness`` at least ``FACE_CROP_MIN_LIKENESS``), so that a crop of a wall
        or a texture is not answered."""
        if self.whole_image:
            return "detector 'none': each image is one face"
        if asked_if_no_face:
            return "no face found: answered whole, as asked"
        width, height = image.size
        low, high = FACE_CROP_SIDES
        if not (self.face_crops_whole and low <= min(width, height) and max(width, height) <= high
                and max(width, height) <= FACE_CROP_ASPECT * min(width, height)):
            return None
        likeness = face_likeness(image, self.threads)
        if likeness < FACE_CROP_MIN_LIKENESS:
            return None
        return (f"no face found in a {width}x{height} photo: answered whole, as the face crop it looks to be "
                f"(face likeness {likeness:.2f})")

    def crop(self, image: "Image.Image", box: FaceBox | None) -> np.ndarray:
        """The 48x48 grey face the model sees: ``box`` framed by ``margin`` (None: the whole image)."""
        return image_to_face_array(image) if box is None else crop_face(image, box, self.margin,
                                                                         shift_y=self.shift_y)

    # ------------------------------------------------------------------ words and transport

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-ready values (``serve``'s worker processes, a cluster's workers, a
        video's summary)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_description(cls, values: dict[str, Any]) -> "AnswerSpec":
        return cls(**{**values, "model": Path(values["model"])})

    @property
    def detector_words(self) -> str:
        """The detector as the CLI and the API spell it ('none' for whole images)."""
        return WHOLE_IMAGE if self.whole_image else self.detector


def share_cores(workers: int, cpu_threads: int = 0) -> int:
    """The CPU threads each of ``workers`` processes on this machine gives one model call:
    ``cpu_threads`` when set, else an equal share of the cores. Two ``serve`` workers (or two local
    cluster workers) with a core each answer faster than two that each spread one call over both
    (docs/performance.md: 19.1 against 9.6 requests/s at 32 clients)."""
    return cpu_threads or max(1, (os.cpu_count() or 1) // max(1, workers))


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
