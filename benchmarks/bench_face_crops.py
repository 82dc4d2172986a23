"""The face-crop rule measured both ways (``AnswerSpec.whole_image_reason``, issue 41): how many
face crops it saves, and how many photos that are not faces it answers as faces.

Faces: PublicTest faces (a seeded sample) upscaled to 100x100 colour, as the aligned crops that
public expression datasets ship. Not faces: 100x100 crops of the shared photos away from every face
BlazeFace finds there (the box grown by half its side), and seeded textures (noise, blurred noise,
gradients, checkerboards, stripes, flat colours). Each is answered as ``predict`` answers it; the
table splits the answered share into found by detection and answered whole by the rule, so the
rule's effect and its false answers are read off one pass (with the rule off, only the first
column is answered).

    .venv/bin/python benchmarks/bench_face_crops.py            # the faces the threshold was chosen on
    .venv/bin/python benchmarks/bench_face_crops.py --seed 1 --faces 1000 --per-photo 8 --textures 120
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_core.settings import Settings, use_onednn  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIDE = 100


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def face_crops(data: str, count: int, settings: Settings, seed: int = 0) -> list[tuple[str, bytes]]:
    from fer_core.data.archives import ArchiveLimits
    from fer_core.data.loaders import load_dataset

    val = load_dataset(data, cache_dir=settings.cache_dir, limits=ArchiveLimits.from_settings(settings)).split("val")
    pick = np.sort(np.random.default_rng(seed).choice(len(val), size=min(count, len(val)), replace=False))
    return [(f"face-{k}", png(Image.fromarray(val.images[k]).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
                              .convert("RGB"))) for k in pick]


def not_faces(photos: Path, per_photo: int) -> list[tuple[str, bytes]]:
    from fer_core.faces.detectors import detect_faces
    from fer_core.faces.images import decode_photo

    crops = []
    for path in sorted(photos.glob("*.jpg")):
        image = decode_photo(path.read_bytes())
        boxes = detect_faces(image)
        side = max(SIDE, min(image.size) // 4)
        kept = 0
        for y in range(0, image.height - side + 1, side):
            for x in range(0, image.width - side + 1, side):
                if kept >= per_photo:
                    break
                clear = all(x + side <= b.x - b.width / 2 or x >= b.x + 1.5 * b.width or
                            y + side <= b.y - b.height / 2 or y >= b.y + 1.5 * b.height for b in boxes)
                if clear:
                    crops.append((f"{path.stem}-{x}-{y}", png(image.crop((x, y, x + side, y + side)).resize((SIDE, SIDE)))))
                    kept += 1
    return crops


def textures(count: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    made = []
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    for k in range(count):
        kind = k % 6
        if kind == 0:
            pixels = rng.integers(0, 256, (SIDE, SIDE, 3))
        elif kind == 1:
            pixels = np.asarray(Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
                                .filter(ImageFilter.GaussianBlur(3 + k % 5)))
        elif kind == 2:
            angle = rng.uniform(0, np.pi)
            ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / SIDE
            pixels = np.stack([ramp * rng.uniform(100, 255)] * 3, axis=-1)
        elif kind == 3:
            cell = int(rng.integers(5, 30))
            pixels = np.stack([((xx // cell + yy // cell) % 2) * 255] * 3, axis=-1)
        elif kind == 4:
            period = int(rng.integers(4, 25))
            pixels = np.stack([(np.sin(2 * np.pi * xx / period) + 1) * 127] * 3, axis=-1)
        else:
            pixels = np.ones((SIDE, SIDE, 3)) * rng.integers(0, 256, 3)
        made.append((f"texture-{k}", png(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))))
    return made


def shares(answerer, photos: list[tuple[str, bytes]]) -> tuple[int, int, int]:
    """(photos, answered by detection, answered whole by the face-crop rule)."""
    detected = whole = 0
    for start in range(0, len(photos), 32):
        for result in answerer.photos(photos[start:start + 32]):
            if result.faces and not result.whole_image:
                detected += 1
            elif result.faces:
                whole += 1
    return len(photos), detected, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "datasets" / "fer2013" / "fer2013-train-publictest.zip"))
    parser.add_argument("--faces", type=int, default=300)
    parser.add_argument("--photos", default=str(SHARED / "photos"))
    parser.add_argument("--per-photo", type=int, default=4)
    parser.add_argument("--textures", type=int, default=60)
    parser.add_argument("--model", default="default")
    parser.add_argument("--seed", type=int, default=0, help="which PublicTest faces (0: the ones the rule's "
                                                            "threshold was chosen on)")
    args = parser.parse_args()
    use_onednn()
    settings = Settings.load()
    from fer_core.answering.spec import AnswerSpec

    answerer = AnswerSpec.resolve(args.model, tta="none", settings=settings).load()
    sets = {"FER2013 faces, 100x100 colour": face_crops(args.data, args.faces, settings, args.seed),
            "shared photos away from faces, 100x100": not_faces(Path(args.photos), args.per_photo),
            "textures, 100x100": textures(args.textures)}
    print("| photos | n | answered by detection | + answered whole by the rule | answered with the rule | time |")
    print("|---|---|---|---|---|---|")
    for name, photos in sets.items():
        started = time.perf_counter()
        n, detected, whole = shares(answerer, photos)
        print(f"| {name} | {n} | {detected / n:.1%} | {whole / n:.1%} | {(detected + whole) / n:.1%} | "
              f"{time.perf_counter() - started:.1f} s |")


if __name__ == "__main__":
    main()
