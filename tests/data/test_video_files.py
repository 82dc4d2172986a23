"""Reading videos: real files written by OpenCV in each accepted container, sampled at a chosen rate;
damaged, empty, too long and too large files refused with one sentence."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.errors import ConfigError, DataError
from fer_core.data.video_files import VideoLimits, open_video, read_frame, sample_count, sample_frames


def numbered_video(path, frames: int = 20, fps: float = 10.0, fourcc: str = "mp4v"):
    """Frame k is a flat grey of level 8 * k, so a decoded frame says which one it is."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (160, 120))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((120, 160, 3), 8 * k, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("name,fourcc", [("a.mp4", "mp4v"), ("a.avi", "MJPG"), ("a.mov", "mp4v"),
                                         ("a.webm", "VP80")])
def test_each_container_opens_and_samples_at_the_asked_rate(tmp_path, name, fourcc):
    path = numbered_video(tmp_path / name, frames=20, fps=10.0, fourcc=fourcc)
    info = open_video(path)
    assert (info.fps, info.frame_count, info.width, info.height) == (10.0, 20, 160, 120)
    assert info.duration == pytest.approx(2.0)
    frames = list(sample_frames(path, fps=5.0))
    assert [f.index for f in frames] == list(range(0, 20, 2)) and sample_count(info, 5.0) == 10
    assert [f.time for f in frames] == pytest.approx([k * 0.2 for k in range(10)])
    levels = [int(np.median(f.rgb)) for f in frames]  # the frame decoded is the frame named
    assert all(abs(level - 8 * f.index) <= 6 for level, f in zip(levels, frames)), levels
    assert frames[0].rgb.shape == (120, 160, 3) and frames[0].rgb.dtype == np.uint8


def test_rates_at_or_above_the_videos_give_every_frame_and_odd_rates_the_nearest(tmp_path):
    path = numbered_video(tmp_path / "a.mp4", frames=30, fps=10.0)
    assert len(list(sample_frames(path, fps=25.0))) == 30
    assert [f.index for f in sample_frames(path, fps=3.0)] == [0, 3, 7, 10, 13, 17, 20, 23, 27]


def test_bad_files_are_refused_in_one_sentence(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video at all " * 100)
    (tmp_path / "empty.mp4").write_bytes(b"")
    good = numbered_video(tmp_path / "good.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 3])
    (tmp_path / "folder.mp4").mkdir()
    expected = {"text.mp4": "not a video OpenCV can read", "empty.mp4": "empty file",
                "cut.mp4": "not a video OpenCV can read", "folder.mp4": "a folder",
                "missing.mp4": "No such file"}
    for name, words in expected.items():
        with pytest.raises(DataError, match=words):
            open_video(tmp_path / name)


def test_the_caps_on_duration_and_size(tmp_path, monkeypatch):
    path = numbered_video(tmp_path / "a.mp4", frames=30, fps=10.0)  # 3 s
    with pytest.raises(DataError, match=r"too long \(3 s; the limit is 2 s"):
        open_video(path, VideoLimits(max_seconds=2))
    with pytest.raises(DataError, match="too large"):
        open_video(path, VideoLimits(max_bytes=100))
    from fer_core.settings import Settings

    open_video(path)  # the defaults: 600 s
    monkeypatch.setenv("FER_MAX_VIDEO_SECONDS", "2")  # what an entry point reads and hands down
    with pytest.raises(DataError, match="FER_MAX_VIDEO_SECONDS"):
        open_video(path, VideoLimits.from_settings(Settings.load()))
    monkeypatch.setenv("FER_MAX_VIDEO_SECONDS", "soon")
    with pytest.raises(ConfigError, match="max_video_seconds .FER_MAX_VIDEO_SECONDS. must be a number"):
        VideoLimits.from_settings(Settings.load())


def test_read_frame_finds_the_frame_by_its_index(tmp_path):
    path = numbered_video(tmp_path / "a.mp4", frames=20)
    assert abs(int(np.median(read_frame(path, 13))) - 104) <= 6
    with pytest.raises(DataError, match="frame 99"):
        read_frame(path, 99)
