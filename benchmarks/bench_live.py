"""The live camera's server side: sustained frames per second and frame-in to overlay-out latency
(p50 / p95) of ``LiveAnalyzer.process`` on 640x480 frames, with one face and with two, for the
default model with no TTA and with its card's best TTA (what the Predict page picks).

Usage: python benchmarks/bench_live.py [--seconds 20] [--detector blazeface]

Frames are shared photos fitted into 640x480, drifting a few pixels a frame, handed over one after
another as fast as the analyzer returns them (a camera faster than the machine: the rate printed
is what the machine sustains). The WebRTC decode and encode in aiortc and the browser's drawing
come on top; the page's own figures (the line beside the video) include them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from fer_core.faces.detectors import DEFAULT_DETECTOR  # noqa: E402
from fer_core.faces.images import decode_photo
from fer_core.runtime.cards import ModelCard  # noqa: E402
from fer_core.media.live import LiveAnalyzer  # noqa: E402
from fer_core.answering.spec import AnswerSpec  # noqa: E402
from fer_core.runtime.loading import default_model_path  # noqa: E402
from fer_core.media.video import VideoOptions  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"
SCENES = {"one face": "fr_obama.jpg", "two faces": "fr_two_people.jpg"}


def frames(photo: str, count: int = 30) -> list[np.ndarray]:
    image = decode_photo((PHOTOS / photo).read_bytes())
    image.thumbnail((600, 440))
    out = []
    for k in range(count):
        frame = Image.new("RGB", (640, 480), (90, 90, 90))
        frame.paste(image, ((640 - image.width) // 2 + int(6 * np.sin(k / 5)), (480 - image.height) // 2))
        out.append(np.asarray(frame))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR)
    args = parser.parse_args()
    print("| scene | TTA | frames/s | latency p50 (ms) | p95 (ms) | faces per frame |")
    print("|---|---|---|---|---|---|")
    for tta in dict.fromkeys(["none", ModelCard.read(default_model_path()).best_tta()]):
        spec = AnswerSpec.resolve("default", tta=tta, detector=args.detector)
        answerer = spec.load()
        for scene, photo in SCENES.items():
            clip = frames(photo)
            analyzer = LiveAnalyzer(answerer, VideoOptions())
            for frame in clip[:5]:  # warm-up: the compiled predict step, the detector
                analyzer.process(frame)
            latencies, faces = [], []
            started = time.perf_counter()
            k = 0
            while time.perf_counter() - started < args.seconds:
                arrived = time.perf_counter()
                analyzer.process(clip[k % len(clip)])
                latencies.append((time.perf_counter() - arrived) * 1000)
                faces.append(analyzer.status().faces)
                k += 1
            elapsed = time.perf_counter() - started
            print(f"| {scene} | {tta} | {k / elapsed:.1f} | {statistics.median(latencies):.1f} | "
                  f"{np.percentile(latencies, 95):.1f} | {statistics.mean(faces):.2f} |")


if __name__ == "__main__":
    main()
