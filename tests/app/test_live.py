"""The live camera's words beside the video, for each state of a stream."""

from __future__ import annotations

from fer_core.app.live import status_words
from fer_core.media.live import LiveStatus


def test_each_state_of_the_stream_has_its_message():
    kind, words = status_words(LiveStatus(), playing=False)
    assert kind == "info" and words.startswith("Press **Start** to stream your camera.")
    assert "if it is refused or absent, use the snapshot camera below" in words  # the camera refused: the snapshot
    assert status_words(LiveStatus(), playing=True) == ("info", "Connecting ... (waiting for the first frame from "
                                                                "the camera)")
    kind, words = status_words(LiveStatus(frames=40, analysed=30, fps=14.2, camera_fps=15.0, latency_ms=61.0,
                                          faces=2), True)
    assert kind == "success" and words.startswith("Live: 14.2 frames/s analysed (of 15.0 arriving), latency 61 ms")
    assert "2 face(s)" in words
    kind, words = status_words(LiveStatus(frames=40, stalled=True, recorded_rows=12), True)
    assert kind == "warning" and "stopped sending frames" in words and "still below" in words
    kind, words = status_words(LiveStatus(frames=40, black=True), True)
    assert kind == "warning" and "only black frames" in words
    assert "recording, 7 rows" in status_words(LiveStatus(frames=9, recording=True, recorded_rows=7), True)[1]
