"""The Results page through AppTest: metrics per split, confusion matrix, mistakes, trials,
comparison, promotion."""

from __future__ import annotations

import json
import shutil

import pytest

from fer_core.runtime.loading import promoted_model_path
from fer_core.training.config import TuneConfig
from fer_core.training.tune import tune
from tests.conftest import app_page


@pytest.fixture
def runs_with_one_run(finished_run, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(finished_run.parent, runs)
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    return runs


def test_one_run_in_depth(runs_with_one_run, finished_run):
    at = app_page("pages/3_Results.py").run()
    assert not at.exception
    saved = json.loads((finished_run / "metrics.json").read_text())
    metrics = {m.label: m.value for m in at.metric}
    low, high = saved["intervals"]["accuracy"]  # recomputed, equal to the saved report, with its 95% interval
    assert metrics["Accuracy on val"] == f"{saved['accuracy']:.2%}"
    assert {m.label: m.delta for m in at.metric}["Accuracy on val"] == f"95%: {100 * low:.2f}-{100 * high:.2f}"
    assert metrics["Images"] == "42"
    per_class = next(d.value for d in at.dataframe if "support" in d.value.columns)
    assert list(per_class.index) == saved["classes"] and per_class.loc["happy", "support"] == 6
    assert at.radio(key="run_split").options == ["train", "val"]
    at.radio(key="run_split").set_value("train").run()
    assert not at.exception and {m.label for m in at.metric} >= {"Accuracy on train"}
    assert {m.label: m.value for m in at.metric}["Images"] == "140"
    at.toggle[0].set_value(True).run()
    assert not at.exception
    at.radio(key="tta").set_value("flip").run()
    assert not at.exception and {m.label: m.value for m in at.metric}["Images"] == "140"
    at.multiselect(key="run-true_filter").set_value(["happy"]).run()
    caption = next(c.value for c in at.caption if "mistakes" in c.value)
    shown = int(caption.split()[0].replace(",", ""))
    assert shown <= 20 and (shown == 0) == (len(at.image) == 0)


def test_promote_and_restore(runs_with_one_run):
    at = app_page("pages/3_Results.py").run()
    at.button(key="promote").click().run()
    assert not at.exception and promoted_model_path(runs_with_one_run).exists()
    at.run()
    at.button(key="restore").click().run()
    assert not promoted_model_path(runs_with_one_run).exists()


@pytest.mark.slow
def test_tuning_run_trials_and_comparison(runs_with_one_run, finished_run):
    data = json.loads((finished_run / "config.json").read_text())["data"]
    tune(TuneConfig(data=data, max_trials=2, epochs=1, base_filters=[4], dense_units=[8], batch_sizes=[32]),
         runs_with_one_run, verbose=0)
    at = app_page("pages/3_Results.py").run()
    assert not at.exception
    assert "tune" in at.selectbox(key="run").value  # newest first
    trials = next(d.value for d in at.dataframe if "lr" in d.value.columns)
    assert len(trials) == 2
    assert "lr" in at.selectbox(key="hp").options
    compare = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert len(compare) == 2 and {"accuracy", "macro-F1", "recall disgust"} <= set(compare.columns)


def test_no_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "none"))
    at = app_page("pages/3_Results.py").run()
    assert not at.exception and any("No finished runs yet" in i.value for i in at.info)


def test_a_fresh_install_shows_the_default_model_on_the_only_dataset(dashboard_env):
    """No runs, one dataset in the data folder: the default model's results with no click."""
    at = app_page("pages/3_Results.py").run(timeout=300)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "28" and "Accuracy on val" in metrics and "Fear recall" in metrics
    assert at.selectbox(key="model").value.startswith("Default model")
    assert len(at.get("plotly_chart")) >= 3  # confusion matrix, confidence histogram, reliability diagram
    assert any("calibration error" in c.value for c in at.caption)
    compare = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    assert len(compare) == 2 and {"accuracy", "recall fear"} <= set(compare.columns)
    at.selectbox(key="model_split").set_value("train").run(timeout=300)
    assert not at.exception and {m.label: m.value for m in at.metric}["Images"] == "84"
    at.selectbox(key="model").set_value(next(o for o in at.selectbox(key="model").options if "quick" in o)).run(
        timeout=300)
    assert not at.exception and "Accuracy on train" in {m.label for m in at.metric}
    at.selectbox(key="model_tta").set_value("flip").run(timeout=300)
    assert not at.exception
    shown = len(at.image)
    at.toggle(key="model-explain").set_value(True).run(timeout=300)
    assert not at.exception and len(at.image) == shown  # the same mistakes, as heat maps


def test_an_uploaded_model_is_loaded_safely_or_refused(dashboard_env, tmp_path):
    import keras

    lambda_model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Lambda(lambda x: x * 2),
                                     keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    lambda_model.save(tmp_path / "lambda.keras")
    at = app_page("pages/3_Results.py").run(timeout=300)
    at.file_uploader(key="model_upload").set_value(("lambda.keras", (tmp_path / "lambda.keras").read_bytes(),
                                                    "application/octet-stream")).run(timeout=300)
    assert not at.exception and any("lambda.keras': not a Keras model that loads in safe mode" in e.value for e in at.error)
    assert not any("lambda" in o for o in at.selectbox(key="model").options)


def test_export_a_model_download_it_and_use_it_on_the_predict_page(dashboard_env, finished_run):
    """Results' Export panel: int8 ONNX of a run's model, checked on the dataset's PublicTest faces, with
    its download and command; Predict then lists it and answers with it (its TTA built in, no heat maps)."""
    shutil.copytree(finished_run.parent, dashboard_env["runs"])
    at = app_page("pages/3_Results.py").run(timeout=300)
    run_model = next(o for o in at.selectbox(key="model").options if finished_run.name in o)
    at.selectbox(key="model").set_value(run_model).run(timeout=300)
    at.checkbox(key="export_int8").check().run(timeout=300)
    at.selectbox(key="export_tta").set_value("flip").run(timeout=300)
    at.button(key="export_button").click().run(timeout=300)
    assert not at.exception and not at.error
    exported = dashboard_env["runs"] / "exports" / f"{finished_run.name}-flip-int8.onnx"
    assert exported.exists() and exported.with_name(exported.name + ".json").exists()
    message = next(s.value for s in at.success if exported.name in s.value)
    assert "PublicTest faces it gives the Keras model's answer" in message
    labels = {b.proto.label for b in at.get("download_button")}
    assert {f"Download {exported.name}", "Download its card (JSON)"} <= labels
    assert any(c.value.startswith("python -m fer_core export") and "--int8" in c.value for c in at.code)

    predict = app_page("pages/4_Predict.py").run(timeout=300)
    model = next(s for s in predict.selectbox if s.label == "Model")
    model.set_value(next(o for o in model.options if o.startswith(f"Exported: {exported.name}"))).run(timeout=300)
    tta = next(s for s in predict.selectbox if s.label == "Test-time augmentation")
    assert tta.value == "flip" and tta.disabled and predict.toggle(key="explain").disabled
    from tests.pages.test_page_predict import png
    from PIL import Image

    predict.file_uploader[0].set_value(("wall.png", png(Image.new("RGB", (320, 240), (120, 120, 120))),
                                        "image/png")).run(timeout=300)
    predict.button[0].click().run(timeout=300)
    assert not predict.exception and sum(c.value.startswith("angry") for c in predict.code) == 1


def test_an_uploaded_onnx_file_is_checked_and_offered_to_predict(dashboard_env, exported_onnx, tmp_path):
    at = app_page("pages/3_Results.py").run(timeout=300)
    at.file_uploader(key="model_upload").set_value(("mine.onnx", exported_onnx.read_bytes(),
                                                    "application/octet-stream")).run(timeout=300)
    assert not at.exception and any("the Predict page's model list" in s.value for s in at.success)
    at.file_uploader(key="model_upload").set_value(("broken.onnx", b"not a model",
                                                    "application/octet-stream")).run(timeout=300)
    assert any("broken.onnx': not a model onnxruntime or LiteRT can load" in e.value for e in at.error)
    predict = app_page("pages/4_Predict.py").run(timeout=300)
    options = next(s for s in predict.selectbox if s.label == "Model").options
    assert any(o.startswith("Uploaded: mine.onnx") for o in options) and not any("broken" in o for o in options)


def test_intervals_paired_comparison_and_an_operating_point_on_the_results_page(dashboard_env, finished_run):
    shutil.copytree(finished_run.parent, dashboard_env["runs"])
    at = app_page("pages/3_Results.py").run(timeout=300)
    run_model = next(o for o in at.selectbox(key="model").options if finished_run.name in o)
    at.selectbox(key="model").set_value(run_model).run(timeout=300)
    accuracy = {m.label: m.delta for m in at.metric}["Accuracy on val"]
    assert accuracy.startswith("95%: ")  # "95%: 6.73-27.84"
    assert any("Wilson score" in c.value for c in at.caption)
    per_class = next(d.value for d in at.dataframe if "support" in d.value.columns)
    assert {"recall 95% low", "recall 95% high"} <= set(per_class.columns)
    card = finished_run / "model.json"  # (the registry copied along still points at the shared run)
    before = card.read_bytes() if card.exists() else None
    try:
        at.button(key="point_fit").click().run(timeout=300)
        assert not at.exception and any("Cross-fitted" in s.value for s in at.success)
        assert json.loads(card.read_text())["operating_point"]["target"]["class_name"] == "fear"
    finally:  # the shared run keeps no operating point for the other tests
        card.write_bytes(before) if before is not None else card.unlink()

    at.multiselect(key="compare_models").set_value([at.multiselect(key="compare_models").options[0], run_model])
    at.run(timeout=300)
    assert not at.exception
    verdict = next(m.value for m in at.markdown if "McNemar p" in m.value)
    assert "real difference" in verdict or "not distinguishable" in verdict
    assert any("only the first right" in d.value.columns for d in at.dataframe)
