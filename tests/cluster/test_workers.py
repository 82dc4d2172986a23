"""The cluster session without a cluster: a model's plugin is checked for and registered once a
session (``ClusterSession.model_plugin``), however many inputs use it; the real cluster's side of
it (no second round trip, the workers' model not reloaded) is in test_cluster.py."""

from __future__ import annotations

from fer_core.answering.spec import AnswerSpec
from fer_core.cluster.options import ClusterOptions
from fer_core.cluster.workers import ClusterSession
from fer_core.runtime.loading import bundled_model_path


class RecordingClient:
    """What ``model_plugin`` asks of a ``distributed.Client``; ``held``: the workers' plugins."""

    def __init__(self, held: set[str]):
        self.held, self.runs, self.registered = held, 0, []

    def run(self, function, name):
        self.runs += 1
        return {"tcp://127.0.0.1:1": name in self.held, "tcp://127.0.0.1:2": name in self.held}

    def register_plugin(self, plugin, name):
        self.registered.append(name)
        self.held.add(name)


def test_a_models_plugin_is_checked_and_registered_once_a_session():
    spec, options = AnswerSpec.resolve(bundled_model_path()), ClusterOptions("tcp://127.0.0.1:8786")
    client = RecordingClient(set())
    session = ClusterSession(client)
    names = {session.model_plugin(spec, options) for _ in range(3)}  # three inputs, one model
    assert len(names) == 1 and client.runs == 1 and client.registered == list(names)
    other = session.model_plugin(AnswerSpec.resolve(bundled_model_path(), margin=0.2), options)
    assert other not in names and client.runs == 2 and client.registered[-1] == other  # another spec: its own


def test_a_plugin_the_workers_hold_from_an_earlier_session_is_not_registered_again():
    spec, options = AnswerSpec.resolve(bundled_model_path()), ClusterOptions("tcp://127.0.0.1:8786")
    first = ClusterSession(RecordingClient(set()))
    name = first.model_plugin(spec, options)
    later = RecordingClient({name})  # a remote scheduler keeps registered plugins between sessions
    assert ClusterSession(later).model_plugin(spec, options) == name
    assert later.runs == 1 and later.registered == []
