"""What a server process is told (``ServeOptions``: address, processes, limits), the API key rule,
and the names the server and its routes share. No FastAPI here: the command line reads it first."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from fer_core.faces.images import MAX_PHOTO_BYTES
from fer_core.errors import ConfigError

API_KEY_ENV = "FER_API_KEY"
API_KEY_HEADER = "X-API-Key"
OPTIONS_ENV = "FER_SERVE_OPTIONS"  # how uvicorn's worker processes get the options (they import the factory)
RETRY_AFTER_SECONDS = 1
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers, beyond the images themselves
PREDICT_PATH = "/v1/predict"


@dataclass(frozen=True)
class ServeOptions:
    """How the server serves (address, processes, limits); how it answers is the ``AnswerSpec``."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    queue: int = 16
    max_photos: int = 20
    max_photo_bytes: int = MAX_PHOTO_BYTES
    model_slots: int = 1

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
