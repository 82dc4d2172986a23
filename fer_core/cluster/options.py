"""Where and how ``fer_core.cluster.chunks`` runs its chunks: the options and their checks,
apart from Dask itself so that the command line's parser and the settings can name them without
importing ``distributed``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from fer_core.errors import ConfigError
from fer_core.media.collections import CHUNK

PHOTOS_PER_TASK = 12 * CHUNK  # 96: each model call holds the same photos as in one process
SEGMENT_SECONDS = 60.0
CHUNK_TIMEOUT_S = 600.0
RETRIES = 2
CONNECT_TIMEOUT_S = 10.0
ADDRESS_HELP = "local (a worker a core), local:N (N workers on this machine) or tcp://HOST:PORT (a running scheduler)"



@dataclass(frozen=True)
class ClusterOptions:
    """Where and how chunks run. ``address``: see ``ADDRESS_HELP``."""

    address: str = "local"
    chunk_timeout: float = CHUNK_TIMEOUT_S  # seconds from a chunk's submission to its answer
    retries: int = RETRIES  # extra tries of a chunk whose worker died or that timed out
    photos_per_task: int = PHOTOS_PER_TASK
    segment_seconds: float = SEGMENT_SECONDS
    connect_timeout: float = CONNECT_TIMEOUT_S

    def __post_init__(self) -> None:
        local_workers(self.address)  # checks the address
        if not self.chunk_timeout > 0:
            raise ConfigError(f"the chunk timeout must be above 0 seconds, got {self.chunk_timeout}")
        if self.retries < 0:
            raise ConfigError(f"retries must not be negative, got {self.retries}")
        if self.photos_per_task < 1 or self.photos_per_task % CHUNK:
            raise ConfigError(f"photos per task must be a positive multiple of {CHUNK}, got {self.photos_per_task}")
        if not self.segment_seconds >= 1:
            raise ConfigError(f"a video segment must be at least 1 s long, got {self.segment_seconds}")


def local_workers(address: str) -> int | None:
    """Worker processes for a ``local`` address (None: a remote scheduler's address)."""
    match = re.fullmatch(r"local(?::(\d+))?", address.strip())
    if match:
        count = int(match.group(1)) if match.group(1) else (os.cpu_count() or 1)
        if count < 1:
            raise ConfigError("a local cluster needs at least 1 worker")
        return count
    if re.fullmatch(r"(tcp|tls)://[^\s:/]+:\d+", address.strip()):
        return None
    raise ConfigError(f"unknown cluster address '{address}': expected {ADDRESS_HELP}")
