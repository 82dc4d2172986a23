"""The dashboard's model gate: however many sessions ask at once, at most N model calls run."""

from __future__ import annotations

import threading
import time

from fer_core.app.dashboard import ModelGate


def test_at_most_n_calls_run_at_once_and_the_rest_wait_their_turn():
    gate = ModelGate(workers=1)
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

    two = ModelGate(workers=2)
    running[0] = peak[0] = 0
    gate = two
    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak[0] == 2


def test_a_failing_call_gives_its_slot_back():
    gate = ModelGate(workers=1)
    try:
        with gate.slot():
            raise RuntimeError("the model failed")
    except RuntimeError:
        pass
    with gate.slot():  # would block forever if the slot had leaked
        assert gate.busy == 1
