"""The home page through Streamlit's AppTest: default model card and recent runs."""

from __future__ import annotations

import json

import numpy as np
from streamlit.testing.v1 import AppTest

from fer_core.evaluation.metrics import compute_metrics
from fer_core.runs.registry import RunRegistry
from tests.conftest import REPO_ROOT


def test_home_page_shows_default_model_and_runs(tmp_path, monkeypatch):
    model_path = tmp_path / "models" / "default.keras"
    model_path.parent.mkdir()
    model_path.write_bytes(b"")  # the home page reads only the card
    metrics = compute_metrics(np.arange(14) % 7, np.eye(7)[np.arange(14) % 7], "val")
    model_path.with_suffix(".json").write_text(json.dumps({"architecture": "reference",
                                                           "publictest_metrics": metrics}))
    monkeypatch.setenv("FER_DEFAULT_MODEL", str(model_path))
    registry = RunRegistry(tmp_path)
    registry.add("20260101-train-reference-abcd", "train", tmp_path / "x", {}, status="running")
    registry.finish("20260101-train-reference-abcd", "done", metrics={"val_accuracy": 0.61})
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "FER Studio"
    labels = {m.label: m.value for m in at.metric}
    assert labels["Architecture"] == "reference"
    low, _ = metrics["intervals"]["accuracy"]  # Wilson: 14 of 14 right is not proof of 100%
    deltas = {m.label: m.delta for m in at.metric}
    assert labels["PublicTest accuracy"] == "100.00%" and low < 0.8
    assert deltas["PublicTest accuracy"] == f"95%: {100 * low:.2f}-100.00"
    runs_table = at.dataframe[-1].value
    assert list(runs_table["run"]) == ["20260101-train-reference-abcd"]
    assert list(runs_table["status"]) == ["done"]


def test_home_page_without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("FER_DEFAULT_MODEL", str(tmp_path / "absent.keras"))
    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("No runs yet" in info.value for info in at.info)
    assert any("No default model card" in w.value for w in at.warning)
