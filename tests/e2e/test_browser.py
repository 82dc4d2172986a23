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


def choose(page, label: str, option: str, number: int = 0) -> None:
    """Pick the option whose name holds ``option`` in the ``number``-th select box labelled ``label``: typed into its combo box,
    since a click on a box whose label has a help icon may only focus it (Streamlit 1.67)."""
    typed = page.get_by_role("combobox", name=label, exact=True).nth(number)
    typed.click()
    typed.fill(option)
    page.get_by_role("option", name=option).first.click()


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


def test_correct_three_faces_adapt_and_see_the_adapted_model_answer(server, page, screenshots):
    """The user's loop in the browser: set the true class of three faces, press Adapt (replaying
    FER2013 Training), choose the adapted model and see it answer the same faces."""
    page.goto(server["url"] + "/Predict")
    expect(page.get_by_text("Upload one or more photos")).to_be_visible()
    names = ["fr_obama.jpg", "df_img15.jpg", "df_img22.jpg"]
    page.locator("input[type=file]").first.set_input_files([str(SHARED_PHOTOS / n) for n in names])
    expect(page.get_by_role("heading", name=names[-1])).to_be_visible(timeout=120_000)
    wait_idle(page)
    corrections = page.get_by_role("combobox", name="Face 1 is really", exact=True)
    expect(corrections).to_have_count(3)
    for k in range(3):
        choose(page, "Face 1 is really", "surprise", k)
        expect(page.get_by_text(re.compile(rf"^{k + 1} corrected faces \(surprise {k + 1}\)"))).to_be_visible()
        wait_idle(page)
    labels = (server["tmp"] / "corrections" / "labels.csv").read_text().splitlines()
    assert len(labels) == 4 and all(",surprise," in row for row in labels[1:])
    page.get_by_role("button", name=re.compile(r"^Adapt .* to my corrections$")).click()
    written = page.get_by_text(re.compile(r"^Wrote .*-adapted-.*\.keras"))
    expect(written).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(r"cross-validated")).first).to_be_visible()
    name = re.search(r"\S+-adapted-\S+\.keras", written.inner_text()).group(0)
    page.screenshot(path=screenshots / "predict_adapted.png", full_page=False)
    choose(page, "Model", f"Adapted: {name}")  # listed as "Adapted: NAME (69.6% on PublicTest)"
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(rf"^Adapted: {name}"))
    expect(page.get_by_role("heading", name=names[-1])).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    answers = page.get_by_text(re.compile(r"^face 1: (angry|disgust|fear|happy|sad|surprise|neutral)$"))
    expect(answers).to_have_count(3)


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
    expect(page.get_by_text("The preset also sets")).to_be_visible()  # the form opens on the quick preset
    page.get_by_test_id("stRadio").filter(has_text="Start from").get_by_text("my own settings").click()
    expect(page.get_by_text("The preset also sets")).to_have_count(0)
    wait_idle(page)
    expect(page.get_by_label("Epochs", exact=True)).to_have_count(1)
    page.get_by_label("Epochs", exact=True).fill("1")
    page.get_by_label("Filters per stage", exact=True).fill("8, 16, 16")
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


def test_a_fresh_server_first_opened_on_a_page_lists_the_apps_pages(tmp_path, page):
    """A server's first visitor who opens a page's URL (a bookmark) gets the app's own page list
    ("Home", "Train & Tune"), not Streamlit's list of file names ("streamlit app", "Train and Tune"),
    and no "Deploy" button."""
    from tests.e2e.server import free_port, start_server

    port = free_port()
    process = start_server(tmp_path, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/Dataset")
        expect(page.get_by_role("heading", name="Dataset")).to_be_visible()
        navigation = page.get_by_test_id("stSidebarNav")
        expect(navigation.get_by_text("Home", exact=True)).to_be_visible()
        expect(navigation.get_by_text("Train & Tune", exact=True)).to_be_visible()
        expect(navigation.get_by_text("streamlit app")).to_have_count(0)
        expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    finally:
        process.terminate()
        process.wait(20)


def test_the_live_camera_names_the_expression_and_records_it(server, browser, tmp_path, screenshots):
    """Chromium's fake camera plays a clip made from a shared photo; the page streams it over
    WebRTC (no network), shows the face's expression live, and Record then Stop gives a CSV of
    that person's rows in the video format."""
    from tests.conftest import camera_clip
    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS

    clip = camera_clip(tmp_path / "clip.y4m")
    camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-video-capture={clip}"]
    # A second Chromium with the fake camera, from the session's Playwright (two cannot run at once).
    camera_browser = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + camera, headless=True)
    try:
        page = camera_browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
        page.set_default_timeout(60_000)
        page.goto(server["url"] + "/Predict")
        expect(page.get_by_role("heading", name="Predict")).to_be_visible()
        wait_idle(page)
        page.get_by_test_id("stRadio").filter(has_text="Analyse").get_by_text("Live camera").click()
        expect(page.get_by_text("Press Start to stream your camera")).to_be_visible()
        page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START").click()
        expect(page.get_by_text(re.compile(r"^Live: .* frames/s analysed .*, latency \d+ ms.*, 1 face\(s\) now"))) \
            .to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"expression probabilities over time")).first).to_be_visible()
        main = page.get_by_test_id("stMainBlockContainer")
        main.get_by_role("button", name="Record", exact=True).click()
        expect(page.get_by_text(re.compile(r"recording, ([3-9]|\d\d+) rows"))).to_be_visible(timeout=60_000)
        main.get_by_role("button", name="Stop", exact=True).click()
        page.screenshot(path=screenshots / "predict_live.png", full_page=False)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the recording (CSV)").click()
        rows = download.value.path().read_text().splitlines()
    finally:
        camera_browser.close()
    assert rows[0].startswith("frame,time,person,x,y,width,height,detector_score,top,angry,")
    assert rows[0].endswith(",yaw,pitch,roll") and len(rows) >= 4  # the header and at least 3 frames
    people = {line.split(",")[2] for line in rows[1:]}
    tops = {line.split(",")[8] for line in rows[1:]}
    assert len(people) == 1 and tops <= {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}, \
        [line.split(",")[:8] for line in rows[1:]]
