"""The Predict page through AppTest: real photos, bad files, no face, model choice, downloads."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import SHARED_PHOTOS, app_page

needs_photos = pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def downloads(at) -> dict[str, str]:
    return {b.proto.label: b for b in at.get("download_button")}


@needs_photos
def test_photos_good_and_bad_each_get_an_answer(monkeypatch):
    at = app_page("pages/4_Predict.py").run()
    assert not at.exception and "Upload one or more photos" in at.info[0].value
    photo = (SHARED_PHOTOS / "fr_two_people.jpg").read_bytes()
    at.file_uploader[0].set_value([("two.jpg", photo, "image/jpeg"),
                                   ("notes.jpg", b"just some text", "image/jpeg")]).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["two.jpg", "notes.jpg"]
    assert any("notes.jpg: not an image" in e.value for e in at.error)
    bars = [c.value for c in at.code if c.value.startswith("angry")]
    assert len(bars) == 2 and all(len(b.splitlines()) == 7 and "%" in b for b in bars)  # 7 bars per face
    assert len(at.image) >= 3  # the boxed photo and a crop per face
    assert set(downloads(at)) == {"Download results (CSV)", "Download results (JSON)"}
    tta = next(s for s in at.selectbox if s.label == "Test-time augmentation")
    assert tta.value == "none"  # the default model scored higher without flip TTA (its card)
    tta.set_value("multicrop").run()
    assert not at.exception and sum(c.value.startswith("angry") for c in at.code) == 2
    images = len(at.image)
    at.toggle(key="explain").set_value(True).run()
    assert not at.exception and len(at.image) == images + 2  # a heat map beside each face's crop
    model = next(s for s in at.selectbox if s.label == "Model")
    model.set_value(next(o for o in model.options if o.startswith("Bundled: quick"))).run()
    assert next(s for s in at.selectbox if s.label == "Test-time augmentation").value == "flip"  # +2 points for it


def test_no_face_offers_the_whole_image(monkeypatch):
    at = app_page("pages/4_Predict.py").run()
    blank = png(Image.new("RGB", (320, 240), (120, 120, 120)))
    at.file_uploader[0].set_value(("wall.png", blank, "image/png")).run()
    assert not at.exception and "No face found in wall.png" in at.warning[0].value
    at.button[0].click().run()
    assert not at.exception
    assert any("Classified as one face" in c.value for c in at.caption)
    assert sum(c.value.startswith("angry") for c in at.code) == 1


def test_huge_image_is_refused_politely():
    at = app_page("pages/4_Predict.py").run()
    at.file_uploader[0].set_value(("huge.png", png(Image.new("L", (9000, 6000))), "image/png")).run()
    assert not at.exception and "too large" in at.error[0].value


def test_a_finished_run_can_be_chosen(finished_run, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(finished_run.parent))
    at = app_page("pages/4_Predict.py").run()
    options = at.selectbox[0].options
    assert options[0].startswith("Default model") and any(finished_run.name in o for o in options)
