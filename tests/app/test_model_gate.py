"""The model gate (the dashboard's and the API's): however many sessions ask at once, at most N model calls run."""

from __future__ import annotations

import threading
import time

from fer_core.answering.gate import ModelGate


def test_at_most_n_calls_run_at_once_and_the_rest_wait_their_turn():
    gate = ModelGate(slots=1)
    running, peak, seen_waiting = [0], [0], []
    lock = threading.Lock()

    def call():
        with gate.slot():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                seen_waiting.append(gate.waiting)
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak[0] == 1 and max(seen_waiting) >= 1  # one at a time; the others were seen queuing
    assert gate.waiting == 0 and gate.busy == 0

    two = ModelGate(slots=2)
    running[0] = peak[0] = 0
    gate = two
    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak[0] == 2


def test_a_failing_call_gives_its_slot_back():
    gate = ModelGate(slots=1)
    try:
        with gate.slot():
            raise RuntimeError("the model failed")
    except RuntimeError:
        pass
    with gate.slot():  # would block forever if the slot had leaked
        assert gate.busy == 1


def test_a_live_stream_does_not_starve_a_waiting_photo():
    """A stream asks for the model between every two frames; a photo request that waits for a turn
    gets the next one, because the stream takes a turn only when nobody waits."""
    gate = ModelGate(1)
    stop = threading.Event()
    stream_turns = []

    def stream():
        while not stop.is_set():
            with gate.turn_if_free() as got:
                if got:
                    stream_turns.append(time.monotonic())
                    time.sleep(0.02)  # a frame's detection and classification

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        time.sleep(0.2)
        waits = []
        for _ in range(5):
            asked = time.monotonic()
            with gate.slot():
                waits.append(time.monotonic() - asked)
                time.sleep(0.05)  # a photo
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert len(stream_turns) > 10  # the stream did run between the photos
    assert max(waits) < 0.1, waits  # each photo waited for at most the frame in progress


def test_turn_if_free_refuses_while_someone_waits():
    gate = ModelGate(1)
    with gate.slot():
        with gate.turn_if_free() as got:
            assert got is False  # busy
    gate.waiting = 1  # someone in line
    with gate.turn_if_free() as got:
        assert got is False
    gate.waiting = 0
    with gate.turn_if_free() as got:
        assert got is True and gate.busy == 1
    assert gate.busy == 0


def test_streamlit_no_longer_clears_the_keras_session_after_each_run():
    """Streamlit's own cleanup called keras.backend.clear_session() after every script run, which
    threw away the cached models' compiled functions (fer_core.app.startup says what it cost)."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    from fer_core.app.startup import start

    start()  # replaces the cleanup

    calls = []
    original = keras.backend.clear_session
    keras.backend.clear_session = lambda *a, **k: calls.append(1)
    try:
        script_runner._clean_problem_modules()
    finally:
        keras.backend.clear_session = original
    assert calls == [] and script_runner._clean_problem_modules.fer_keeps_keras
