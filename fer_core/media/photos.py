"""Classifying the faces in photos: every face found and framed as the ``Answerer``'s spec says
(``fer_core.faces``: decoding, detection, cropping) and classified by its model, with results as
JSON, table rows and an annotated photo."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer_core.labels import CLASSES
from fer_core.faces.boxes import FaceBox
from fer_core.errors import DataError
from fer_core.faces.images import decode_photo, read_image_file

if TYPE_CHECKING:
    from fer_core.answering.answerer import Answerer


@dataclass
class FaceResult:
    box: FaceBox | None  # None: the whole image was classified as one face
    probabilities: dict[str, float]
    crop: np.ndarray | None = field(default=None, repr=False)  # the 48x48 face the model saw

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)


@dataclass
class PhotoResult:
    name: str
    width: int = 0
    height: int = 0
    faces: list[FaceResult] = field(default_factory=list)
    whole_image: bool = False
    error: str | None = None
    whole_image_reason: str | None = None  # why the whole image was answered as one face

    @property
    def no_face(self) -> bool:
        return self.error is None and not self.faces

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"file": self.name, "error": self.error}
        return {
            "file": self.name,
            "width": self.width,
            "height": self.height,
            "whole_image": self.whole_image,
            "whole_image_reason": self.whole_image_reason,
            "faces": [
                {"box": f.box.box_dict() if f.box else None, "top": f.top, "probabilities": f.probabilities,
                 **face_geometry(f.box)}
                for f in self.faces
            ],
        }


def result_record(result: PhotoResult) -> tuple[dict, list[np.ndarray]]:
    """``result`` as plain JSON values and its faces' crops: what a cluster's chunk file keeps, so
    that ``result_from_record`` gives back an equal ``PhotoResult`` (nothing is unpickled)."""
    faces = [{"box": None if f.box is None else dataclasses.asdict(f.box), "probabilities": f.probabilities}
             for f in result.faces]
    record = {"name": result.name, "width": result.width, "height": result.height,
              "whole_image": result.whole_image, "error": result.error, "faces": faces,
              "whole_image_reason": result.whole_image_reason}
    return record, [f.crop for f in result.faces]


def result_from_record(record: dict, crops: list[np.ndarray]) -> PhotoResult:
    def point(p):
        return None if p is None else tuple(p)

    faces = []
    for face, crop in zip(record["faces"], crops):
        box = face["box"]
        if box is not None:
            eyes = box.get("eyes")
            box = FaceBox(**{**box, "eyes": None if eyes is None else (point(eyes[0]), point(eyes[1])),
                             "nose": point(box.get("nose")), "mouth": point(box.get("mouth"))})
        faces.append(FaceResult(box, face["probabilities"], crop))
    return PhotoResult(record["name"], record["width"], record["height"], faces, record["whole_image"],
                       record["error"], record.get("whole_image_reason"))


def face_geometry(box: FaceBox | None) -> dict:
    """A face's landmarks and head pose (yaw, pitch, roll in degrees) for JSON; None where unknown."""
    pose = None if box is None else box.pose()
    return {"landmarks": None if box is None else box.landmarks_dict(),
            "pose": None if pose is None else pose.as_dict()}


def pose_columns(box: FaceBox | None) -> dict:
    """Yaw, pitch and roll as table columns (empty where unknown)."""
    pose = None if box is None else box.pose()
    return {"yaw": None if pose is None else pose.yaw, "pitch": None if pose is None else pose.pitch,
            "roll": None if pose is None else pose.roll}


def pose_words(pose) -> str:
    """'yaw 12° right, pitch 3° up, roll 5° clockwise': a head pose as a line for people."""
    def side(value: float, positive: str, negative: str) -> str:
        return f"{abs(value):.0f}° {positive if value >= 0 else negative}"

    return (f"yaw {side(pose.yaw, 'right', 'left')}, pitch {side(pose.pitch, 'up', 'down')}, "
            f"roll {side(pose.roll, 'clockwise', 'anticlockwise')}")


def results_json(results: list[PhotoResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)


def results_rows(results: list[PhotoResult]) -> list[dict]:
    """One row per face (or per failed / faceless photo), for a CSV download."""
    rows = []
    for r in results:
        base = {"file": r.name}
        if r.error is not None or not r.faces:
            rows.append({**base, "face": None, "error": r.error or "no face found"})
            continue
        for k, face in enumerate(r.faces, start=1):
            box = face.box or FaceBox(0, 0, r.width, r.height)
            rows.append({**base, "face": k, "x": box.x, "y": box.y, "width": box.width, "height": box.height,
                         "detector_score": box.score, "top": face.top, **face.probabilities,
                         **pose_columns(face.box), "error": None})
    return rows


# --------------------------------------------------------------------------- end to end


def analyze_photos(answerer: "Answerer", photos: list[tuple[str, bytes]],
                   whole_image_if_no_face: bool = False,
                   decoded: Callable[[str, Image.Image], None] | None = None) -> list[PhotoResult]:
    """Find (``spec.find_faces``), crop (``spec.crop``) and classify every face in every photo, in
    one batch; one bad photo never stops the rest. ``answerer``: ``spec.load()`` (loaded once by
    the caller and kept). ``whole_image_if_no_face``: a photo where nothing was found is one face.
    ``decoded(name, image)``: called with each decoded photo, for a caller that looks at it too
    (``evaluate --also-detectors``), so no photo is decoded twice."""
    spec = answerer.spec
    results: list[PhotoResult] = []
    crops: list[np.ndarray] = []
    owners: list[tuple[PhotoResult, FaceBox | None]] = []
    for name, data in photos:
        result = PhotoResult(name)
        results.append(result)
        try:
            image = decode_photo(data)
        except DataError as exc:
            result.error = str(exc)
            continue
        result.width, result.height = image.size
        if decoded is not None:
            decoded(name, image)
        boxes: list[FaceBox | None] = list(spec.find_faces(image))
        reason = None if boxes else spec.whole_image_reason(image, whole_image_if_no_face)
        if reason is not None:
            result.whole_image, result.whole_image_reason = True, reason
            boxes = [None]
        for box in boxes:
            crops.append(spec.crop(image, box))
            owners.append((result, box))
    if crops:
        probabilities = answerer.probabilities(np.stack(crops))
        for (result, box), crop, row in zip(owners, crops, probabilities):
            result.faces.append(FaceResult(box, {c: round(float(p), 6) for c, p in zip(CLASSES, row)}, crop))
    return results


def analyze_files(answerer: "Answerer", paths: list[str | os.PathLike],
                  whole_image_if_no_face: bool = False) -> list[PhotoResult]:
    """``analyze_photos`` for files on disk; an unreadable file gets its own error, in order."""
    readable: list[tuple[str, bytes]] = []
    unreadable: dict[int, PhotoResult] = {}
    for position, path in enumerate(paths):
        try:
            readable.append((str(path), read_image_file(path)))
        except DataError as exc:  # missing, a pipe or device, too large: refused before reading
            unreadable[position] = PhotoResult(str(path), error=str(exc))
    answered = iter(analyze_photos(answerer, readable, whole_image_if_no_face))
    return [unreadable[k] if k in unreadable else next(answered) for k in range(len(paths))]


DISPLAY_MAX_SIDE = 1280  # a page shows photos no larger: encoding a 12-megapixel PNG takes seconds


def annotate(image: Image.Image, result: PhotoResult, max_side: int | None = None) -> Image.Image:
    """A copy of the photo with a numbered box and top expression per face; with ``max_side``,
    scaled down first so that neither side exceeds it (for display)."""
    out = image.convert("RGB").copy()
    scale = 1.0
    if max_side and max(out.size) > max_side:
        scale = max_side / max(out.size)
        out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                         Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(out)
    line = max(2, round(max(out.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(out.size) / 40)))
    for k, face in enumerate(result.faces, start=1):
        box = face.box or FaceBox(0, 0, image.width, image.height)
        x0, y0 = round(box.x * scale), round(box.y * scale)
        x1, y1 = round((box.x + box.width) * scale) - 1, round((box.y + box.height) * scale) - 1
        draw.rectangle([x0, y0, x1, y1], outline=(255, 64, 0), width=line)
        label = f"{k}: {face.top} {face.probabilities[face.top]:.0%}"
        tx, ty = x0, max(0, y0 - font.size - 2 * line)
        text_box = draw.textbbox((tx, ty), label, font=font)
        draw.rectangle([text_box[0] - line, text_box[1] - line, text_box[2] + line, text_box[3] + line],
                       fill=(255, 64, 0))
        draw.text((tx, ty), label, fill="white", font=font)
    return out
