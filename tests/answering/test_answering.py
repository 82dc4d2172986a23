"""The AnswerSpec: its rules (resolved once), its cache key, a new knob reaching every path through
the spec alone, and the page, the command line and the API giving the same answer for one spec."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fer_core.faces.images import decode_photo
from fer_core.errors import ConfigError, ModelError
from fer_core.answering.spec import AnswerSpec
from fer_core.runtime.cards import ModelCard
from fer_core.runtime.loading import bundled_models, default_model_path
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, needs_photos, write_test_video


def test_resolve_is_the_one_home_of_the_auto_and_none_rules(tmp_path):
    default = AnswerSpec.resolve("default")
    assert default.model == default_model_path() and default.tta == ModelCard.read(default.model).best_tta()
    assert default.tta == "multicrop" and default.calibrated and not default.whole_image  # by its card
    whole = AnswerSpec.resolve("quick", tta="flip", detector="none", margin=0.2)
    assert (whole.model, whole.tta, whole.whole_image, whole.detector, whole.margin) == (
        bundled_models()["quick"], "flip", True, "blazeface", 0.2)
    assert whole.detector_words == "none" and AnswerSpec.from_description(whole.describe()) == whole
    with pytest.raises(ConfigError, match="unknown face detector 'dlib'; expected one of blazeface, mtcnn, haar, none"):
        AnswerSpec.resolve("default", detector="dlib")
    with pytest.raises(ConfigError, match="crop margin must be between 0 and 1"):
        AnswerSpec.resolve("default", margin=-0.1)
    with pytest.raises(ConfigError, match="TTA must be auto or one of none, flip, multicrop"):
        AnswerSpec.resolve("default", tta="rotate")
    with pytest.raises(ConfigError, match="has no operating point in its card"):
        AnswerSpec.resolve("quick", operating_point=True)
    with pytest.raises(ModelError, match="no model file"):
        AnswerSpec.resolve(tmp_path / "missing.keras")


def test_an_exported_model_answers_with_the_tta_inside_it(exported_onnx):
    spec = AnswerSpec.resolve(exported_onnx)
    assert spec.tta == ModelCard(json.loads(Path(f"{exported_onnx}.json").read_text()), exported=True).built_in_tta
    with pytest.raises(ConfigError, match="exported with test-time augmentation"):
        AnswerSpec.resolve(exported_onnx, tta="multicrop" if spec.tta != "multicrop" else "flip")


def test_the_cache_key_follows_the_fields_and_the_files(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not loaded here")
    spec = AnswerSpec(model=model)
    key = spec.cache_key()
    assert spec.cache_key() == key and dataclasses.replace(spec, margin=0.1).cache_key() != key
    (tmp_path / "m.json").write_text("{}")  # a card appears (calibrate, operating-point): a new key
    assert spec.cache_key() != key
    stamp = time.time_ns() + 10**9
    os.utime(model, ns=(stamp, stamp))  # a retrained model: a new key
    assert spec.cache_key() != key


def test_every_model_kind_is_a_face_model(exported_onnx):
    from fer_core.runtime.loading import load_model
    from fer_core.runtime.offsets import WithOffsets
    from fer_core.runtime.model import FaceModel
    from fer_core.runtime.exported import load_exported

    keras_model = load_model("quick")
    for model in (keras_model, load_exported(exported_onnx), WithOffsets(keras_model, {"fear": 0.5})):
        assert isinstance(model, FaceModel), type(model)
    assert not isinstance(object(), FaceModel)


@dataclasses.dataclass(frozen=True)
class WithMinFace(AnswerSpec):
    """A new answering knob, added as one field plus its use: faces narrower than ``min_face_px``
    are left out. Nothing else changes: no path's signature knows of it."""

    min_face_px: int = 0

    def find_faces(self, image, in_frame: bool = False):
        return [b for b in super().find_faces(image, in_frame) if min(b.width, b.height) >= self.min_face_px]


@needs_photos
def test_a_new_knob_reaches_photos_videos_the_live_camera_and_the_api(tmp_path):
    from fastapi.testclient import TestClient

    from fer_core.media.live import LiveAnalyzer
    from fer_core.media.video import VideoOptions
    from fer_core.serve.server import ServeOptions, create_app

    keep_all = WithMinFace.resolve("quick", tta="none", min_face_px=0).load()
    assert keep_all.spec.min_face_px == 0 and isinstance(keep_all.spec, WithMinFace)  # load() keeps the subclass
    keep_none = dataclasses.replace(keep_all, spec=dataclasses.replace(keep_all.spec, min_face_px=100_000))
    assert keep_none.spec.cache_key() != keep_all.spec.cache_key()
    photo = "fr_obama_and_biden.jpg"
    data = (SHARED_PHOTOS / photo).read_bytes()

    def photo_faces(answerer):
        return len(answerer.photos([(photo, data)])[0].faces)

    video = write_test_video(tmp_path / "clip.mp4")

    def video_faces(answerer):
        return len(answerer.video(video, VideoOptions(fps=2.0)).rows)

    frame = np.asarray(decode_photo(data).resize((640, 400)))

    def live_faces(answerer):
        analyzer = LiveAnalyzer(answerer)
        analyzer.process(frame)
        return analyzer.status().faces

    def api_faces(answerer):
        with TestClient(create_app(ServeOptions(), answerer.spec, answerer=answerer)) as client:
            answer = client.post("/v1/predict", files=[("files", (photo, data, "image/jpeg"))])
            assert answer.status_code == 200, answer.text
            return len(answer.json()[0]["faces"])

    for path in (photo_faces, video_faces, live_faces, api_faces):
        assert path(keep_all) >= 1 and path(keep_none) == 0, path.__name__


def test_load_gives_an_answerer_with_the_card_read_once_and_no_rule_applied_again(exported_onnx, monkeypatch):
    import fer_core.runtime.cards as cards

    spec = AnswerSpec.resolve(exported_onnx)
    reads = []
    original = cards.ModelCard.read.__func__
    monkeypatch.setattr(cards.ModelCard, "read", classmethod(lambda cls, *a, **k: reads.append(a) or original(cls, *a, **k)))
    answerer = spec.load()
    assert answerer.spec is spec and answerer.card.built_in_tta == spec.tta and answerer.model.tta == spec.tta
    assert len(reads) == 1  # once, for the answerer: the ONNX loader is handed that card
    with pytest.raises(ModelError, match="heat maps need the gradients of the .keras model"):
        answerer.explain(SHARED_PHOTOS / "fr_obama.jpg")


def test_one_card_read_through_every_file_format(tmp_path, exported_onnx):
    """``ModelCard.read`` for a .keras file, an .onnx beside its card, the same .onnx travelling
    alone (its embedded copy), a .tflite and a SavedModel folder: one way in."""
    import shutil

    onnx_card = ModelCard.read(exported_onnx)
    assert onnx_card.exported and onnx_card.built_in_tta and onnx_card.parity["top1_agreement"] > 0.99
    alone = tmp_path / "alone" / Path(exported_onnx).name
    alone.parent.mkdir()
    shutil.copyfile(exported_onnx, alone)  # no card beside it: the one inside the file
    embedded = ModelCard.read(alone)  # written into the file before its size and hash were known
    assert embedded.exported and embedded.data == {k: v for k, v in onnx_card.data.items() if not k.startswith("file")}
    keras_card = ModelCard.read(bundled_models()["quick"])
    assert not keras_card.exported and keras_card.accuracy_by_tta and keras_card.metrics["split"] == "val"
    for name in ("model.tflite", "saved"):
        path = tmp_path / name
        if name == "saved":
            path.mkdir()
        else:
            path.write_bytes(b"")
        ModelCard(dict(onnx_card.data)).write(path)
        assert ModelCard.read(path).data == onnx_card.data and ModelCard.read(path).exported, name
    assert ModelCard.read(tmp_path / "none.keras") == ModelCard()  # no card: the one fallback


@needs_photos
def test_the_page_the_command_line_and_the_api_give_the_same_answer(dashboard_env):
    from fastapi.testclient import TestClient

    from fer_core.app.cache import analyze_cached
    from fer_core.serve.server import ServeOptions, create_app

    photo = SHARED_PHOTOS / "fr_two_people.jpg"
    spec = AnswerSpec.resolve("quick", tta="flip", margin=0.1)
    (page,) = [r.to_dict() for r in analyze_cached(spec, [(str(photo), photo.read_bytes())])]
    cli = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(photo), "--model", "quick", "--tta", "flip",
                          "--margin", "0.1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert cli.returncode == 0, cli.stderr[-2000:]
    (command_line,) = json.loads(cli.stdout)
    with TestClient(create_app(ServeOptions(), spec)) as client:
        (api,) = client.post("/v1/predict", files=[("files", (str(photo), photo.read_bytes(), "image/jpeg"))]).json()
    assert len(page["faces"]) == 2
    assert page == command_line == {**api, "file": str(photo)}
