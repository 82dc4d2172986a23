"""The live camera's analyzer: frames in, overlays out, turns at the model, recording, bad streams."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from PIL import Image

from fer_core.faces.images import decode_photo
from fer_core.media.live import LiveAnalyzer
from fer_core.media.video import FRAME_COLUMNS
from tests.conftest import SHARED_PHOTOS, needs_photos, answer_with


@pytest.fixture(scope="module")
def model():
    from fer_core.runtime.loading import load_model

    return load_model("default")


def frame_of(photo: str = "fr_obama.jpg", size=(640, 480)) -> np.ndarray:
    image = decode_photo((SHARED_PHOTOS / photo).read_bytes())
    image.thumbnail(size)
    frame = Image.new("RGB", size, (90, 90, 90))
    frame.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return np.asarray(frame)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@needs_photos
def test_a_frame_comes_back_with_its_face_drawn_and_counted(model):
    analyzer = LiveAnalyzer(answer_with(model))
    frame = frame_of()
    out = analyzer.process(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8 and not np.array_equal(out, frame)
    status = analyzer.status()
    assert status.frames == status.analysed == 1 and status.faces == 1 and status.latency_ms > 0
    (row,) = analyzer.recent()
    assert row["person"] == 1 and row["top"] in FRAME_COLUMNS and row["yaw"] is not None


@needs_photos
def test_a_busy_model_sends_the_frame_back_with_the_last_answer(model):
    busy = False

    @contextlib.contextmanager
    def slot():
        yield not busy

    analyzer = LiveAnalyzer(answer_with(model).with_slot(slot))
    analyzer.process(frame_of())
    busy = True
    out = analyzer.process(frame_of())
    status = analyzer.status()
    assert status.frames == 2 and status.analysed == 1 and status.faces == 1
    assert not np.array_equal(out, frame_of())  # the last answer is drawn on the new frame


@needs_photos
def test_record_then_stop_keeps_the_rows_in_the_video_format(model):
    clock = Clock()
    analyzer = LiveAnalyzer(answer_with(model), clock=clock)
    analyzer.process(frame_of())  # before the recording: not in it
    analyzer.start_recording()
    for _ in range(3):
        clock.now += 0.1
        analyzer.process(frame_of())
    assert analyzer.status().recording and analyzer.status().recorded_rows == 3
    rows = analyzer.stop_recording()
    clock.now += 0.1
    analyzer.process(frame_of())  # after Stop: not in it either
    recorded = analyzer.recording("camera")
    assert len(rows) == len(recorded.rows) == 3 and list(recorded.table().columns) == FRAME_COLUMNS
    assert [r["time"] for r in rows] == pytest.approx([0.1, 0.2, 0.3], abs=1e-6)  # from the Record press
    assert json.loads(recorded.to_json())["sampled_frames"] == 3


@needs_photos
def test_a_stream_that_stops_keeps_its_recording_and_says_so(model):
    clock = Clock()
    analyzer = LiveAnalyzer(answer_with(model), clock=clock)
    analyzer.start_recording()
    analyzer.process(frame_of())
    clock.now += 10  # no frame for 10 s: the stream dropped, or the tab was closed
    status = analyzer.status()
    assert status.stalled and status.recorded_rows == 1
    assert len(analyzer.recording().rows) == 1  # still there to download


def test_black_frames_and_no_faces_give_a_status_not_an_error(model):
    analyzer = LiveAnalyzer(answer_with(model))
    black = np.zeros((480, 640, 3), np.uint8)
    for _ in range(30):
        assert analyzer.process(black).shape == black.shape
    status = analyzer.status()
    assert status.black and status.faces == 0 and analyzer.recent() == []


@needs_photos
def test_a_frame_with_twenty_faces(model):
    face = decode_photo((SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
    face = face.crop((face.width // 4, 0, face.width * 3 // 4, face.height // 2)).resize((120, 120))
    frame = Image.new("RGB", (1280, 720), (90, 90, 90))
    for k in range(20):
        frame.paste(face, (20 + (k % 5) * 250, 20 + (k // 5) * 175))
    analyzer = LiveAnalyzer(answer_with(model))
    out = analyzer.process(np.asarray(frame))
    assert out.shape == (720, 1280, 3)
    assert analyzer.status().faces == 20  # found in the frame's tiles (fer_core.faces.blazeface)
    assert len({row["person"] for row in analyzer.recent()}) == analyzer.status().faces
