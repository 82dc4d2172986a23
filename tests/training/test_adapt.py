"""Adapting a model to a user's labelled photos: the command end to end (the adapted model works
where a model does, its body untouched, its card honest) and bad input refused in one line each."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_core.cli import main
from fer_core.fileio import file_sha256
from fer_core.labels import CLASSES
from tests.conftest import face_image, jpeg_bytes


def photo_set(root, per_class: dict[str, int], seed: int = 0):
    """Class folders of synthetic 'faces' (the pattern the tiny run learnt), 96x96 colour JPEGs."""
    for label, count in per_class.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            image = face_image(CLASSES.index(label), seed * 1000 + k, size=96, mode="RGB")
            (root / label / f"{label}{k}.jpg").write_bytes(jpeg_bytes(image))
    return root


def run_data(run) -> str:
    return json.loads((run / "config.json").read_text())["data"]


def adapt_args(model, data, out, *more):
    return ["adapt", "--model", str(model), "--data", str(data), "--out", str(out), "--detector", "none", *more]


@pytest.mark.slow
def test_adapt_end_to_end_writes_a_model_that_answers_compares_and_exports(finished_run, tmp_path, capsys):
    import keras

    from fer_core.answering.spec import AnswerSpec
    from fer_core.runtime.loading import load_face_model

    photos = photo_set(tmp_path / "mine", {"sad": 6, "surprise": 6})
    out = tmp_path / "adapted.keras"
    assert main(adapt_args(finished_run, photos, out, "--replay-data", run_data(finished_run))) == 0
    printed = capsys.readouterr().out
    assert "on 12 faces (sad 6, surprise 6) from 12 photos" in printed
    assert "5-fold cross-validated" in printed and "PublicTest" in printed

    card = json.loads(out.with_suffix(".json").read_text())
    parent_file = finished_run / "model.keras"
    assert card["adapted_from"]["sha256"] == file_sha256(parent_file)
    adaptation = card["adaptation"]
    assert adaptation["faces_per_class"] == {"sad": 6, "surprise": 6} and adaptation["folds"] == 5
    assert len(adaptation["content_sha256"]) == 64 and adaptation["replay_faces"] > 0
    for figures in adaptation["cross_validated_accuracy"].values():
        assert 0 <= figures["before"] <= 1 and 0 <= figures["after"] <= 1
    after = adaptation["publictest_accuracy"]["none"]["after"]
    assert card["publictest_accuracy_by_tta"] == {"none": round(after, 4)} and card["command"].startswith(
        "python -m fer_core adapt --model")
    assert "temperature" not in card and "operating_point" not in card  # the parent's would not fit it

    parent, adapted = load_face_model(parent_file), load_face_model(out)
    convs = [layer.name for layer in parent.layers if isinstance(layer, keras.layers.Conv2D)]
    for name in convs:  # the body frozen: its weights are the parent's
        for a, b in zip(parent.get_layer(name).get_weights(), adapted.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    head = [layer.name for layer in parent.layers if isinstance(layer, keras.layers.Dense)][-1]
    assert not np.allclose(parent.get_layer(head).get_weights()[0], adapted.get_layer(head).get_weights()[0])

    # The adapted model works where a model does: Predict's answerer, compare, export.
    result = AnswerSpec.resolve(out, tta="auto", detector="none").load().photos(
        [("x.jpg", (photos / "sad" / "sad0.jpg").read_bytes())])[0]
    assert result.error is None and len(result.faces) == 1
    assert main(["compare", str(parent_file), str(out), "--data", run_data(finished_run), "--split", "val"]) == 0
    assert "McNemar" in capsys.readouterr().out
    assert main(["export", str(out), "--format", "onnx", "--out", str(tmp_path / "adapted.onnx")]) == 0
    assert (tmp_path / "adapted.onnx").stat().st_size > 0


@pytest.mark.parametrize("case, expected", [
    ("one sad", "too few labelled faces for sad (1): label at least 2"),
    ("no face", "no face found in any of the 4 labelled photos"),
    ("unknown class", "'smug' is not a class"),
    ("exported", "an exported model only answers; this needs the .keras model it was exported from"),
    ("not keras out", "the adapted model is a .keras file"),
])
def test_bad_input_is_one_line_each(case, expected, finished_run, exported_onnx, tmp_path, capsys):
    model, out, more = finished_run, tmp_path / "out.keras", ["--replay-data", "none"]
    photos = photo_set(tmp_path / "photos", {"happy": 3, "sad": 1} if case == "one sad" else {"happy": 2, "sad": 2})
    args = adapt_args(model, photos, out, *more)
    if case == "no face":
        args[args.index("none")] = "blazeface"  # patterns, not faces: BlazeFace finds none in 96 px photos
    if case == "unknown class":
        (photos / "labels.csv").write_text("file,label\nhappy/happy0.jpg,smug\n")
    if case == "exported":
        args[args.index(str(model))] = str(exported_onnx)
    if case == "not keras out":
        args[args.index(str(out))] = str(tmp_path / "out.h5")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and expected in err[-1], err
    assert not out.exists()


@pytest.mark.slow
def test_renormalize_re_estimates_the_batch_norm_statistics_on_the_faces(finished_run, tmp_path, capsys):
    import keras

    from fer_core.runtime.loading import load_face_model

    photos = photo_set(tmp_path / "mine", {"happy": 3, "angry": 3}, seed=2)
    out = tmp_path / "renormalized.keras"
    assert main(adapt_args(finished_run, photos, out, "--replay-data", "none", "--renormalize")) == 0
    assert "batch-norm statistics re-estimated on all your faces" in capsys.readouterr().out
    parent, adapted = load_face_model(finished_run / "model.keras"), load_face_model(out)
    norms = [layer.name for layer in parent.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(not np.allclose(parent.get_layer(n).moving_mean, adapted.get_layer(n).moving_mean)
                         for n in norms)
    assert json.loads(out.with_suffix(".json").read_text())["adaptation"]["options"]["renormalize"] is True


def test_zero_label_re_estimates_the_statistics_on_a_collection_and_nothing_else(finished_run, tmp_path, capsys):
    """``adapt --zero-label`` on an unlabelled collection (52 faces in one folder, any names):
    batch-norm statistics change, every weight stays the parent's, PublicTest before/after in
    the card; fewer than 50 faces are refused in one line."""
    import keras

    from fer_core.runtime.loading import load_face_model
    from fer_core.training.adapt import MIN_ZERO_LABEL_FACES

    collection = tmp_path / "holiday"
    collection.mkdir()
    for k in range(MIN_ZERO_LABEL_FACES + 2):
        image = face_image(k % len(CLASSES), 500 + k, size=96, mode="RGB")
        (collection / f"IMG_{k:04d}.jpg").write_bytes(jpeg_bytes(image))
    out = tmp_path / "zero.keras"
    assert main(adapt_args(finished_run, collection, out, "--replay-data", run_data(finished_run),
                           "--zero-label")) == 0
    printed = capsys.readouterr().out
    assert f"on {MIN_ZERO_LABEL_FACES + 2} unlabelled faces (AdaBN" in printed and "PublicTest" in printed
    parent, adapted = load_face_model(finished_run / "model.keras"), load_face_model(out)
    for layer in parent.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert not np.allclose(layer.moving_mean, adapted.get_layer(layer.name).moving_mean)
            np.testing.assert_array_equal(layer.gamma, adapted.get_layer(layer.name).gamma)
        elif layer.weights:
            for a, b in zip(layer.get_weights(), adapted.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["adaptation"]["zero_label"] is True and "unlabelled faces" in card["data"]
    assert set(card["adaptation"]["publictest_accuracy"]["none"]) == {"before", "after"}

    for extra in sorted(collection.glob("*.jpg"))[MIN_ZERO_LABEL_FACES - 1:]:
        extra.unlink()
    assert main(adapt_args(finished_run, collection, tmp_path / "few.keras", "--replay-data", "none",
                           "--zero-label")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"error: {MIN_ZERO_LABEL_FACES - 1} faces found: adapting without labels needs at least "
                   f"{MIN_ZERO_LABEL_FACES} (fewer give noisy statistics that cost accuracy)")
