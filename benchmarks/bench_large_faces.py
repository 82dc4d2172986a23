"""Faces that fill the frame: BlazeFace's recall with and without its fallback (the short-range
model, then a bordered copy), on FER2013 faces scaled to fill a share of a 400x400 frame.

Usage: python benchmarks/bench_large_faces.py --data ../shared/datasets/fer2013/fer2013-train-publictest.zip
       [--faces 300] [--fills 0.33 0.6 0.8 0.95]

Each of ``--faces`` seeded PublicTest faces (48x48) is scaled so that its side is FILL of the frame's
and pasted in its middle; the rest of the frame is its own edge pixels stretched outwards and
blurred. A face counts as found when the detector returns a box whose centre lies inside the pasted
face. Also prints, for the shared photos, the faces found with and without the fallback (it only
runs on images where the full-range model finds nothing, so it cannot add faces to the others) and
the time per frame at each fill.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

FRAME = 400


def framed(face: np.ndarray, fill: float) -> tuple[np.ndarray, tuple[int, int, int]]:
    side = int(FRAME * fill)
    big = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC))
    before = (FRAME - side) // 2
    padded = np.pad(big, (before, FRAME - side - before), mode="edge")
    out = np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(10))).copy()
    out[before:before + side, before:before + side] = big
    return np.repeat(out[..., None], 3, axis=2), (before, before, side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--faces", type=int, default=300)
    parser.add_argument("--fills", type=float, nargs="+", default=[0.33, 0.6, 0.8, 0.95])
    args = parser.parse_args()

    from fer_core.faces.detectors import BlazeFaceDetector
    from fer_core.faces.images import decode_photo
    from fer_core.data.loaders import load_dataset

    val = load_dataset(args.data).split("val")
    pick = np.random.default_rng(0).choice(len(val), size=min(args.faces, len(val)), replace=False)
    detectors = {"full-range only": BlazeFaceDetector(fallback=False), "with the fallback": BlazeFaceDetector()}
    print(f"| face side / frame side | {' | '.join(detectors)} | ms a frame (with) |")
    print("|---|---|---|---|")
    for fill in args.fills:
        found = {name: 0 for name in detectors}
        seconds = 0.0
        for k in pick:
            rgb, (x0, y0, side) = framed(val.images[k], fill)
            for name, detector in detectors.items():
                started = time.perf_counter()
                boxes = detector.detect(rgb)
                if name == "with the fallback":
                    seconds += time.perf_counter() - started
                found[name] += any(x0 <= b.x + b.width / 2 <= x0 + side and y0 <= b.y + b.height / 2 <= y0 + side
                                   for b in boxes)
        print(f"| {fill:.2f} | " + " | ".join(f"{found[n] / len(pick):.1%}" for n in detectors)
              + f" | {1000 * seconds / len(pick):.1f} |")
    photos = sorted(p for p in (Path(__file__).resolve().parents[2] / "shared" / "photos").iterdir()
                    if p.suffix.lower() in (".jpg", ".png"))
    counts = {name: sum(len(d.detect(np.asarray(decode_photo(p.read_bytes())))) for p in photos)
              for name, d in detectors.items()}
    print(f"\nshared photos ({len(photos)}): faces found " + ", ".join(f"{n}: {c}" for n, c in counts.items()))


if __name__ == "__main__":
    main()
