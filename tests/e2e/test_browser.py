"""End to end in a real browser against a real ``streamlit run`` server (see conftest.py)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import SHARED_PHOTOS

ZIP_NAME = "fer2013/fer2013-train-publictest.zip"


def wait_idle(page) -> None:
    """Until Streamlit has finished running the script (its status widget goes away)."""
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=180_000)


def choose(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option).click()


def test_home_then_dataset_class_chart(server, page, screenshots):
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="FER Studio")).to_be_visible()
    expect(page.get_by_text("PublicTest accuracy")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()  # the per-class recall table
    wait_idle(page)
    page.wait_for_timeout(500)  # the table is drawn on a canvas after it is attached
    page.screenshot(path=screenshots / "home.png", full_page=True)

    page.goto(server["url"] + "/Dataset")
    expect(page.get_by_role("heading", name="Dataset")).to_be_visible()
    choose(page, "Dataset", ZIP_NAME)
    expect(page.get_by_text(re.compile(r"train: 28,709, val: 3,589"))).to_be_visible(timeout=180_000)
    wait_idle(page)
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible()
    expect(chart.get_by_text("happy")).to_be_visible()
    page.screenshot(path=screenshots / "dataset.png", full_page=False)
    page.get_by_role("tab", name="Duplicates").click()
    expect(page.get_by_text(re.compile(r"groups of identical images"))).to_be_visible(timeout=120_000)
    page.screenshot(path=screenshots / "dataset_duplicates.png", full_page=False)


def test_upload_a_photo_and_see_a_box_and_label(server, page, screenshots):
    page.goto(server["url"] + "/Predict")
    expect(page.get_by_text("Upload one or more photos")).to_be_visible()
    page.locator("input[type=file]").first.set_input_files(str(SHARED_PHOTOS / "fr_two_people.jpg"))
    expect(page.get_by_role("heading", name="fr_two_people.jpg")).to_be_visible(timeout=120_000)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^face 1: (angry|disgust|fear|happy|sad|surprise|neutral)$"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^face 2: "))).to_be_visible()
    boxed = page.get_by_test_id("stImage").first.locator("img")
    expect(boxed).to_be_visible()
    assert boxed.evaluate("img => img.naturalWidth") == 1126  # the photo itself, with boxes drawn on it
    page.screenshot(path=screenshots / "predict.png", full_page=False)


def test_upload_a_video_and_see_a_timeline(server, page, screenshots, tmp_path):
    from tests.conftest import write_test_video

    video = write_test_video(tmp_path / "talk.mp4", script=[(0.0, 1.0, ("fr_obama.jpg", "fr_biden.jpg")),
                                                            (1.0, 2.0, ("fr_obama.jpg", None))])
    page.goto(server["url"] + "/Predict")
    page.get_by_test_id("stRadio").filter(has_text="Analyse").get_by_text("A video").click()
    expect(page.get_by_text("Upload a video to follow")).to_be_visible()
    page.locator("input[type=file]").first.set_input_files(str(video))
    expect(page.get_by_role("heading", name="Timelines")).to_be_visible(timeout=180_000)
    wait_idle(page)
    timeline = page.locator(".js-plotly-plot").filter(has_text="Person 1: expression probabilities over time")
    expect(timeline).to_be_visible()
    expect(timeline.get_by_text("happy").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^10 frames sampled at 5 a second from talk.mp4"))).to_be_visible()
    page.get_by_text(re.compile(r"^10 frames sampled")).evaluate("element => element.scrollIntoView()")
    page.wait_for_timeout(300)
    page.screenshot(path=screenshots / "predict_video.png", full_page=False)


def test_a_long_video_leaves_room_for_others_and_can_be_cancelled(server, browser, page, tmp_path):
    """While one session analyses a 60 s video (300 sampled frames: half a minute or more here), another's
    photo is answered (they take turns at the model frame by frame); then Cancel stops the video and
    keeps nothing."""
    from tests.conftest import write_test_video

    video = write_test_video(tmp_path / "long.mp4", script=[(0.0, 60.0, ("fr_obama.jpg", None))])
    page.goto(server["url"] + "/Predict")
    page.get_by_test_id("stRadio").filter(has_text="Analyse").get_by_text("A video").click()
    expect(page.get_by_text("Upload a video to follow")).to_be_visible()
    page.locator("input[type=file]").first.set_input_files(str(video))
    progress = page.get_by_text(re.compile(r"of 300 sampled frames, about \d+ s left"))
    expect(progress).to_be_visible(timeout=120_000)

    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.goto(server["url"] + "/Predict")
    other.locator("input[type=file]").first.set_input_files(str(SHARED_PHOTOS / "fr_obama.jpg"))
    expect(other.get_by_text(re.compile(r"^face 1: "))).to_be_visible(timeout=120_000)
    expect(progress).to_be_visible()  # the video is still going: the photo did not wait for it
    other.context.close()

    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("Cancelled; nothing was kept.")).to_be_visible()
    expect(page.get_by_role("heading", name="Timelines")).to_have_count(0)


def test_launch_a_tiny_training_run_and_see_it_done(server, page, screenshots):
    page.goto(server["url"] + "/Train_and_Tune")
    expect(page.get_by_role("heading", name="Train & Tune")).to_be_visible()
    wait_idle(page)
    page.get_by_label("Epochs", exact=True).fill("1")
    page.get_by_label("Filters per conv block", exact=True).fill("8, 16, 16")
    page.get_by_label("Dense units", exact=True).fill("32")
    share = page.get_by_role("slider").first
    share.focus()
    share.press("Home")  # the smallest share of the training data: 1%
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_text(re.compile(r"^Queued"))).to_be_visible(timeout=60_000)
    page.screenshot(path=screenshots / "train_queued.png", full_page=False)
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(r"^done$"))).to_have_count(
        1, timeout=300_000)
    page.screenshot(path=screenshots / "train_done.png", full_page=False)

    page.goto(server["url"] + "/Results")
    expect(page.get_by_text("Accuracy on val").first).to_be_visible(timeout=300_000)
    wait_idle(page)
    page.get_by_role("tab", name="One run").click()
    expect(page.get_by_role("tab", name="One run")).to_have_attribute("aria-selected", "true")
    wait_idle(page)
    page.screenshot(path=screenshots / "results_run.png", full_page=False)


def test_results_of_a_fresh_server_show_the_default_model(server, page, screenshots):
    """No run needed: the default model's PublicTest confusion matrix and mistakes, no click but the page."""
    page.goto(server["url"] + "/Results")
    expect(page.get_by_text("Accuracy on val").first).to_be_visible(timeout=300_000)
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_match_aria_snapshot(
        '- combobox "Model": /Default model .*/')
    model_tab = page.get_by_role("tabpanel", name="A model")  # other tabs have these headings too, with runs
    expect(model_tab.get_by_text("Misclassified faces")).to_be_visible()
    expect(model_tab.get_by_text(re.compile(r"^[\d,]+ mistakes, most confident first$"))).to_be_visible()
    wait_idle(page)
    page.screenshot(path=screenshots / "results.png", full_page=False)
    model_tab.get_by_text("Misclassified faces").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "results_mistakes.png", full_page=False)
