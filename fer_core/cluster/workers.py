"""Connecting to a Dask cluster and holding the model on its workers: the ``ClusterSession`` that
``connect`` opens, the check that an address is a scheduler, the worker plugin that loads the
model once per worker, and what the workers can be asked (threads, peak memory).

Why a session, not a bare ``Client``: Dask's scheduler keeps a registered worker plugin and sets it
up on every worker that joins later, so one check-and-register per model and session is enough.
``predict --cluster`` with several collections and videos used to ask every worker (one
``client.run`` round trip) for each input; now it asks once, the first time a model is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from fer_core.answering.answerer import Answerer
from fer_core.answering.spec import AnswerSpec, share_cores
from fer_core.cluster.options import ClusterOptions, local_workers
from fer_core.errors import ConfigError
from fer_core.runtime.cards import card_path


@dataclasses.dataclass
class ClusterSession:
    """A connected ``client`` and the model plugins its workers are known to hold: each worker
    spec's ``cache_key`` (its fields and the model file's mtime) -> the plugin's name."""

    client: Client
    plugins: dict[tuple, str] = dataclasses.field(default_factory=dict)

    def model_plugin(self, spec: AnswerSpec, options: ClusterOptions) -> str:
        """The name of the plugin that holds the spec's model on every worker. The first time in this
        session: registered where a worker lacks it (a remote scheduler may keep it from an earlier
        session, so a page that connects for each collection does not reload the model on every
        worker each time); then remembered, with no round trip and no second read of the model file."""
        answering = worker_spec(spec, options)
        key = answering.cache_key()
        if key not in self.plugins:
            plugin = ModelPlugin(answering)
            present = self.client.run(_has_plugin, plugin.name)
            if not present or not all(present.values()):
                self.client.register_plugin(plugin, name=plugin.name)
            self.plugins[key] = plugin.name
        return self.plugins[key]

    def threads(self) -> int:
        """The threads of the cluster's workers now (the scheduler's answer; at least 1)."""
        return sum(w.get("nthreads", 1) for w in self.client.scheduler_info().get("workers", {}).values()) or 1

    def worker_peak_memory(self) -> dict[str, float]:
        """Each worker's peak resident memory so far, in MB (Linux's ru_maxrss)."""
        def peak() -> float:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        return self.client.run(peak)


@contextlib.contextmanager
def connect(options: ClusterOptions) -> Iterator["ClusterSession"]:
    """A session on the cluster ``options.address`` names (its ``distributed.Client``), closed
    afterwards (a ``LocalCluster`` is started here and stopped with it)."""
    workers = local_workers(options.address)
    with contextlib.ExitStack() as stack:
        if workers is not None:
            # Its workers' own logs silenced: a failure reaches the client, which says it in one line
            # (a worker's traceback on stderr would be a second, longer message). Its scheduler's HTTP
            # server on a free loopback port: Dask's default, 8787, warns in four lines when another
            # cluster holds it (and would listen beyond this machine).
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address="127.0.0.1:0",
                                                       silence_logs=logging.CRITICAL))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                _check_scheduler(options)
                client = stack.enter_context(Client(options.address, timeout=options.connect_timeout))
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {options.address} within "
                                  f"{options.connect_timeout:g} s ({type(exc).__name__}); start one with "
                                  "`dask scheduler` and workers with `dask worker ADDRESS`") from None
            try:
                client.wait_for_workers(1, timeout=options.connect_timeout)
            except TimeoutError:
                raise ConfigError(f"the Dask scheduler at {options.address} has no workers (none joined within "
                                  f"{options.connect_timeout:g} s): start some with `dask worker "
                                  f"{options.address}`") from None
        yield ClusterSession(client)


def _check_scheduler(options: ClusterOptions) -> None:
    """Ask the address who it is (Dask's ``identity`` call) within the connect timeout, before a
    ``Client`` is made: a port that accepts connections but is not a Dask scheduler (another
    program's) never answers the client's handshake, and ``Client`` then waits for ever, its own
    timeout notwithstanding. ``OSError`` when nothing listens; ``ConfigError`` for a non-scheduler."""
    import asyncio
    import socket

    from distributed.comm import connect as open_comm
    from distributed.comm.addressing import parse_address, parse_host_port

    if (address := parse_address(options.address))[0] == "tcp":  # nothing listening: OSError, before any timeout races
        socket.create_connection(parse_host_port(address[1]), timeout=options.connect_timeout).close()

    async def identity() -> Any:
        comm = await open_comm(options.address, timeout=options.connect_timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        who = asyncio.run(asyncio.wait_for(identity(), options.connect_timeout))
    except (TimeoutError, asyncio.TimeoutError):
        who = None
    if not isinstance(who, dict) or who.get("type") != "Scheduler":
        raise ConfigError(f"{options.address} answers, but not as a Dask scheduler (no reply to its identity call "
                          f"within {options.connect_timeout:g} s): is the address another program's port? Start a "
                          "scheduler with `dask scheduler`")


class ModelPlugin(WorkerPlugin):
    """A Dask worker plugin that loads the spec's model once per worker, from the model's own bytes
    (and its card's), written into a private folder on the worker."""

    def __init__(self, spec: AnswerSpec):
        self.description = spec.describe()
        self.files: dict[str, bytes] = {}
        if spec.model.is_file():
            self.files[spec.model.name] = spec.model.read_bytes()
            card = card_path(spec.model)
            if card.is_file():
                self.files[card.name] = card.read_bytes()
        digest = hashlib.sha256(json.dumps(self.description, sort_keys=True).encode())
        for name in sorted(self.files):
            digest.update(name.encode() + self.files[name])
        self.name = f"fer-model-{digest.hexdigest()[:16]}"
        self.answerer: Answerer | None = None
        self.folder: Path | None = None

    def setup(self, worker=None) -> None:
        description = dict(self.description)
        if self.files:
            self.folder = Path(tempfile.mkdtemp(prefix="fer-model-"))
            for name, data in self.files.items():
                (self.folder / name).write_bytes(data)
            description["model"] = str(self.folder / Path(description["model"]).name)
        self.answerer = AnswerSpec.from_description(description).load()
        self.answerer.warm()

    def teardown(self, worker=None) -> None:
        self.answerer = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def worker_spec(spec: AnswerSpec, options: ClusterOptions) -> AnswerSpec:
    """The spec the workers answer with: on a local cluster each worker gets its share of this
    machine's cores (``share_cores``), carried in the spec to its model and detector; a remote
    worker keeps the spec's own thread count (0: onnxruntime's choice on that machine)."""
    workers = local_workers(options.address)
    return spec if workers is None else dataclasses.replace(spec, threads=share_cores(workers, spec.threads))


def worker_answerer(plugin_name: str) -> Answerer:
    """On a worker: the answerer its ``ModelPlugin`` of that name loaded."""
    return get_worker().plugins[plugin_name].answerer


def _has_plugin(name: str, dask_worker=None) -> bool:
    return name in dask_worker.plugins
