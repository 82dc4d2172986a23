"""Photo collections: a zip with good, corrupt, non-image and hostile-named members, read in memory;
a folder; the table, the distribution and the faces per class."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from fer_core.labels import CLASSES
from fer_core.errors import DataError
from fer_core.data.photo_files import list_photo_folders, open_photo_set
from fer_core.media.collections import analyze_collection, write_collection_outputs
from tests.conftest import SHARED_PHOTOS, answer_with

pytestmark = pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")


@pytest.fixture(scope="module")
def model():
    from fer_core.runtime.loading import default_model_path, load_model

    return load_model(default_model_path())


def hostile_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("people/obama.jpg", (SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
        zf.writestr("../../escaped.jpg", (SHARED_PHOTOS / "fr_biden.jpg").read_bytes())
        zf.writestr("/etc/absolute.png", (SHARED_PHOTOS / "fr_two_people.jpg").read_bytes())
        zf.writestr("people/cut.jpg", (SHARED_PHOTOS / "fr_obama.jpg").read_bytes()[:2000])
        zf.writestr("people/wall.png", _grey_png())
        zf.writestr("notes.txt", "not a photo")
    return buffer.getvalue()


def _grey_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_zip_in_memory_every_face_and_every_skip_named(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    analysis = analyze_collection(answer_with(model), io.BytesIO(hostile_zip()), progress=lambda d, t: seen.append((d, t)),
                                  name="upload.zip")
    assert seen == [(5, 5)]  # one chunk of the 5 image files
    assert sorted(r.name for r in analysis.results) == ["../../escaped.jpg", "/etc/absolute.png",
                                                        "people/obama.jpg", "people/wall.png"]
    skipped = dict(analysis.skipped)
    assert set(skipped) == {"notes.txt", "people/cut.jpg"} and "not an image" in skipped["notes.txt"]
    assert "truncated" in skipped["people/cut.jpg"]
    assert len(analysis.faces) == 4  # 1 + 1 + 2 (two people) + 0 on the grey wall
    table = analysis.table()
    assert {"file", "face", "x", "y", "width", "height", "top", *CLASSES} <= set(table.columns)
    assert table.loc[table["file"] == "people/wall.png", "error"].tolist() == ["no face found"]
    assert analysis.distribution().sum() == 4 and list(analysis.distribution().index) == list(CLASSES)
    assert ((analysis.confidences() > 1 / 7) & (analysis.confidences() <= 1)).all()
    by_class = analysis.faces_by_class()
    assert sum(len(v) for v in by_class.values()) == 4
    for faces in by_class.values():
        scores = [f.probabilities[f.top] for _, f in faces]
        assert scores == sorted(scores, reverse=True) and all(f.crop.shape == (48, 48) for _, f in faces)
    assert os.listdir(tmp_path) == [] and not (tmp_path.parent.parent / "escaped.jpg").exists()
    assert not os.path.exists("/etc/absolute.png")


def test_a_folder_and_the_files_written(model, tmp_path):
    photos = tmp_path / "data" / "party"
    photos.mkdir(parents=True)
    for name in ("fr_obama.jpg", "df_couple.jpg"):
        (photos / name).write_bytes((SHARED_PHOTOS / name).read_bytes())
    assert list_photo_folders(tmp_path / "data") == ["party"]
    analysis = analyze_collection(answer_with(model), photos)
    assert analysis.name == "party" and len(analysis.results) == 2 and analysis.skipped == []
    csv_path, json_path = write_collection_outputs(analysis, tmp_path / "out")
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:2] == ["file", "face"] and "top" in header
    assert '"faces_per_class"' in json_path.read_text()


def test_collections_refused_in_one_sentence(model, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.zip").write_bytes(b"PK but not really")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no image files"):
        analyze_collection(answer_with(model), tmp_path / "empty")
    with pytest.raises(DataError, match="no image files"):
        analyze_collection(answer_with(model), tmp_path / "texts")
    with pytest.raises(DataError, match="not a valid zip"):
        analyze_collection(answer_with(model), tmp_path / "bad.zip")
    with pytest.raises(DataError, match="a folder or a .zip"):
        analyze_collection(answer_with(model), tmp_path / "photo.jpg")
    with pytest.raises(DataError, match="the limit is 1"):
        with open_photo_set(io.BytesIO(hostile_zip()), max_photos=1):
            pass


def test_the_public_api(tmp_path):
    import fer_core

    (tmp_path / "two.jpg").write_bytes((SHARED_PHOTOS / "fr_two_people.jpg").read_bytes())
    analysis = fer_core.predict_collection(tmp_path)
    assert len(analysis.faces) == 2 and analysis.distribution().sum() == 2
