"""Turns at the model: at most N model calls (face detection and classification) at once in a
process, shared by every session of the dashboard (``fer_core.app.cache.model_gate``) and every
request of the HTTP API (``fer_core.serve``)."""

from __future__ import annotations

import contextlib
import threading


class ModelGate:
    """At most ``slots`` model calls (detection and classification) at once across every session
    of this server; the others wait. Why: on a 2-core machine, eight sessions calling TensorFlow at
    once share the cores eight ways and each waits for all (upload-to-answer was p50 29 s with 8
    browser clients); taking turns keeps every answer as fast as the machine allows, and one heavy
    user's 50 photos go through in turns with everyone else's."""

    def __init__(self, slots: int):
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self.waiting = 0  # requests queued for a slot now
        self.busy = 0  # requests holding one

    @contextlib.contextmanager
    def slot(self):
        with self._lock:
            self.waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        with self._lock:
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
            self._slots.release()

    @contextlib.contextmanager
    def turn_if_free(self):
        """A slot only if one is free now and nobody is waiting for one; yields whether it got it.
        For a live stream's frames: a stream asks 15 or more times a second, and a semaphore does not
        serve waiters in order, so a stream that asked again at once could keep a waiting photo
        upload out. Without a turn the frame goes back with the last answer (``fer_core.media.live``)."""
        with self._lock:
            got = not self.waiting and self._slots.acquire(blocking=False)
            if got:
                self.busy += 1
        try:
            yield got
        finally:
            if got:
                with self._lock:
                    self.busy -= 1
                self._slots.release()
