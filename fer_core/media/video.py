"""Expressions over time in a video: sample frames, find and follow each face, classify it.

``analyze_video`` reads a video once (``fer_core.data.video_files``), at ``VideoOptions.fps`` sampled
frames a second. In each sampled frame the faces are found and cropped as the ``Answerer``'s spec
says (``AnswerSpec.find_faces`` with ``in_frame``: detector, the frame scaled to
``frame_max_side``, faces under ``min_frame_face`` left out; margin, shift), given a person id by
``FaceTracker`` and classified as one batch, in one turn at the model (the answerer's slot). The answer is a table, one row per face per sampled frame (time, person, box, the 7
probabilities, the top class), and optionally an annotated MP4 of the sampled frames, written
beside its final name and renamed into place only when the whole video is done.

Smoothing (``smooth_timeline``) is a separate, optional step over that table: a centred moving
average of each person's probabilities; the raw rows are what the downloads hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from fer_core.labels import CLASSES
from fer_core.errors import DataError
from fer_core.data.video_files import VideoInfo, VideoLimits, open_video, sample_frames, sample_count
from fer_core.fileio import atomic_path, write_texts_atomic
from fer_core.faces.tracking import FaceTracker
from fer_core.media.photos import pose_columns

if TYPE_CHECKING:
    from fer_core.answering.answerer import Answerer
    from fer_core.answering.spec import AnswerSpec

FRAME_COLUMNS = ["frame", "time", "person", "x", "y", "width", "height", "detector_score", "top", *CLASSES,
                 "yaw", "pitch", "roll"]


@dataclass(frozen=True)
class VideoOptions:
    """How frames are sampled and followed; how faces are found and answered is the ``AnswerSpec``."""

    fps: float = 5.0  # sampled frames per second of video
    max_gap: float = 1.0  # seconds a person may go unseen and keep their id


@dataclass
class VideoAnalysis:
    """One video's answer: what it is, how it was sampled, one row per face per sampled frame."""

    name: str
    info: VideoInfo
    options: VideoOptions
    spec: "AnswerSpec"
    rows: list[dict] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # of each sampled frame (the annotated video's frames)
    seconds: float = 0.0  # wall time of the analysis

    @property
    def sampled_frames(self) -> int:
        return len(self.times)

    @property
    def frames_with_faces(self) -> int:
        return len({row["frame"] for row in self.rows})

    @property
    def no_face(self) -> bool:
        return not self.rows

    @property
    def people(self) -> list[int]:
        return sorted({row["person"] for row in self.rows})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=FRAME_COLUMNS)

    def shares(self) -> pd.DataFrame:
        """Per person, the share of their sampled frames with each top class (rows sum to 1)."""
        return expression_shares(self.table())

    def summary(self) -> dict:
        return {"video": self.name, "fps": self.info.fps, "frames": self.info.frame_count,
                "width": self.info.width, "height": self.info.height, "duration_s": self.info.duration,
                "options": {"fps": self.options.fps, "detector": self.spec.detector_words, "margin": self.spec.margin,
                            "detect_max_side": self.spec.frame_max_side, "max_gap": self.options.max_gap,
                            "min_face": self.spec.min_frame_face},
                "sampled_frames": self.sampled_frames,
                "frames_with_faces": self.frames_with_faces, "people": self.people,
                "seconds": round(self.seconds, 2),
                "share_of_time": {str(person): {c: round(float(v), 4) for c, v in row.items()}
                                  for person, row in self.shares().iterrows()}}

    def to_json(self) -> str:
        return json.dumps({**self.summary(), "rows": self.rows}, indent=1)


def expression_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Person x class: the share of that person's sampled frames whose top class it is."""
    if table.empty:
        return pd.DataFrame(columns=list(CLASSES), dtype=float)
    counts = pd.crosstab(table["person"], table["top"]).reindex(columns=list(CLASSES), fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0)


def without_brief_people(table: pd.DataFrame, min_samples: int) -> tuple[pd.DataFrame, list[int]]:
    """The rows of people seen in at least ``min_samples`` sampled frames, and the ids left out:
    a false detection that flickers in and out is 'followed' as a person of its own for a sample
    or two (the Haar cascade on a busy background does this often)."""
    if table.empty or min_samples <= 1:
        return table, []
    counts = table["person"].value_counts()
    brief = sorted(int(p) for p in counts[counts < min_samples].index)
    return table[~table["person"].isin(brief)], brief


def smooth_timeline(table: pd.DataFrame, window: int) -> pd.DataFrame:
    """Each person's probabilities as a centred moving average over ``window`` samples (1: as is),
    renormalised, with the top class taken again."""
    if window <= 1 or table.empty:
        return table
    smoothed = table.copy()
    smoothed[list(CLASSES)] = (table.groupby("person")[list(CLASSES)]
                               .transform(lambda s: s.rolling(window, center=True, min_periods=1).mean()))
    smoothed[list(CLASSES)] = smoothed[list(CLASSES)].div(smoothed[list(CLASSES)].sum(axis=1), axis=0)
    smoothed["top"] = smoothed[list(CLASSES)].idxmax(axis=1)
    return smoothed


def analyze_frame(answerer: "Answerer", rgb: np.ndarray, index: int, seconds: float, tracker: FaceTracker,
                  track_time: float | None = None) -> list[dict[str, Any]]:
    """One frame's faces as ``FRAME_COLUMNS`` rows: found as a frame's (``find_faces(in_frame=True)``),
    followed by ``tracker`` (a person id each) on ``track_time`` (default: ``seconds``), cropped
    level and classified in one batch. The one step that videos and the live camera share."""
    spec = answerer.spec
    image = Image.fromarray(rgb)
    boxes = spec.find_faces(image, in_frame=True)
    people = tracker.update(boxes, seconds if track_time is None else track_time)
    if not boxes:
        return []
    probabilities = answerer.probabilities(np.stack([spec.crop(image, b) for b in boxes]))
    rows = []
    for box, person, row in zip(boxes, people, probabilities):
        scores = {c: round(float(p), 6) for c, p in zip(CLASSES, row)}
        rows.append({"frame": index, "time": round(seconds, 3), "person": person, "x": box.x, "y": box.y,
                     "width": box.width, "height": box.height, "detector_score": box.score,
                     "top": max(scores, key=scores.get), **scores, **pose_columns(box)})
    return rows


def analyze_video(answerer: "Answerer", path: str | os.PathLike, options: VideoOptions = VideoOptions(),
                  annotated_path: str | os.PathLike | None = None, name: str | None = None,
                  progress: Callable[[int, int | None], None] | None = None,
                  limits: VideoLimits | None = None) -> VideoAnalysis:
    """Analyse the video at ``path`` (see the module docstring) with ``answerer`` (``spec.load()``);
    ``DataError`` for a video we refuse.

    ``progress(done, total)`` is called after each sampled frame (``total`` None when the container
    does not say its length); raising from it stops the analysis with nothing written. Each
    frame's detection and classification is one turn of ``answerer.slot`` (the dashboard's
    turn-taking). ``limits``: the entry point's (``VideoLimits.from_settings``); None: the defaults.
    """

    started = time.perf_counter()
    limits = limits or VideoLimits()
    info = open_video(path, limits)
    analysis = VideoAnalysis(name or Path(path).name, info, options, answerer.spec)
    total = sample_count(info, options.fps)
    tracker = FaceTracker(max_gap=options.max_gap)
    with contextlib.ExitStack() as stack:
        writer = None
        if annotated_path is not None:
            writer = stack.enter_context(_AnnotatedWriter(annotated_path, min(options.fps, info.fps),
                                                          (info.width, info.height)))
        for frame in sample_frames(path, options.fps, info, limits):
            with answerer.slot():
                frame_rows = analyze_frame(answerer, frame.rgb, frame.index, frame.time, tracker)
            analysis.rows.extend(frame_rows)
            analysis.times.append(round(frame.time, 3))
            if writer is not None:
                writer.write(frame.rgb, frame_rows)
            if progress is not None:
                progress(analysis.sampled_frames, total)
    if analysis.sampled_frames == 0:
        raise DataError("no frame could be decoded (a damaged video)")
    analysis.seconds = time.perf_counter() - started
    return analysis


# --------------------------------------------------------------------------- time segments

@dataclass
class SegmentAnswer:
    """One time segment's rows and sampled times, its person ids its own (from 1), and the faces
    its tracker was warmed up on: (frame, x, y, width, height, person) in the frames just before
    the segment, which the previous segment answered too."""

    rows: list[dict]
    times: list[float]
    warmup: list[tuple[int, int, int, int, int, int]]


def analyze_segment(answerer: "Answerer", path: str | os.PathLike, options: VideoOptions, start_frame: int,
                    end_frame: int | None, limits: VideoLimits | None = None) -> SegmentAnswer:
    """The sampled frames ``start_frame <= index < end_frame`` of a video, answered as
    ``analyze_video`` answers them. The tracker is re-seeded at the segment's edge: it first
    follows (detection only, no model) the faces of the ``options.max_gap`` seconds before it, so
    the tracks alive at the edge are the ones a single pass has there, and ``merge_segments`` can
    give them the previous segment's ids."""
    limits = limits or VideoLimits()
    info = open_video(path, limits)
    warmup_start = max(0, int(start_frame - options.max_gap * info.fps)) if start_frame > 0 else 0
    tracker = FaceTracker(max_gap=options.max_gap)
    answer = SegmentAnswer([], [], [])
    for frame in sample_frames(path, options.fps, info, limits, start_frame=warmup_start, end_frame=end_frame):
        if frame.index < start_frame:
            boxes = answerer.spec.find_faces(Image.fromarray(frame.rgb), in_frame=True)
            for box, person in zip(boxes, tracker.update(boxes, frame.time)):
                answer.warmup.append((frame.index, box.x, box.y, box.width, box.height, person))
            continue
        answer.rows.extend(analyze_frame(answerer, frame.rgb, frame.index, frame.time, tracker))
        answer.times.append(round(frame.time, 3))
    return answer


def merge_segments(segments: list[SegmentAnswer]) -> tuple[list[dict], list[float]]:
    """The segments' rows and times in order, with one person id numbering: a segment's person
    that its warm-up saw on a face the previous segment answered keeps that face's id; the others
    get new ids in order of first appearance, as a single pass numbers them."""
    rows, times, next_id = [], [], 1
    previous: dict[tuple[int, int, int, int, int], int] = {}
    for segment in segments:
        ids = {}
        for frame, x, y, width, height, person in segment.warmup:
            if (frame, x, y, width, height) in previous:
                ids.setdefault(person, previous[(frame, x, y, width, height)])
        previous = {}
        for row in segment.rows:
            if row["person"] not in ids:
                ids[row["person"]], next_id = next_id, next_id + 1
            merged = {**row, "person": ids[row["person"]]}
            rows.append(merged)
            previous[(row["frame"], row["x"], row["y"], row["width"], row["height"])] = merged["person"]
        times.extend(segment.times)
    return rows, times


def write_video_outputs(analysis: VideoAnalysis, out_dir: str | os.PathLike) -> list[Path]:
    """``frames.csv`` (one row per face per sampled frame) and ``video.json`` (summary and rows)."""
    out_dir = Path(out_dir)
    return write_texts_atomic({out_dir / "frames.csv": analysis.table().to_csv(index=False),
                               out_dir / "video.json": analysis.to_json()})


# --------------------------------------------------------------------------- the annotated video

PERSON_COLOURS = [(255, 64, 0), (0, 160, 255), (40, 200, 40), (230, 0, 200), (255, 200, 0), (0, 200, 200)]


def person_colour(person: int) -> tuple[int, int, int]:
    return PERSON_COLOURS[(person - 1) % len(PERSON_COLOURS)]


def draw_faces(rgb: np.ndarray, rows: list[dict], bars: bool = False) -> np.ndarray:
    """A copy of the frame with a box and 'P<id> <top> <p>%' per face (OpenCV drawing: fast);
    with ``bars``, the seven probabilities as bars under the box (the live camera)."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    line = max(2, round(max(out.shape[:2]) / 400))
    scale = max(0.5, max(out.shape[:2]) / 1400)
    for row in rows:
        if bars:
            _draw_bars(out, row, scale)
        colour = person_colour(row["person"])
        x0, y0, x1, y1 = row["x"], row["y"], row["x"] + row["width"] - 1, row["y"] + row["height"] - 1
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, line)
        label = f"P{row['person']} {row['top']} {row[row['top']]:.0%}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, line)
        ty = max(th + base, y0 - line)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw, ty + base // 2), colour, -1)
        cv2.putText(out, label, (x0, ty - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), line,
                    cv2.LINE_AA)
    return out


def _draw_bars(out: np.ndarray, row: dict, scale: float) -> None:
    """Seven labelled bars, one per class, below the face's box (or above it at the frame's foot)."""
    import cv2

    step = max(10, round(16 * scale))
    width = max(60, row["width"])
    x0 = min(max(0, row["x"]), max(0, out.shape[1] - width - 60))
    y0 = row["y"] + row["height"] + 4
    if y0 + step * len(CLASSES) > out.shape[0]:
        y0 = max(0, row["y"] - 4 - step * len(CLASSES))
    colour = person_colour(row["person"])
    for k, name in enumerate(CLASSES):
        y = y0 + k * step
        cv2.rectangle(out, (x0, y), (x0 + width, y + step - 3), (40, 40, 40), -1)
        cv2.rectangle(out, (x0, y), (x0 + round(width * float(row[name])), y + step - 3), colour, -1)
        cv2.putText(out, f"{name} {float(row[name]):.0%}", (x0 + 2, y + step - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * step / 16, (255, 255, 255), 1, cv2.LINE_AA)


class _AnnotatedWriter:
    """An MP4 (MPEG-4 part 2, which OpenCV's bundled FFmpeg writes) of the annotated sampled frames,
    written to a temporary file and renamed to ``path`` only if the whole video was done."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]):
        self.path, self.fps, self.size = Path(path), fps, size

    def __enter__(self) -> "_AnnotatedWriter":
        import cv2

        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path, suffix=".mp4"))
        self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
        if not self._writer.isOpened():
            self._stack.close()
            raise DataError("OpenCV could not open an MP4 writer here")
        return self

    def write(self, rgb: np.ndarray, rows: list[dict]) -> None:
        import cv2

        self._writer.write(cv2.cvtColor(draw_faces(rgb, rows), cv2.COLOR_RGB2BGR))

    def __exit__(self, kind, value, traceback) -> bool:
        self._writer.release()  # then atomic_path renames the file into place, or deletes it on an error
        return bool(self._stack.__exit__(kind, value, traceback))
