"""The HTTP API: FastAPI endpoints over the same photo path as ``predict`` and the Predict page.

Endpoints:
- ``POST /v1/predict``: one or more images as multipart ``files``; the JSON ``predict`` prints
  (a list, one entry per image: its faces with box, top class, 7 probabilities, landmarks, pose).
- ``GET /v1/model``: the model's card; ``GET /health``: alive, the queue's state; ``/docs``: OpenAPI,
  with each answer's schema (``fer_core.serve.schemas``). The routes are in ``fer_core.serve.routes``.
- How it answers is one ``AnswerSpec`` (``fer_core.answering.spec``), as for ``predict`` and
  the Predict page: the same photo and spec give the same JSON in all three.

What keeps it serving:
- **A bounded queue.** At most ``queue`` predict requests per process are held at once (uploading,
  waiting or being answered); one more gets 503 with ``Retry-After`` before its body is read. The
  model answers one request at a time (``model_slots``, through the dashboard's ``ModelGate``): on
  2 cores a second concurrent call only shares them (docs/performance.md).
- **The Predict page's caps and checks.** At most ``max_photos`` images per request, each at most
  ``MAX_PHOTO_BYTES`` and decoded by the same guarded decoder (``decode_photo``: decompression
  bombs, truncated files); a request larger than that in all is refused from its Content-Length.
- **Errors are JSON, 4xx for the client's mistakes:** ``{"error": "..."}`` with 400 (no file, an
  empty one), 401 (key), 413 (too big, too many), 415 (not an image type), 422 (not decodable).
  A bug is a 500 with ``{"error": "internal error"}``; its traceback goes to the server's log only.
- **An API key** (``FER_API_KEY``, sent as ``X-API-Key``) guards ``/v1/``; serving beyond loopback
  without one is refused at start. Logs carry request sizes and timings, never image data.
"""


import dataclasses
import json
import logging
import os
from dataclasses import asdict

from fer_core.answering.answerer import Answerer
from fer_core.answering.spec import AnswerSpec, share_cores
from fer_core.serve.config import (API_KEY_ENV, OPTIONS_ENV, PREDICT_PATH, RETRY_AFTER_SECONDS, QueueState,
                                   ServeOptions, required_api_key)

__all__ = ["API_KEY_ENV", "ServeOptions", "create_app", "model_info", "required_api_key", "run_server"]

log = logging.getLogger("fer_core.serve")


class QueueLimit:
    """A pure ASGI middleware: the bounded queue and the request-size cap for ``/v1/predict``,
    applied before the body is read (a refused upload costs the server nothing). One event loop
    per process, so the count needs no lock."""

    def __init__(self, app, state: QueueState, limit: int, max_bytes: int, gauge=None):
        self.app, self.state, self.limit, self.max_bytes, self.gauge = app, state, limit, max_bytes, gauge

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PREDICT_PATH:
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_json(send, 413, {"error": f"request too large ({int(length) / 2**20:.0f} MB; the "
                                                         f"limit is {self.max_bytes / 2**20:.0f} MB)"})
        if self.state.held >= self.limit:
            return await _send_json(send, 503, {"error": f"busy: {self.state.held} requests held; retry shortly"},
                                    [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])
        self.state.held += 1
        if self.gauge is not None:
            self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.held -= 1
            if self.gauge is not None:
                self.gauge.dec()


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def create_app(options: ServeOptions, spec: AnswerSpec, api_key: str | None = None,
               answerer: Answerer | None = None):
    """The FastAPI app. ``answerer``: one already loaded (tests); else ``spec.load()`` once, at
    start, then ``Answerer.warm``: ``/health`` answers only after both."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as AnyHTTPException  # also routing's 404 and 405

    from fer_core.answering.gate import ModelGate
    from fer_core.serve.routes import Serving, router

    from fer_core.serve.metrics import MetricsMiddleware, ServeMetrics

    options.check()
    metrics = ServeMetrics()
    serving = Serving(options=options, spec=spec, api_key=api_key, gate=ModelGate(options.model_slots),
                      queue=QueueState(), metrics=metrics)

    @asynccontextmanager
    async def lifespan(app):
        loaded = answerer if answerer is not None else await run_in_threadpool(spec.load)
        await run_in_threadpool(loaded.warm)
        serving.answerer, serving.card = loaded, model_info(loaded)
        app.state.serving = serving
        yield

    app = FastAPI(title="FER Studio API", version="1", lifespan=lifespan,
                  description="Facial expressions in photos: angry, disgust, fear, happy, sad, surprise, neutral.")
    app.state.serving = serving
    app.add_middleware(QueueLimit, state=serving.queue, limit=options.queue, max_bytes=options.max_request_bytes,
                       gauge=metrics.queue)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # added last: the outermost, so it sees the 503s too

    @app.exception_handler(AnyHTTPException)
    async def http_error(_request: Request, exc: AnyHTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        missing = any(e.get("type") == "missing" for e in exc.errors())
        return JSONResponse({"error": "send one or more images as multipart form field 'files'" if missing
                             else f"bad request: {exc.errors()[0].get('msg', '')}"}, status_code=400 if missing else 422)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception):
        log.exception("internal error")  # the traceback stays in the server's log
        return JSONResponse({"error": "internal error"}, status_code=500)

    app.include_router(router)
    return app


def model_info(answerer: Answerer) -> dict:
    """What ``GET /v1/model`` returns: the model's card (an export's own, or the ``.keras`` file's),
    what runs it and the spec it answers with."""
    from fer_core.export.exporting import runtime_of

    spec = answerer.spec
    return {**answerer.card.data, "file": spec.model.name, "runtime": runtime_of(spec.model),
            "answer": spec.describe()}


def app_from_environment():
    """uvicorn's factory in each worker process: the options and spec the parent put in
    ``FER_SERVE_OPTIONS``."""
    given = json.loads(os.environ[OPTIONS_ENV])
    options = ServeOptions(**given["options"])
    return create_app(options, AnswerSpec.from_description(given["spec"]), api_key=required_api_key(options.host))


def run_server(options: ServeOptions, spec: AnswerSpec) -> int:
    """Serve until stopped (Ctrl-C, SIGTERM). Refuses, before loading anything, a host beyond
    loopback without an API key and bad options."""
    import uvicorn

    options.check()
    api_key = required_api_key(options.host)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if options.workers == 1:
        uvicorn.run(create_app(options, spec, api_key), host=options.host, port=options.port, log_level="info")
    else:
        import tempfile

        from fer_core.serve.metrics import MULTIPROC_ENV

        # each worker its share of the cores (unless the spec's threads, the cpu_threads setting, say
        # otherwise), inside the spec it is handed: processes that each spread a model call over
        # every core only wait for each other. uvicorn's workers take no arguments: its factory
        # reads the options and the spec from the one variable it can (OPTIONS_ENV).
        spec = dataclasses.replace(spec, threads=share_cores(options.workers, spec.threads))
        os.environ[OPTIONS_ENV] = json.dumps({"options": asdict(options), "spec": spec.describe()})
        # the workers' metrics, summed by any worker's /metrics: a fresh folder per server (the library asks it)
        os.environ[MULTIPROC_ENV] = metrics_dir = tempfile.mkdtemp(prefix="fer-serve-metrics-")
        uvicorn.run("fer_core.serve.server:app_from_environment", factory=True, host=options.host,
                    port=options.port, workers=options.workers, log_level="info")
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
