"""Compare the face detectors on the real photos in ../shared/photos: faces found and time.

Usage: python benchmarks/bench_faces.py [PHOTO_DIR]

The photos carry no face annotations; README.md beside them names the group photos. We
print, per detector: photos with at least one face, total faces, photos with more faces
than people in them (false alarms, using the expected counts below), and seconds per photo.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from fer_core.data.loaders import DataError
from fer_core.data.faces import DETECTORS, decode_photo, detect_faces, get_detector

# People in each group photo, counted by eye (obama_and_biden has a child at the edge);
# every other photo shows one person.
EXPECTED_FACES = {"df_couple.jpg": 2, "fr_two_people.jpg": 2, "fr_obama_and_biden.jpg": 3,
                  "fr_kit_with_rose.jpg": 2}


def main() -> None:
    photo_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/photos")
    photos = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    images = {}
    for p in photos:
        try:
            images[p.name] = decode_photo(p.read_bytes())
        except DataError as exc:
            print(f"skip {p.name}: {exc}")
    print(f"{len(images)} photos from {photo_dir}")
    for name in DETECTORS:
        get_detector(name)  # build outside the timing
        detect_faces(next(iter(images.values())), name)  # warm-up
        found, extra, missed, times = {}, [], [], []
        for photo, image in images.items():
            start = time.perf_counter()
            found[photo] = len(detect_faces(image, name))
            times.append(time.perf_counter() - start)
            expected = EXPECTED_FACES.get(photo, 1)
            if found[photo] > expected:
                extra.append(photo)
            if found[photo] < expected:
                missed.append(photo)
        print(f"\n{name}: photos with a face {sum(1 for v in found.values() if v)}/{len(images)}, "
              f"faces {sum(found.values())} (expected {sum(EXPECTED_FACES.get(p, 1) for p in images)}), "
              f"seconds per photo median {statistics.median(times):.3f} max {max(times):.3f}")
        print(f"  fewer faces than people: {', '.join(missed) or 'none'}")
        print(f"  more faces than people: {', '.join(extra) or 'none'}")


if __name__ == "__main__":
    main()
