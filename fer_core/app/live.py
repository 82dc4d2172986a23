"""The Predict page's live camera: the browser's camera streamed over WebRTC (``streamlit-webrtc``)
to a ``LiveAnalyzer`` and back, with a live timeline, the frame rate, the latency, and Record/Stop.

The stream never leaves the machines involved: with no ICE servers configured, browser and server
connect directly (localhost or one network). A remote server needs HTTPS (browsers give the camera
to secure pages only) and, across NAT, the user's own TURN server: the ``webrtc_ice_servers``
setting (``fer_core.settings``). Each session has its own analyzer, kept in its session state;
frames take their turn at the model through the server's gate (``ModelGate.turn_if_free``).

aiortc's SRTP library must load before TensorFlow in a process (else a segmentation fault):
``fer_core/app/__init__.py`` imports it first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from fer_core.app.dashboard import cached_model, model_gate
from fer_core.inference.live import LiveAnalyzer, LiveStatus
from fer_core.inference.video_analysis import VideoOptions
from fer_core.settings import Settings

LIVE_KEY = "live_analyzer"
CAMERA_SIZE = {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}}


def live_analyzer(model_path: Path, tta: str, detector: str, margin: float,
                  operating_point: bool = False) -> LiveAnalyzer:
    """This session's analyzer, made again when the model or the face settings change."""
    key = (str(model_path), model_path.stat().st_mtime_ns, tta, detector, margin, operating_point)
    held = st.session_state.get(LIVE_KEY)
    if held is None or held[0] != key:
        analyzer = LiveAnalyzer(cached_model(model_path, tta, True, operating_point),
                                VideoOptions(detector=detector, margin=margin), model_slot=model_gate().turn_if_free)
        held = st.session_state[LIVE_KEY] = (key, analyzer)
    return held[1]


def frame_callback(analyzer: LiveAnalyzer):
    """The function streamlit-webrtc calls with each frame, on the stream's thread. A failure inside
    is logged and the frame goes back as it came: the stream keeps playing."""
    log = logging.getLogger("fer_core.live")

    def callback(frame):
        import av

        rgb = frame.to_ndarray(format="rgb24")
        try:
            out = analyzer.process(rgb)
        except Exception:  # a bug must not end the user's stream; it goes to the log with its traceback
            log.exception("live frame failed")
            out = rgb
        return av.VideoFrame.from_ndarray(out, format="rgb24")

    return callback


def stream(analyzer: LiveAnalyzer, config: Settings):
    """The WebRTC video element (Start/Stop, the camera picker) with the answers drawn in; None
    where the component cannot run here (then the page offers the snapshot camera). A bad
    ``webrtc_ice_servers`` setting is a ``ConfigError``."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    ice_servers = config.ice_servers()
    try:
        return webrtc_streamer(key="live", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice_servers},
                               media_stream_constraints={"video": CAMERA_SIZE, "audio": False},
                               video_frame_callback=frame_callback(analyzer), async_processing=True)
    except Exception:  # the component's own failure (no server runtime, as under AppTest): logged, then the page's words
        logging.getLogger("fer_core.live").exception("the WebRTC component could not start")
        return None


def status_words(status: LiveStatus, playing: bool) -> tuple[str, str]:
    """(kind, message) for the line beside the video: 'info', 'warning' or 'success'."""
    if not playing:
        return "info", ("Press **Start** to stream your camera. The browser asks for the camera first; if it is "
                        "refused or absent, use the snapshot camera below.")
    if status.frames == 0:
        return "info", "Connecting ... (waiting for the first frame from the camera)"
    if status.stalled:
        return "warning", ("The camera stopped sending frames (the stream dropped, or the tab was hidden). "
                           "What was recorded is still below.")
    if status.black:
        return "warning", "The camera sends only black frames: is it covered, or used by another program?"
    latency = "-" if status.latency_ms is None else f"{status.latency_ms:.0f} ms"
    return "success", (f"Live: {status.fps:.1f} frames/s analysed (of {status.camera_fps:.1f} arriving), latency "
                       f"{latency} (frame in to answer out), {status.faces} face(s) now"
                       + (f"; recording, {status.recorded_rows} rows" if status.recording else ""))
