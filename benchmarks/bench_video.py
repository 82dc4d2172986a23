"""Video analysis speed on this machine: a 60 s 720p clip with one face, sampled at 5 frames a second.

Usage: python benchmarks/bench_video.py [--seconds 60] [--fps 5] [--detector blazeface|mtcnn|haar] [--model default]

Builds the clip itself (1280x720, 30 fps, MPEG-4 part 2 in .mp4: a 1280x720 window panning slowly
across a real 1920x1080 photo of one person, so the frames carry a real scene's detail for the
decoder and the detector; needs ../shared/photos), then times ``fer_core.media.video.
analyze_video`` end to end as the Predict page and ``predict VIDEO`` run it: decoding every frame,
detecting and classifying the faces of the sampled ones, tracking, and writing the annotated MP4.
Model loading and the detector's first build are done before the clock starts. Prints the wall
time, the ratio to the clip's duration (at most 1.0 is real time) and where the time went.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

PHOTO = Path(__file__).resolve().parent.parent.parent / "shared" / "photos" / "fr_obama-1080p.jpg"


def write_clip(path: Path, seconds: float, fps: float = 30.0, size: tuple[int, int] = (1280, 720)) -> Path:
    import cv2

    with Image.open(PHOTO) as img:
        scene = np.asarray(img.convert("RGB").resize((1920, 1080)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(round(seconds * fps)):
        phase = (1 + np.sin(index / 120)) / 2  # a slow pan, left and right and a little up and down
        x, y = round(phase * (1920 - size[0])), round((1 - phase) * 60)  # the face stays whole in view
        writer.write(cv2.cvtColor(scene[y:y + size[1], x:x + size[0]], cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--detector", default="blazeface", choices=["blazeface", "mtcnn", "haar"])
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    from fer_core.faces.detectors import get_detector
    from fer_core.data.video_files import open_video, sample_frames
    from fer_core.answering.spec import AnswerSpec
    from fer_core.media.video import VideoOptions, without_brief_people

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", args.seconds)
        info = open_video(clip)
        print(f"clip: {info.width}x{info.height}, {info.fps:g} fps, {info.duration:.0f} s, "
              f"{clip.stat().st_size / 2**20:.1f} MB; sampled at {args.fps:g} a second, detector {args.detector}")
        spec = AnswerSpec.resolve(args.model, tta="none", detector=args.detector)
        answerer = spec.load()
        get_detector(args.detector)  # built once per process, as on a running server
        answerer.video(write_clip(Path(tmp) / "warm.mp4", 1.0), VideoOptions(fps=args.fps))
        start = time.perf_counter()
        decoded = sum(1 for _ in sample_frames(clip, args.fps))
        decode_only = time.perf_counter() - start
        start = time.perf_counter()
        analysis = answerer.video(clip, VideoOptions(fps=args.fps), annotated_path=Path(tmp) / "annotated.mp4")
        wall = time.perf_counter() - start
    print(f"sampled frames: {analysis.sampled_frames} ({decoded} when only decoding), with a face: "
          f"{analysis.frames_with_faces}, people followed: {len(analysis.people)} (seen in 3 sampled frames or "
          f"more, as the page charts them: {len(set(without_brief_people(analysis.table(), 3)[0]['person']))})")
    print(f"decoding and sampling alone: {decode_only:.1f} s")
    print(f"whole analysis (decode, detect, track, classify, annotated MP4): {wall:.1f} s = "
          f"{wall / info.duration:.2f} x the clip's duration, {wall / analysis.sampled_frames * 1000:.0f} ms "
          "per sampled frame")


if __name__ == "__main__":
    main()
