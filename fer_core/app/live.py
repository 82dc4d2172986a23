"""The Predict page's live camera: the browser's camera streamed over WebRTC (``streamlit-webrtc``)
to a ``LiveAnalyzer`` and back, with a live timeline, the frame rate, the latency, and Record/Stop.

The stream never leaves the machines involved: with no ICE servers configured, browser and server
connect directly (localhost or one network). A remote server needs HTTPS (browsers give the camera
to secure pages only) and, across NAT, the user's own TURN server: the ``webrtc_ice_servers``
setting (``fer_core.settings``). Each session has its own analyzer, kept in its session state;
frames take their turn at the model through the server's gate (``ModelGate.turn_if_free``).

aiortc's SRTP library must load before TensorFlow in a process (else a segmentation fault):
``fer_core.app.startup.start`` imports it first.
"""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from fer_core.app.cache import cached_answerer, model_gate
from fer_core.app.media import kept_answer
from fer_core.charts import emotion_timeline
from fer_core.errors import FerError
from fer_core.answering.spec import AnswerSpec
from fer_core.media.live import LiveAnalyzer, LiveStatus
from fer_core.media.video import VideoOptions, smooth_timeline
from fer_core.settings import Settings

LIVE_KEY = "live_analyzer"
CAMERA_SIZE = {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}}


def live_analyzer(spec: AnswerSpec) -> LiveAnalyzer:
    """This session's analyzer, made again when the spec (or its model's file) changes."""
    return kept_answer(LIVE_KEY, spec.cache_key(), lambda: LiveAnalyzer(
        cached_answerer(spec, model_gate().turn_if_free), VideoOptions()))  # a frame takes a turn only if free


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


def live_section(spec: AnswerSpec, config: Settings) -> None:
    """The Predict page's "Live camera" mode: the stream, its status panel and the recording's downloads."""
    analyzer = live_analyzer(spec)
    left, right = st.columns([3, 2])
    with left:
        try:
            context = stream(analyzer, config)
        except FerError as exc:
            st.error(f"The live camera cannot start: {exc}")
            return
        if context is None:
            st.warning("The live camera is not available on this server. Choose **Photos** above and take a "
                       "snapshot with the camera instead.")
            return
        st.caption("Streams between this browser and the server only. A server on another machine needs HTTPS "
                   "(browsers give the camera to secure pages only) and, across NAT, your own TURN server: "
                   "`webrtc_ice_servers` in `.streamlit/secrets.toml` or `FER_WEBRTC_ICE_SERVERS`. No picture? "
                   "Choose **Photos** above and take a snapshot with the camera instead.")
    with right:
        live_panel(analyzer, bool(context.state.playing))
        recorded = analyzer.recording("camera")
        if recorded.rows and not analyzer.status().recording:  # here, not in the panel that redraws each second
            a, b = st.columns(2)
            a.download_button("Download the recording (CSV)", recorded.table().to_csv(index=False),
                              "fer_camera.csv", "text/csv", key="live_csv")
            b.download_button("Download the recording (JSON)", recorded.to_json(), "fer_camera.json",
                              "application/json", key="live_json")


@st.fragment(run_every=1)
def live_panel(analyzer: LiveAnalyzer, playing: bool) -> None:
    """Redrawn each second: the status line, Record/Stop and the last minute's timelines."""
    status = analyzer.status()
    kind, words = status_words(status, playing)
    getattr(st, kind)(words)
    record, stop = st.columns(2)
    if record.button("Record", disabled=status.recording, key="live_record"):
        analyzer.start_recording()
        st.rerun(scope="fragment")
    if stop.button("Stop", disabled=not status.recording, key="live_stop"):
        analyzer.stop_recording()
        st.rerun()  # the whole page: the downloads below the panel
    recent = pd.DataFrame(analyzer.recent())
    if not recent.empty:  # the last minute, a timeline per person in view
        shown = smooth_timeline(recent, 3)
        for person in sorted(shown["person"].unique())[:4]:
            st.plotly_chart(emotion_timeline(shown, person, 3), key=f"live_timeline-{person}")
