"""Video analysis on a real video built from the shared photos (tests/conftest.py VIDEO_SCRIPT): one
person throughout except 4-5 s, a second one from 1 s to 3 s; MTCNN, the default model, 5 fps."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fer_core.labels import CLASSES
from fer_core.errors import DataError
from fer_core.media.video import (FRAME_COLUMNS, VideoOptions, analyze_video, smooth_timeline,
                                      without_brief_people, write_video_outputs)
from tests.conftest import SHARED_PHOTOS, write_test_video, answer_with

pytestmark = pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")


@pytest.fixture(scope="module")
def model():
    from fer_core.runtime.loading import default_model_path, load_model

    return load_model(default_model_path())


@pytest.fixture(scope="module")
def analysed(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("video")
    video = write_test_video(folder / "script.mp4")
    seen = []
    analysis = analyze_video(answer_with(model), video, VideoOptions(fps=5.0), annotated_path=folder / "out" / "annotated.mp4",
                             progress=lambda done, total: seen.append((done, total)))
    return analysis, folder, seen


def test_frames_are_sampled_at_the_asked_rate_with_their_times(analysed):
    analysis, _, seen = analysed
    assert (analysis.info.fps, analysis.info.frame_count) == (10.0, 60)
    assert analysis.sampled_frames == 30 and analysis.times == pytest.approx([k * 0.2 for k in range(30)])
    assert seen == [(k, 30) for k in range(1, 31)]  # progress after every sampled frame, with the total
    table = analysis.table()
    assert sorted(set(table["frame"])) == sorted({2 * k for k in range(30) if not 20 <= k < 25})
    assert analysis.frames_with_faces == 25  # none between 4 s and 5 s


def test_each_person_keeps_one_id_while_in_view_and_a_return_gets_a_new_one(analysed):
    table = analysed[0].table()
    left, right = table[table["x"] < 320], table[table["x"] >= 320]
    before, after = left[left["time"] < 4], left[left["time"] >= 5]
    assert len(before) == 20 and set(before["person"]) == {1}
    assert right["time"].tolist() == pytest.approx([1.0 + 0.2 * k for k in range(10)])
    assert set(right["person"]) == {2}
    assert len(after) == 5 and set(after["person"]) == {3}  # gone for a second: the tracker cannot know it is 1
    assert analysed[0].people == [1, 2, 3] and len(table) == 35


def test_timeline_rows_and_shares(analysed):
    analysis = analysed[0]
    table = analysis.table()
    assert list(table.columns) == FRAME_COLUMNS
    assert np.allclose(table[list(CLASSES)].sum(axis=1), 1.0, atol=1e-4)
    assert (table["top"] == table[list(CLASSES)].idxmax(axis=1)).all()
    shares = analysis.shares()
    assert list(shares.index) == [1, 2, 3] and np.allclose(shares.sum(axis=1), 1.0)
    smoothed = smooth_timeline(table, 5)
    assert np.allclose(smoothed[list(CLASSES)].sum(axis=1), 1.0)
    assert smoothed.groupby("person")["happy"].std().sum() <= table.groupby("person")["happy"].std().sum()
    assert smooth_timeline(table, 1) is table
    kept, left_out = without_brief_people(table, 6)  # person 3 is back for 5 samples only
    assert left_out == [3] and set(kept["person"]) == {1, 2} and len(kept) == 30
    assert without_brief_people(table, 1) == (table, [])


def test_downloads_and_the_annotated_video(analysed, tmp_path):
    import cv2

    analysis, folder, _ = analysed
    csv_path, json_path = write_video_outputs(analysis, tmp_path)
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == FRAME_COLUMNS and len(rows) == 35
    assert '"people": [' in json_path.read_text()
    annotated = cv2.VideoCapture(str(folder / "out" / "annotated.mp4"))
    assert annotated.isOpened() and annotated.get(cv2.CAP_PROP_FRAME_COUNT) == 30
    assert annotated.get(cv2.CAP_PROP_FPS) == 5.0
    frames = 0
    while annotated.read()[0]:
        frames += 1
    assert frames == 30
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["annotated.mp4"]  # no temporary file left


def test_a_video_without_faces_says_so(model, tmp_path):
    video = write_test_video(tmp_path / "empty.avi", script=[(0.0, 2.0, (None, None))], fourcc="MJPG")
    analysis = analyze_video(answer_with(model), video, VideoOptions(fps=5.0))
    assert analysis.no_face and analysis.sampled_frames == 10 and analysis.table().empty
    assert analysis.shares().empty


def test_stopping_midway_leaves_nothing_written(model, tmp_path):
    video = write_test_video(tmp_path / "v.mp4", script=[(0.0, 2.0, ("fr_obama.jpg", None))])

    def stop_at_three(done: int, total: int | None) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze_video(answer_with(model), video, annotated_path=tmp_path / "out" / "annotated.mp4", progress=stop_at_three)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_corrupt_video_is_refused_before_any_work(model, tmp_path):
    video = write_test_video(tmp_path / "v.mp4", script=[(0.0, 1.0, ("fr_obama.jpg", None))])
    (tmp_path / "bad.mp4").write_bytes(video.read_bytes()[:200])
    with pytest.raises(DataError, match="not a video OpenCV can read"):
        analyze_video(answer_with(model), tmp_path / "bad.mp4", annotated_path=tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_the_public_api(tmp_path):
    import fer_core

    video = write_test_video(tmp_path / "v.webm", script=[(0.0, 1.0, ("fr_obama.jpg", None))], fourcc="VP80")
    analysis = fer_core.predict_video(video, fps=2, annotated_path=tmp_path / "a.mp4")
    assert analysis.sampled_frames == 2 and analysis.people == [1] and (tmp_path / "a.mp4").exists()
