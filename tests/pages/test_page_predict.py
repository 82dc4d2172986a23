"""The Predict page through AppTest: real photos, bad files, no face, model choice, downloads."""

from __future__ import annotations

import pytest

import io

from PIL import Image

from tests.conftest import SHARED_PHOTOS, needs_photos, app_page



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
    assert [s.value for s in at.subheader] == ["two.jpg", "notes.jpg", "Your corrections"]
    assert any("notes.jpg: not an image" in e.value for e in at.error)
    bars = [c.value for c in at.code if c.value.startswith("angry")]
    assert len(bars) == 2 and all(len(b.splitlines()) == 7 and "%" in b for b in bars)  # 7 bars per face
    assert len(at.image) >= 3  # the boxed photo and a crop per face
    assert set(downloads(at)) == {"Download results (CSV)", "Download results (JSON)"}
    tta = next(s for s in at.selectbox if s.label == "Test-time augmentation")
    assert tta.value == "multicrop"  # the default model scored highest with multicrop TTA (its card)
    tta.set_value("flip").run()
    assert not at.exception and sum(c.value.startswith("angry") for c in at.code) == 2
    images = len(at.image)
    at.toggle(key="explain").set_value(True).run()
    assert not at.exception and len(at.image) == images + 2  # a heat map beside each face's crop
    model = next(s for s in at.selectbox if s.label == "Model")
    model.set_value(next(o for o in model.options if o.startswith("Bundled: quick"))).run()
    assert next(s for s in at.selectbox if s.label == "Test-time augmentation").value == "multicrop"  # its best


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


@needs_photos
def test_a_video_gets_a_timeline_per_person_a_frame_slider_and_downloads(tmp_path):
    from tests.conftest import write_test_video

    video = write_test_video(tmp_path / "talk.mp4", script=[(0.0, 1.0, ("fr_obama.jpg", "fr_biden.jpg")),
                                                            (1.0, 2.0, ("fr_obama.jpg", None))])
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A video").run()
    assert not at.exception and "Upload a video" in at.info[0].value
    at.file_uploader(key="video_upload").set_value(("talk.mp4", video.read_bytes(), "video/mp4")).run()
    assert not at.exception
    assert at.caption[0].value.startswith("10 frames sampled at 5 a second from talk.mp4 (640x360, 10 fps")
    assert "2 people followed" in at.caption[0].value
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(charts) == 3 and sum("Person 1: expression probabilities over time" in c for c in charts) == 1
    assert set(downloads(at)) == {"Download frames (CSV)", "Download frames (JSON)",
                                  "Download the annotated video (MP4)"}
    images = len(at.image)
    at.slider(key="video_frame").set_value(7).run()
    assert not at.exception and len(at.image) == images and "1.40 s" in at.image[0].proto.imgs[0].caption
    at.slider(key="video_smooth").set_value(3).run()
    assert any("smoothed: moving average over 3 samples" in c.proto.spec for c in at.get("plotly_chart"))
    at.slider(key="video_brief").set_value(6).run()  # person 2 is in 5 of the 10 sampled frames
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert not at.exception and len(charts) == 2 and not any("Person 2: expression" in c for c in charts)
    assert any("Left out of the charts: 1 brief detection(s) seen in fewer than 6 sampled frames (ids 2)" in c.value
               for c in at.caption)
    at.slider(key="video_brief").set_value(10).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    at.slider(key="video_brief").set_value(3).run()

    from fer_core.settings import Settings

    for annotated in (Settings.load().cache_dir / "videos").glob("*.annotated.mp4"):  # cleared by newer uploads
        annotated.unlink()
    at.slider(key="video_frame").set_value(3).run()
    assert not at.exception and "cleared from the cache" in at.warning[0].value
    assert "Download the annotated video (MP4)" not in downloads(at)


def test_a_video_without_faces_says_so(tmp_path):
    from tests.conftest import write_test_video

    video = write_test_video(tmp_path / "wall.avi", script=[(0.0, 2.0, (None, None))], fourcc="MJPG")
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A video").run()
    at.file_uploader(key="video_upload").set_value(("wall.avi", video.read_bytes(), "video/x-msvideo")).run()
    assert not at.exception and at.warning[0].value.startswith("No face found in any sampled frame of wall.avi")
    assert not at.get("plotly_chart")


def test_a_bad_video_gets_one_sentence():
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A video").run()
    at.file_uploader(key="video_upload").set_value(("clip.mov", b"\x00\x00\x00\x18ftypqt  broken" * 40,
                                                    "video/quicktime")).run()
    assert not at.exception and at.error[0].value.startswith("clip.mov: not a video OpenCV can read")


@needs_photos
def test_a_zip_of_photos_gets_a_table_charts_and_faces_per_class():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.write(SHARED_PHOTOS / "fr_two_people.jpg", "a/two.jpg")
        zf.write(SHARED_PHOTOS / "fr_obama.jpg", "../b.jpg")
        zf.writestr("c.jpg", b"broken")
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A photo collection").run()
    at.file_uploader(key="collection_upload").set_value(("party.zip", buffer.getvalue(), "application/zip")).run()
    assert not at.exception
    assert at.caption[0].value == "2 photos, 3 faces; no photo without a face; 1 file skipped."
    assert at.expander[0].label == "Skipped files (1)"
    assert len(at.get("plotly_chart")) == 2 and len(at.dataframe) == 2
    assert set(downloads(at)) == {"Download the table (CSV)", "Download everything (JSON)"}
    assert at.selectbox(key="collection_class").options  # the classes predicted, with their counts
    assert at.button(key="adapt_zero_label").disabled  # 3 faces: too few to adapt without labels


@needs_photos
@pytest.mark.slow
def test_a_collection_adapts_without_labels_and_the_model_lists_hold_it(dashboard_env):
    """52 faces (26 copies of a two-person photo): Adapt without labels writes an AdaBN model
    under <runs>/adapted, the report says so, and the Model list offers it."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for k in range(26):
            zf.write(SHARED_PHOTOS / "fr_two_people.jpg", f"trip/{k:02d}.jpg")
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A photo collection").run()
    at.file_uploader(key="collection_upload").set_value(("trip.zip", buffer.getvalue(), "application/zip")).run(
        timeout=300)
    assert not at.exception and at.caption[0].value.startswith("26 photos, 52 faces;")
    at.button(key="adapt_zero_label").click().run(timeout=300)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("no labels: nothing to cross-validate" in m.value for m in at.markdown)
    written = list((dashboard_env["runs"] / "adapted").glob("*-adabn-*.keras"))
    model = next(s for s in at.selectbox if s.label == "Model")
    assert len(written) == 1 and any(o.startswith(f"Adapted: {written[0].name}") for o in model.options)
    assert any(written[0].name in m.value for m in at.success)


@needs_photos
def test_a_folder_under_the_data_folder(dashboard_env):
    party = dashboard_env["data_root"] / "party"
    party.mkdir(parents=True)
    (party / "obama.jpg").write_bytes((SHARED_PHOTOS / "fr_obama.jpg").read_bytes())
    at = app_page("pages/4_Predict.py").run()
    at.radio(key="mode").set_value("A photo collection").run()
    at.radio(key="collection_source").set_value("A folder under the data folder").run()
    folders = at.selectbox(key="collection_folder").options
    assert not at.exception and "party" in folders and "fer_small/train/happy" in folders
    at.selectbox(key="collection_folder").set_value("party").run()
    assert not at.exception and at.caption[0].value.startswith("1 photo, 1 face;")


def test_the_live_camera_without_webrtc_offers_the_snapshot(dashboard_env):
    """Under AppTest there is no server runtime, so the WebRTC component cannot start: the page says
    so and points to the snapshot camera (the started and recording states run in Chromium:
    tests/e2e/test_browser.py; their words in tests/app/test_live.py)."""
    at = app_page("pages/4_Predict.py").run(timeout=300)
    at.radio(key="mode").set_value("Live camera").run(timeout=300)
    assert not at.exception and not at.error
    assert any("not available on this server" in w.value and "snapshot" in w.value for w in at.warning)


def test_a_bad_ice_server_setting_is_one_message(dashboard_env, monkeypatch):
    monkeypatch.setenv("FER_WEBRTC_ICE_SERVERS", "turn:no-json")
    at = app_page("pages/4_Predict.py").run(timeout=300)
    at.radio(key="mode").set_value("Live camera").run(timeout=300)
    assert not at.exception and any("webrtc_ice_servers is not JSON" in e.value for e in at.error)


@needs_photos
@pytest.mark.slow
def test_correct_three_faces_adapt_and_answer_with_the_adapted_model(dashboard_env, tmp_path, monkeypatch):
    """The loop a user runs: set the true class of three faces (kept in the corrections folder),
    press Adapt (replaying the data folder's dataset), choose the adapted model, see it answer."""
    corrections = tmp_path / "corrections"
    monkeypatch.setenv("FER_CORRECTIONS_DIR", str(corrections))
    at = app_page("pages/4_Predict.py").run()
    names = ["fr_obama.jpg", "df_img15.jpg", "df_img22.jpg"]
    at.file_uploader[0].set_value([(n, (SHARED_PHOTOS / n).read_bytes(), "image/jpeg") for n in names]).run()
    boxes = [s for s in at.selectbox if s.label == "Face 1 is really"]
    assert not at.exception and len(boxes) == 3
    for k in range(3):
        next(s for s in at.selectbox if s.label == "Face 1 is really" and s.key == boxes[k].key).set_value("surprise").run()
    labels = (corrections / "labels.csv").read_text().splitlines()
    assert len(labels) == 4 and all(",surprise," in row for row in labels[1:])
    assert any("3 corrected faces (surprise 3)" in c.value for c in at.caption)
    assert all(s.value == "surprise" for s in at.selectbox if s.label == "Face 1 is really")  # kept, shown again
    at.button(key="adapt").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("3-fold cross-validated" in m.value for m in at.markdown)
    model = next(s for s in at.selectbox if s.label == "Model")
    adapted = [o for o in model.options if o.startswith("Adapted: ")]
    assert len(adapted) == 1 and list((dashboard_env["runs"] / "adapted").glob("*.keras"))
    model.set_value(adapted[0]).run()
    assert not at.exception and sum(c.value.startswith("angry") for c in at.code) == 3  # it answers every face
