"""Fit the photo crop to FER2013's own framing, and measure candidate framings in a closed loop.

Usage: python scripts/fit_framing.py --data ../shared/datasets/fer2013/fer2013-train-publictest.zip
       [--faces 3589] [--model default] [--candidates 0.0:0.0 0.05:0.0 ...]

How: each PublicTest face (48x48) is scaled to ``FACE_SIDE`` pixels and pasted in the middle of a
canvas ``CANVAS`` times wider, its surroundings its own edge pixels stretched outwards and blurred
(so the detector sees a face with plausible surroundings and nothing it could mistake for one).
BlazeFace finds the face there as it finds faces in photos; since we know where FER2013's frame is
on the canvas, each detection tells which crop would have given FER2013's own face: its side as a
share of the detector's box (-> a margin) and its centre's offset from the box's centre, as a share
of the box (-> a vertical and horizontal shift). The medians over all faces are the fitted framing.

Then the closed loop: every candidate framing (margin:shift_y) crops the detected face from its
canvas, as ``AnswerSpec.crop`` would, and the model classifies it. The accuracy against FER2013's
labels says how much a framing costs against the faces as FER2013 framed them (their own accuracy
is printed first). The canvases are synthetic: the shared photos and your own labelled photos
(``evaluate --detector``) are the check on real ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

FACE_SIDE = 160
CANVAS = 3.0  # the canvas side over the face's


def canvas_of(face: np.ndarray) -> tuple[Image.Image, tuple[float, float, float]]:
    """The face on its canvas (RGB) and FER2013's frame there: (centre x, centre y, side)."""
    big = Image.fromarray(face).resize((FACE_SIDE, FACE_SIDE), Image.Resampling.BICUBIC)
    pad = int(FACE_SIDE * (CANVAS - 1) / 2)
    padded = np.pad(np.asarray(big), pad, mode="edge")
    blurred = np.asarray(Image.fromarray(padded).filter(ImageFilter.GaussianBlur(12)))
    out = blurred.copy()
    out[pad:pad + FACE_SIDE, pad:pad + FACE_SIDE] = np.asarray(big)
    centre = pad + FACE_SIDE / 2
    return Image.fromarray(out).convert("RGB"), (centre, centre, float(FACE_SIDE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--faces", type=int, default=3589)
    parser.add_argument("--model", default="default")
    parser.add_argument("--candidates", nargs="*", default=["0.05:0.0", "-0.05:0.0", "0.0:0.0", "0.1:0.0", "0.15:0.0",
                                                                 "0.05:-0.05", "0.05:0.05", "fitted"])
    args = parser.parse_args()

    from fer_core.faces.cropping import crop_face
    from fer_core.faces.detectors import detect_faces
    from fer_core.data.loaders import load_dataset
    from fer_core.answering.spec import AnswerSpec
    from fer_core.runtime.model import predict_probabilities

    val = load_dataset(args.data).split("val")
    pick = np.sort(np.random.default_rng(0).choice(len(val), size=min(args.faces, len(val)), replace=False))
    faces, labels = val.images[pick], val.labels[pick]  # seeded: the split is stored class by class
    spec = AnswerSpec.resolve(args.model)
    model = spec.load().model
    own = (predict_probabilities(model, faces).argmax(1) == labels).mean()
    print(f"{args.model} ({spec.tta}) on {len(faces)} PublicTest faces (seeded sample) as FER2013 framed them: {own:.2%}")

    found = []  # (index, canvas, box)
    scale, shift_x, shift_y = [], [], []
    for k, face in enumerate(faces):
        image, (fx, fy, fside) = canvas_of(face)
        boxes = detect_faces(image, "blazeface")
        if not boxes:
            continue
        box = boxes[0]
        side = max(box.width, box.height)
        bx, by = box.x + box.width / 2, box.y + box.height / 2
        found.append((k, image, box))
        scale.append(fside / side)
        shift_x.append((fx - bx) / side)
        shift_y.append((fy - by) / side)
    margin = (statistics.median(scale) - 1) / 2
    fitted_shift = statistics.median(shift_y)
    print(f"faces found on their canvases: {len(found)} of {len(faces)}; accuracy on those as FER2013 framed them: "
          f"{(predict_probabilities(model, faces[[k for k, _, _ in found]]).argmax(1) == labels[[k for k, _, _ in found]]).mean():.2%}")
    print(f"FER2013's frame against BlazeFace's box (as fer_core grows it): side x{statistics.median(scale):.3f} "
          f"(quartiles {np.percentile(scale, 25):.3f}-{np.percentile(scale, 75):.3f}) -> margin {margin:+.3f}; "
          f"centre shift x {statistics.median(shift_x):+.3f}, y {fitted_shift:+.3f} of the box's side")

    kept = np.array([k for k, _, _ in found])
    print(f"\n| framing (margin : shift down) | accuracy on the {len(kept)} faces found, re-cropped |")
    print("|---|---|")
    for candidate in args.candidates:
        m, dy = (margin, fitted_shift) if candidate == "fitted" else map(float, candidate.split(":"))
        crops = np.stack([crop_face(image, box, m, shift_y=dy) for _, image, box in found])
        accuracy = (predict_probabilities(model, crops).argmax(1) == labels[kept]).mean()
        print(f"| {m:.3f} : {dy:+.3f}{' (fitted)' if candidate == 'fitted' else ''} | {accuracy:.2%} |")


if __name__ == "__main__":
    main()
