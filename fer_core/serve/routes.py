"""The API's routes: ``/health``, ``/v1/model`` and ``/v1/predict``, with typed answers
(``fer_core.serve.schemas``) and what each needs as typed dependencies (the server's ``Serving``,
the API key check). ``fer_core.serve.server`` assembles them into the app."""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, Response, UploadFile
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from fer_core.answering.answerer import Answerer
from fer_core.answering.spec import AnswerSpec
from fer_core.answering.gate import ModelGate
from fer_core.serve.config import API_KEY_HEADER, PREDICT_PATH, QueueState, ServeOptions
from fer_core.serve.schemas import ErrorAnswer, Health, ModelInfo, PhotoAnswer

log = logging.getLogger("fer_core.serve")


@dataclass
class Serving:
    """One server process's state: its options, spec, key, gate and queue count; the ``Answerer``
    (model and card) and what ``/v1/model`` says, once loaded and warmed (the app's lifespan)."""

    options: ServeOptions
    spec: AnswerSpec
    api_key: str | None
    gate: ModelGate
    queue: QueueState
    metrics: Any = None  # ServeMetrics (fer_core.serve.metrics)
    answerer: Answerer | None = None
    card: dict[str, Any] = field(default_factory=dict)


def serving(request: Request) -> Serving:
    return request.app.state.serving


ServingDep = Annotated[Serving, Depends(serving)]
_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


def check_key(state: ServingDep, given: Annotated[str | None, Depends(_key_header)]) -> None:
    if state.api_key is not None and (given is None or not secrets.compare_digest(given.encode(),
                                                                                   state.api_key.encode())):
        raise HTTPException(401, "missing or wrong API key" + (f" (send it as {API_KEY_HEADER})" if not given else ""))


ERRORS = {code: {"model": ErrorAnswer} for code in (400, 401, 413, 415, 422, 503)}
router = APIRouter()
keyed = APIRouter(dependencies=[Depends(check_key)], responses=ERRORS)


@router.get("/health", response_model=Health)
def health(state: ServingDep) -> dict:
    """Answers only once the model and the detector are loaded and warmed up (the app's start)."""
    return {"status": "ok", "model": state.spec.model.name, "held": state.queue.held, "queue": state.options.queue,
            "pid": os.getpid(), "device": state.answerer.device if state.answerer is not None else "cpu"}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(state: ServingDep) -> Response:
    """Prometheus's text format: requests, latency, queue depth, faces, errors (all workers')."""
    return Response(state.metrics.exposition(), media_type=state.metrics.content_type)


@keyed.get("/v1/model", response_model=ModelInfo)
def model_card(state: ServingDep) -> dict:
    return state.card


@keyed.post(PREDICT_PATH, response_model=list[PhotoAnswer])
async def predict(state: ServingDep,
                  files: Annotated[list[UploadFile], File(description="images (jpg, png, webp, ...)")],
                  whole_image_if_no_face: bool = False) -> list[dict]:
    photos = [(upload.filename or f"image{k}", await _read_checked(upload, state.options))
              for k, upload in enumerate(_checked_count(files, state.options), 1)]
    started = time.perf_counter()
    results = await run_in_threadpool(_analyze, state, photos, whole_image_if_no_face)
    bad = [r for r in results if r.error is not None]
    if bad:
        raise HTTPException(422, "; ".join(f"{r.name}: {r.error}" for r in bad))
    state.metrics.faces.inc(sum(len(r.faces) for r in results))
    log.info("predict: %d image(s), %d bytes, %d face(s), %.0f ms", len(photos), sum(len(d) for _, d in photos),
             sum(len(r.faces) for r in results), 1000 * (time.perf_counter() - started))
    return [r.to_dict() for r in results]


router.include_router(keyed)


def _analyze(state: Serving, photos: list[tuple[str, bytes]], whole_image_if_no_face: bool):
    with state.gate.slot():
        return state.answerer.photos(photos, whole_image_if_no_face)


def _checked_count(files: list, options: ServeOptions) -> list:
    if not files:
        raise HTTPException(400, "send one or more images as multipart form field 'files'")
    if len(files) > options.max_photos:
        raise HTTPException(413, f"{len(files)} images; at most {options.max_photos} per request")
    return files


async def _read_checked(upload: UploadFile, options: ServeOptions) -> bytes:
    kind = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not (kind.startswith("image/") or kind == "application/octet-stream"):
        raise HTTPException(415, f"{upload.filename}: content type {kind} is not an image")
    data = await upload.read(options.max_photo_bytes + 1)
    if not data:
        raise HTTPException(400, f"{upload.filename}: empty file")
    if len(data) > options.max_photo_bytes:
        raise HTTPException(413, f"{upload.filename}: larger than {options.max_photo_bytes // 2**20} MB")
    return data
