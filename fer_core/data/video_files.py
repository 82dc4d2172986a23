"""Reading videos: checking a file is a video we accept, and sampling its frames at a chosen rate.

Decoding is OpenCV's (``opencv-python-headless`` bundles FFmpeg), so mp4, webm, mov and avi need no
system package. A video is checked before any work (``open_video``): a regular file, within the
size cap, a container and codec FFmpeg can read, a first frame that decodes, and a duration within
the cap (``VideoLimits``; ``FER_MAX_VIDEO_MB``, ``FER_MAX_VIDEO_SECONDS``). Each failure is one
``DataError`` sentence for the page or the CLI.

Sampling (``sample_frames``) walks the stream once, in order: frames between samples are only
``grab``-bed (demuxed and decoded, never converted to RGB), which is most of the cost saved. Frame
times come from the frame index and the container's frame rate; a container that reports no
frame count (some webm files) is read to its end, with the duration cap enforced as it goes.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import DataError
from fer_core.settings import Settings

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi")


@dataclass(frozen=True)
class VideoLimits:
    """What a video may be before it is refused: the file's size and the video's duration."""

    max_bytes: int = 500 * 2**20
    max_seconds: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "VideoLimits":
        return cls(max_bytes=int(settings.max_video_mb * 2**20), max_seconds=settings.max_video_seconds)

    def describe(self) -> str:
        return f"at most {self.max_bytes / 2**20:,.0f} MB and {self.max_seconds:,.0f} s"


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: frames per second, frame count (0 when it does not say), size."""

    fps: float
    frame_count: int
    width: int
    height: int

    @property
    def duration(self) -> float | None:
        return self.frame_count / self.fps if self.frame_count > 0 else None


@dataclass
class VideoFrame:
    index: int  # in the original stream
    time: float  # seconds from the start
    rgb: np.ndarray  # height x width x 3, uint8


def is_video_name(name: str | os.PathLike) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _capture(path: Path):
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise DataError("not a video OpenCV can read (a damaged file, or a format or codec other than "
                        f"{', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)})")
    return capture


def open_video(path: str | os.PathLike, limits: VideoLimits | None = None) -> VideoInfo:
    """Check ``path`` is a readable video within ``limits``; what its container says about it."""
    import cv2

    limits = limits or VideoLimits()  # the entry point passes VideoLimits.from_settings(its settings)
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DataError(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError("a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, device or socket)")
    if info.st_size == 0:
        raise DataError("empty file")
    if info.st_size > limits.max_bytes:
        raise DataError(f"video too large ({info.st_size / 2**20:,.0f} MB; the limit is "
                        f"{limits.max_bytes / 2**20:,.0f} MB, FER_MAX_VIDEO_MB)")
    capture = _capture(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise DataError("no frame could be decoded (a damaged video, or a codec OpenCV's FFmpeg lacks)")
    if not (0.5 <= fps <= 1000):
        raise DataError(f"the video does not say a usable frame rate ({fps:g} frames per second)")
    video = VideoInfo(fps=fps, frame_count=max(0, count), width=int(frame.shape[1]), height=int(frame.shape[0]))
    if video.duration is not None and video.duration > limits.max_seconds:
        raise DataError(f"video too long ({video.duration:,.0f} s; the limit is {limits.max_seconds:,.0f} s, "
                        "FER_MAX_VIDEO_SECONDS)")
    return video


def sample_count(info: VideoInfo, fps: float) -> int | None:
    """How many frames ``sample_frames`` yields at ``fps`` (None when the container has no count)."""
    if info.frame_count <= 0:
        return None
    return sum(1 for _ in itertools.takewhile(lambda i: i < info.frame_count, _sampled_indices(info.fps, fps)))


def _sampled_indices(native_fps: float, fps: float) -> Iterator[int]:
    """The frame indices nearest to every 1/``fps`` seconds, without end (every frame at or above
    the video's own rate): the one rule both ``sample_frames`` and ``sample_count`` follow."""
    step = max(1.0, native_fps / fps)
    return (round(k * step) for k in itertools.count())


def sample_frames(path: str | os.PathLike, fps: float, info: VideoInfo | None = None,
                  limits: VideoLimits | None = None, start_frame: int = 0,
                  end_frame: int | None = None) -> Iterator[VideoFrame]:
    """The frames nearest to every 1/``fps`` seconds (every frame if ``fps`` is the video's rate or
    more), as RGB arrays, in order. ``info``: ``open_video``'s answer, if already asked.
    ``start_frame``/``end_frame``: only the sampled frames with ``start_frame <= index < end_frame``
    (a cluster's time segment: the same frames the whole video's sampling picks there, reached by
    seeking, which FFmpeg does to the exact frame by decoding on from the keyframe before it)."""
    import cv2

    if not fps > 0:
        raise DataError(f"the sampling rate must be above 0 frames per second, got {fps}")
    limits = limits or VideoLimits()  # the entry point passes VideoLimits.from_settings(its settings)
    info = info or open_video(path, limits)
    wanted_indices = itertools.dropwhile(lambda i: i < start_frame, _sampled_indices(info.fps, fps))
    capture = _capture(Path(path))
    try:
        index, wanted = 0, next(wanted_indices)
        if start_frame > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start_frame)
            index = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
            if index != start_frame:
                raise DataError(f"cannot seek to frame {start_frame} (the container went to {index})")
        while end_frame is None or wanted < end_frame:
            if not capture.grab():
                return
            if index == wanted:
                ok, frame = capture.retrieve()
                if ok and frame is not None:
                    time = index / info.fps
                    if time > limits.max_seconds:
                        raise DataError(f"video too long (over {limits.max_seconds:,.0f} s, FER_MAX_VIDEO_SECONDS)")
                    yield VideoFrame(index, time, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                wanted = next(wanted_indices)
            index += 1
    finally:
        capture.release()


def read_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """Frame ``index`` of a video (one we wrote, such as an annotated copy) as RGB."""
    import cv2

    capture = _capture(Path(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise DataError(f"frame {index} could not be read from {Path(path).name}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
