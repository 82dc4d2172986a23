"""The API's Prometheus metrics (``GET /metrics``, through ``prometheus-client``): requests by
endpoint and status, latency, the queue's depth, faces answered, errors by status.

With several worker processes (``serve --workers N``) each writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (``run_server`` makes a fresh one) and any worker's ``/metrics``
serves the sum over all of them (the library's multiprocess mode); with one process they live in
the app's own registry.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
KNOWN_PATHS = ("/v1/predict", "/v1/model", "/health", "/metrics")


class ServeMetrics:
    """One app's metrics. Created per app, so tests' apps do not share counts in one process."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry  # multiprocess: values go to files, read back below
        self.requests = Counter("fer_requests", "HTTP requests answered", ["endpoint", "status"], registry=own)
        self.latency = Histogram("fer_request_seconds", "time from a request's start to its answer", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=own)
        self.queue = Gauge("fer_queue_held", "predict requests held now (uploading, waiting or being answered)",
                           multiprocess_mode="livesum", registry=own)
        self.faces = Counter("fer_faces", "faces classified", registry=own)
        self.errors = Counter("fer_errors", "answers other than 2xx, by status", ["status"], registry=own)
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """A pure ASGI middleware, outermost: counts and times every HTTP answer, 503s from the queue
    included."""

    def __init__(self, app, metrics: ServeMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        started, status = time.perf_counter(), {"code": 500}

        async def watched(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            code = status["code"]
            self.metrics.requests.labels(endpoint, str(code)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            if code >= 300:
                self.metrics.errors.labels(str(code)).inc()
