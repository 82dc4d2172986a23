"""Compare the face detectors on the real photos in ../shared/photos: faces found, false faces,
small and turned faces, and time per photo and per video-sized frame.

Usage: python benchmarks/bench_faces.py [--photos DIR] [--repeats 3] [--detectors blazeface mtcnn haar]

The photos carry no face annotations: the counts below were made by eye (44 people in 39 photos).
Per detector it prints:
- recall: faces found, up to the number of people in each photo, over the 44 people;
- false faces: faces found beyond the number of people in each photo;
- small faces: the one-person photos scaled so the face is about 40 px wide (found / photos);
- turned faces: the one-person photos rotated by 20 degrees either way (found / rotations);
- ms per photo (each photo as it is) and per 640x480 and 1280x720 frame (each photo fitted into
  that frame), p50 and p95 over ``--repeats`` passes;
and, for the default detector, one one-face photo end to end: decode, detect, align, classify.
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

from fer_core.faces.detectors import DEFAULT_DETECTOR, DETECTORS, detect_faces, get_detector  # noqa: E402
from fer_core.faces.images import decode_photo
from fer_core.errors import DataError  # noqa: E402

# People in each group photo, counted by eye (obama_and_biden has a child at the edge);
# every other photo shows one person.
EXPECTED_FACES = {"df_couple.jpg": 2, "fr_two_people.jpg": 2, "fr_obama_and_biden.jpg": 3,
                  "fr_kit_with_rose.jpg": 2}
FRAMES = {"640x480": (640, 480), "1280x720": (1280, 720)}


def fitted(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photo scaled to fit ``size``, centred on black (a video frame of that size)."""
    scale = min(size[0] / image.width, size[1] / image.height)
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    frame = Image.new("RGB", size)
    frame.paste(small, ((size[0] - small.width) // 2, (size[1] - small.height) // 2))
    return frame


def timed(detector: str, images: list[Image.Image], repeats: int) -> tuple[list[int], list[float]]:
    counts, times = [], []
    for _ in range(repeats):
        counts = []
        for image in images:
            start = time.perf_counter()
            counts.append(len(detect_faces(image, detector)))
            times.append((time.perf_counter() - start) * 1000)
    return counts, times


def p50_p95(times: list[float]) -> str:
    return f"{statistics.median(times):.1f} / {np.percentile(times, 95):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=str(Path(__file__).resolve().parents[2] / "shared" / "photos"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    args = parser.parse_args()

    images: dict[str, Image.Image] = {}
    for path in sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")):
        try:
            images[path.name] = decode_photo(path.read_bytes())
        except DataError as exc:
            print(f"skip {path.name}: {exc}")
    people = {name: EXPECTED_FACES.get(name, 1) for name in images}
    singles = [name for name in images if people[name] == 1]
    print(f"{len(images)} photos, {sum(people.values())} people, from {args.photos}\n")
    print("| detector | recall | false faces | small faces | turned faces | ms per photo p50 / p95 | "
          "640x480 frame | 1280x720 frame |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.detectors:
        get_detector(name)  # built outside the timing
        detect_faces(next(iter(images.values())), name)  # warm-up
        counts, photo_ms = timed(name, list(images.values()), args.repeats)
        found = dict(zip(images, counts))
        recall = sum(min(found[p], people[p]) for p in images)
        false = sum(max(0, found[p] - people[p]) for p in images)
        small_found = 0
        for photo in singles:  # the face about 40 px wide: scale by 40 / (its width found at full size)
            boxes = detect_faces(images[photo], DEFAULT_DETECTOR)
            if boxes:
                scale = 40 / boxes[0].width
                image = images[photo]
                small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
                small_found += bool(detect_faces(small, name))
        turned = [images[p].rotate(angle, expand=True) for p in singles for angle in (-20, 20)]
        turned_found = sum(bool(n) for n in timed(name, turned, 1)[0])
        frames = {label: timed(name, [fitted(i, size) for i in images.values()], args.repeats)[1]
                  for label, size in FRAMES.items()}
        print(f"| {name} | {recall}/{sum(people.values())} | {false} | {small_found}/{len(singles)} | "
              f"{turned_found}/{len(turned)} | {p50_p95(photo_ms)} | {p50_p95(frames['640x480'])} | "
              f"{p50_p95(frames['1280x720'])} |")
        wrong = {p: found[p] for p in images if found[p] != people[p]}
        print(f"  photos with another count than people: {wrong or 'none'}")
    end_to_end()


def end_to_end(photo: str = "fr_obama.jpg", repeats: int = 30) -> None:
    """One one-face photo from its bytes to its answer in the library, as the Predict page calls it."""
    from fer_core.answering.spec import AnswerSpec
    path = Path(__file__).resolve().parents[2] / "shared" / "photos" / photo
    data = path.read_bytes()
    for tta in ("none", "auto"):
        spec = AnswerSpec.resolve("default", tta=tta)
        answerer = spec.load()
        tta = spec.tta
        answerer.photos([(photo, data)])  # warm-up: the compiled predict step, the detector
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            (result,) = answerer.photos([(photo, data)])
            times.append((time.perf_counter() - start) * 1000)
        print(f"\n{photo} ({Image.open(path).size[0]}x{Image.open(path).size[1]}) end to end with {DEFAULT_DETECTOR}, "
              f"TTA {tta}: {p50_p95(times)} ms p50 / p95 over {repeats} (decode, detect, align, classify); "
              f"{len(result.faces)} face: {result.faces[0].top if result.faces else '-'}")


if __name__ == "__main__":
    main()
