"""The HTTP API: FastAPI endpoints over the same photo path as ``predict`` and the Predict page.

Endpoints:
- ``POST /v1/predict``: one or more images as multipart ``files``; the JSON ``predict`` prints
  (a list, one entry per image: its faces with box, top class, 7 probabilities, landmarks, pose).
- ``GET /v1/model``: the model's card; ``GET /health``: alive, the queue's state; ``/docs``: OpenAPI.

What keeps it serving:
- **A bounded queue.** At most ``queue`` predict requests per process are held at once (uploading,
  waiting or being answered); one more gets 503 with ``Retry-After`` before its body is read. The
  model answers one request at a time (``model_slots``): on 2 cores a second concurrent call only
  shares them (docs/performance.md).
- **The Predict page's caps and checks.** At most ``max_photos`` images per request, each at most
  ``MAX_PHOTO_BYTES`` and decoded by the same guarded decoder (``decode_photo``: decompression
  bombs, truncated files); a request larger than that in all is refused from its Content-Length.
- **Errors are JSON, 4xx for the client's mistakes:** ``{"error": "..."}`` with 400 (no file, an
  empty one), 401 (key), 413 (too big, too many), 415 (not an image type), 422 (not decodable).
  A bug is a 500 with ``{"error": "internal error"}``; its traceback goes to the server's log only.
- **An API key** (``FER_API_KEY``, sent as ``X-API-Key``) guards ``/v1/``; serving beyond loopback
  without one is refused at start. Logs carry request sizes and timings, never image data.
"""


import ipaddress
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from fer_core.data.detection import DEFAULT_DETECTOR, MAX_PHOTO_BYTES
from fer_core.errors import ConfigError

API_KEY_ENV = "FER_API_KEY"
API_KEY_HEADER = "X-API-Key"
OPTIONS_ENV = "FER_SERVE_OPTIONS"  # how uvicorn's worker processes get the options (they import the factory)
RETRY_AFTER_SECONDS = 1
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers, beyond the images themselves
PREDICT_PATH = "/v1/predict"

log = logging.getLogger("fer_core.serve")


@dataclass(frozen=True)
class ServeOptions:
    model: str = "default"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    queue: int = 16
    detector: str = DEFAULT_DETECTOR  # or "none": each image is one face crop
    max_photos: int = 20
    max_photo_bytes: int = MAX_PHOTO_BYTES
    model_slots: int = 1
    operating_point: bool = False  # apply the card's per-class offsets (fer_core.inference.operating_points)

    def check(self) -> None:
        if self.workers < 1 or self.queue < 1 or self.model_slots < 1:
            raise ConfigError("--workers, --queue and the model slots must be at least 1")
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port must be in 1-65535, got {self.port}")

    @property
    def max_request_bytes(self) -> int:
        return self.max_photos * self.max_photo_bytes + MULTIPART_OVERHEAD_BYTES


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required_api_key(host: str, environ: dict[str, str] | None = None) -> str | None:
    """The key from ``FER_API_KEY`` (None: no key asked); a ``ConfigError`` for a host beyond
    loopback without one, or for a key too short to guess at (under 16 characters)."""
    key = (os.environ if environ is None else environ).get(API_KEY_ENV) or None
    if key is None and not is_loopback(host):
        raise ConfigError(f"serving on {host} (beyond this machine) needs an API key: set {API_KEY_ENV} "
                          f"(clients send it as {API_KEY_HEADER})")
    if key is not None and len(key) < 16:
        raise ConfigError(f"{API_KEY_ENV} must be at least 16 characters")
    return key


@dataclass
class QueueState:
    held: int = 0  # predict requests in this process now: uploading, waiting or being answered


class QueueLimit:
    """A pure ASGI middleware: the bounded queue and the request-size cap for ``/v1/predict``,
    applied before the body is read (a refused upload costs the server nothing). One event loop
    per process, so the count needs no lock."""

    def __init__(self, app, state: QueueState, limit: int, max_bytes: int):
        self.app, self.state, self.limit, self.max_bytes = app, state, limit, max_bytes

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
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.held -= 1


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def create_app(options: ServeOptions, api_key: str | None = None, model=None):
    """The FastAPI app. ``model``: an already loaded model (tests); else ``options.model`` is
    loaded once, at start, as ``predict`` loads it (calibrated, the TTA its card ranks best)."""
    from contextlib import asynccontextmanager

    from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import APIKeyHeader
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as AnyHTTPException  # also routing's 404 and 405

    options.check()
    state: dict[str, Any] = {}
    slots = threading.BoundedSemaphore(options.model_slots)

    @asynccontextmanager
    async def lifespan(_app):
        state["model"] = model if model is not None else await run_in_threadpool(_load, options.model,
                                                                                  options.operating_point)
        state["card"] = _card(options.model, state["model"])
        await run_in_threadpool(_warm, state["model"], options.detector)
        yield

    app = FastAPI(title="FER Studio API", version="1", lifespan=lifespan,
                  description="Facial expressions in photos: angry, disgust, fear, happy, sad, surprise, neutral.")
    queue = QueueState()
    app.add_middleware(QueueLimit, state=queue, limit=options.queue, max_bytes=options.max_request_bytes)
    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def check_key(given: str | None = Depends(key_header)) -> None:
        if api_key is not None and (given is None or not secrets.compare_digest(given.encode(), api_key.encode())):
            raise HTTPException(401, "missing or wrong API key" + (f" (send it as {API_KEY_HEADER})" if not given
                                                                   else ""))

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

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": state["card"]["file"], "held": queue.held, "queue": options.queue}

    @app.get("/v1/model", dependencies=[Depends(check_key)])
    def model_card() -> dict:
        return state["card"]

    @app.post(PREDICT_PATH, dependencies=[Depends(check_key)])
    async def predict(files: list[UploadFile] = File(..., description="images (jpg, png, webp, ...)"),
                      whole_image_if_no_face: bool = False) -> list[dict]:
        photos = [(upload.filename or f"image{k}", await _read_checked(upload, options))
                  for k, upload in enumerate(_checked_count(files, options), 1)]
        started = time.perf_counter()
        results = await run_in_threadpool(_analyze, state["model"], photos, options, whole_image_if_no_face, slots)
        bad = [r for r in results if r.error is not None]
        if bad:
            raise HTTPException(422, "; ".join(f"{r.name}: {r.error}" for r in bad))
        log.info("predict: %d image(s), %d bytes, %d face(s), %.0f ms", len(photos), sum(len(d) for _, d in photos),
                 sum(len(r.faces) for r in results), 1000 * (time.perf_counter() - started))
        return [r.to_dict() for r in results]

    def _checked_count(files: list, opts: ServeOptions) -> list:
        if not files:
            raise HTTPException(400, "send one or more images as multipart form field 'files'")
        if len(files) > opts.max_photos:
            raise HTTPException(413, f"{len(files)} images; at most {opts.max_photos} per request")
        return files

    async def _read_checked(upload, opts: ServeOptions) -> bytes:
        kind = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
        if not (kind.startswith("image/") or kind == "application/octet-stream"):
            raise HTTPException(415, f"{upload.filename}: content type {kind} is not an image")
        data = await upload.read(opts.max_photo_bytes + 1)
        if not data:
            raise HTTPException(400, f"{upload.filename}: empty file")
        if len(data) > opts.max_photo_bytes:
            raise HTTPException(413, f"{upload.filename}: larger than {opts.max_photo_bytes // 2**20} MB")
        return data

    return app


def _load(model: str, operating_point: bool):
    from fer_core.inference.loading import load_model

    return load_model(model, tta="auto", calibrated=True, operating_point=operating_point)


def _warm(model, detector: str) -> None:
    import numpy as np

    from fer_core.data.detection import get_detector
    from fer_core.inference.runtime import predict_probabilities

    predict_probabilities(model, np.zeros((1, 48, 48), dtype=np.uint8))
    if detector != "none":
        get_detector(detector).detect(np.zeros((64, 64, 3), dtype=np.uint8))


def _analyze(model, photos, options: ServeOptions, whole_image_if_no_face: bool, slots: threading.BoundedSemaphore):
    from fer_core.inference.photos import analyze_photos

    whole = options.detector == "none"
    with slots:
        return analyze_photos(model, photos, detector=DEFAULT_DETECTOR if whole else options.detector,
                              whole_image=whole, whole_image_if_no_face=whole_image_if_no_face)


def _card(model_name: str, model) -> dict:
    """The card ``GET /v1/model`` returns: the exported model's own, or the ``.keras`` file's."""
    from fer_core.inference.cards import read_model_card
    from fer_core.inference.loading import existing_model_path

    path = existing_model_path(model_name)
    runtime = {".onnx": "onnxruntime", ".tflite": "litert"}.get(path.suffix.lower(), "keras")
    card = getattr(model, "card", None) if runtime != "keras" else read_model_card(path)
    return {**(card or {}), "file": path.name, "runtime": runtime}


def app_from_environment():
    """uvicorn's factory in each worker process: the options the parent put in ``FER_SERVE_OPTIONS``."""
    options = ServeOptions(**json.loads(os.environ[OPTIONS_ENV]))
    return create_app(options, api_key=required_api_key(options.host))


def run_server(options: ServeOptions) -> int:
    """Serve until stopped (Ctrl-C, SIGTERM). Refuses, before loading anything, a host beyond
    loopback without an API key and bad options."""
    import uvicorn

    options.check()
    api_key = required_api_key(options.host)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if options.workers == 1:
        uvicorn.run(create_app(options, api_key), host=options.host, port=options.port, log_level="info")
    else:
        os.environ[OPTIONS_ENV] = json.dumps(asdict(options))
        uvicorn.run("fer_core.serve.server:app_from_environment", factory=True, host=options.host,
                    port=options.port, workers=options.workers, log_level="info")
    return 0
