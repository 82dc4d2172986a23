"""A live camera: frames classified as they arrive, drawn back into the stream, and recorded.

``LiveAnalyzer.process(rgb)`` takes one frame (from the browser's camera through WebRTC, on the
stream's own thread) and returns it with each face boxed, its person id, top class and the seven
probabilities as bars. Faces are found, followed and classified exactly as in a video
(``video.analyze_frame``), so the recording's rows and downloads have the video's format.

Keeping up rather than queueing: a frame that arrives while the model is busy with someone else
(the dashboard's ``ModelGate`` has another request waiting or running: the answerer's slot yields
False, ``ModelGate.turn_if_free``) is not queued; it goes back
at once with the last answer drawn on it, so the picture stays live and other users' photos are
answered first. streamlit-webrtc itself hands over only the newest frame when the callback is
slower than the camera.

Thread safety: ``process`` runs on the stream's thread while the page reads ``status`` and the
recording from the script's thread; both go through one lock.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fer_core.data.video_files import VideoInfo
from fer_core.faces.tracking import FaceTracker
from fer_core.media.video import VideoAnalysis, VideoOptions, analyze_frame, draw_faces

if TYPE_CHECKING:
    from fer_core.answering.answerer import Answerer

RECENT_SECONDS = 60.0  # the live timeline shows this much
STATS_WINDOW = 30  # frames over which frame rate and latency are reported
# The tracker counts analysed frames, not seconds: a person keeps their id through this many
# analysed frames without their face (with ``VideoOptions.max_gap`` 1: 10), however slowly a busy
# machine gets through frames. In wall time a person seen a frame ago is still there.
TRACK_FRAMES_PER_SECOND = 10.0


@dataclass
class LiveStatus:
    """What the page shows beside the video."""

    frames: int = 0  # frames received
    analysed: int = 0  # frames classified (the rest went back with the last answer)
    fps: float = 0.0  # frames analysed per second, recently
    camera_fps: float = 0.0  # frames received per second, recently
    latency_ms: float | None = None  # median time from a frame's arrival to its overlay, recently
    faces: int = 0  # in the last analysed frame
    recording: bool = False
    recorded_rows: int = 0
    stalled: bool = False  # frames came, but none for a few seconds (the stream dropped or the tab closed)
    black: bool = False  # the camera sends only black frames


@dataclass
class LiveAnalyzer:
    """One live stream's state: its tracker, the last answer, recent rows, a recording."""

    answerer: "Answerer"  # its slot yields False while the model is busy with others (then: the last answer)
    options: VideoOptions = field(default_factory=VideoOptions)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tracker = FaceTracker(max_gap=self.options.max_gap)
        self._started = self.clock()
        self._last_rows: list[dict] = []
        self._recent: deque[dict] = deque()
        self._recording: list[dict] | None = None
        self._recorded: list[dict] = []  # the last finished recording
        self._record_started = 0.0
        self._analysed_at: deque[float] = deque(maxlen=STATS_WINDOW)
        self._arrived_at: deque[float] = deque(maxlen=STATS_WINDOW)
        self._latencies: deque[float] = deque(maxlen=STATS_WINDOW)
        self._frames = self._analysed = 0
        self._last_frame_at: float | None = None
        self._black = 0
        self._size = (0, 0)

    # ------------------------------------------------------------------ the stream's thread

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """The frame with the faces drawn on it (this frame's, or the last answer's when busy)."""
        arrived = self.clock()
        seconds = arrived - self._started
        with self._lock:
            self._frames += 1
            self._last_frame_at = arrived
            self._arrived_at.append(arrived)
            self._size = (int(rgb.shape[1]), int(rgb.shape[0]))
            index = self._frames
            self._black = self._black + 1 if float(rgb.max(initial=0)) < 16 else 0
        rows = None
        with self.answerer.slot() as free:
            if free is not False:
                rows = analyze_frame(self.answerer, rgb, index, seconds, self._tracker,
                                     track_time=self._analysed / TRACK_FRAMES_PER_SECOND)
        with self._lock:
            if rows is None:
                rows = self._last_rows
            else:
                self._analysed += 1
                self._analysed_at.append(self.clock())
                self._latencies.append(self.clock() - arrived)
                self._last_rows = rows
                self._recent.extend(rows)
                while self._recent and self._recent[0]["time"] < seconds - RECENT_SECONDS:
                    self._recent.popleft()
                if self._recording is not None and seconds >= self._record_started:  # arrived after Record
                    self._recording.extend({**row, "time": round(row["time"] - self._record_started, 3)}
                                           for row in rows)
        return draw_faces(rgb, rows, bars=True)

    # ------------------------------------------------------------------ the page's thread

    def start_recording(self) -> None:
        with self._lock:
            self._recording = []
            self._record_started = self.clock() - self._started

    def stop_recording(self) -> list[dict]:
        """End the recording; its rows (kept for ``recording`` until the next one starts)."""
        with self._lock:
            if self._recording is not None:
                self._recorded, self._recording = self._recording, None
            return list(self._recorded)

    def recording(self, name: str = "camera") -> VideoAnalysis:
        """The rows recorded so far (the running recording, else the last one) as a video's analysis,
        for the same CSV and JSON downloads."""
        with self._lock:
            rows = list(self._recording if self._recording is not None else self._recorded)
            fps = _rate(self._analysed_at)
            size = self._size
        times = sorted({row["time"] for row in rows})
        info = VideoInfo(fps=round(fps, 2), frame_count=len(times), width=size[0], height=size[1])
        return VideoAnalysis(name=name, info=info, options=self.options, spec=self.answerer.spec, rows=rows, times=times)

    def recent(self) -> list[dict]:
        """The rows of the last ``RECENT_SECONDS``, for the live timeline."""
        with self._lock:
            return list(self._recent)

    def status(self, stall_seconds: float = 3.0) -> LiveStatus:
        with self._lock:
            latencies = list(self._latencies)
            return LiveStatus(
                frames=self._frames, analysed=self._analysed, fps=round(_rate(self._analysed_at), 1),
                camera_fps=round(_rate(self._arrived_at), 1),
                latency_ms=round(statistics.median(latencies) * 1000, 1) if latencies else None,
                faces=len(self._last_rows), recording=self._recording is not None,
                recorded_rows=len(self._recording if self._recording is not None else self._recorded),
                stalled=self._last_frame_at is not None and self.clock() - self._last_frame_at > stall_seconds,
                black=self._black >= 30)



def _rate(times: deque[float]) -> float:
    """Events per second over the recent ``times``."""
    if len(times) < 2:
        return 0.0
    span = times[-1] - times[0]
    return (len(times) - 1) / span if span > 0 else 0.0
