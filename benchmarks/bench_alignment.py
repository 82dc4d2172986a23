"""What levelling the eyes does: the one-person shared photos, each rotated by 10-20 degrees either
way, classified with aligned and with unaligned crops. A face should keep the top class it has in
the upright photo; the script counts how often each kind of crop keeps it.

Usage: python benchmarks/bench_alignment.py [--photos DIR] [--model default] [--detector blazeface]

The upright photo's top class comes from its aligned crop (an upright face's eyes are about level,
so both crops nearly agree there). Photos whose face is not found after rotating are left out of
both counts alike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

import numpy as np  # noqa: E402

from fer_core.faces.detectors import DEFAULT_DETECTOR, detect_faces  # noqa: E402
from fer_core.faces.cropping import crop_face
from fer_core.faces.images import decode_photo
from fer_core.runtime.model import predict_probabilities  # noqa: E402
from fer_core.runtime.loading import load_model  # noqa: E402

GROUPS = {"df_couple.jpg", "fr_two_people.jpg", "fr_obama_and_biden.jpg", "fr_kit_with_rose.jpg"}
ANGLES = (-20, -15, -10, 10, 15, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=str(Path(__file__).resolve().parents[2] / "shared" / "photos"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR)
    args = parser.parse_args()
    model = load_model(args.model)
    kept = {"aligned": 0, "unaligned": 0}
    compared = 0
    paths = sorted(p for p in Path(args.photos).iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") and p.name not in GROUPS)
    for path in paths:
        upright = decode_photo(path.read_bytes())
        boxes = detect_faces(upright, args.detector)
        if not boxes:
            continue
        reference = int(predict_probabilities(model, crop_face(upright, boxes[0])[None]).argmax())
        for angle in ANGLES:
            turned = upright.rotate(angle, expand=True, fillcolor=(128, 128, 128))
            found = detect_faces(turned, args.detector)
            if not found:
                continue
            crops = np.stack([crop_face(turned, found[0], align=True), crop_face(turned, found[0], align=False)])
            aligned, unaligned = predict_probabilities(model, crops).argmax(axis=1)
            kept["aligned"] += int(aligned == reference)
            kept["unaligned"] += int(unaligned == reference)
            compared += 1
    print(f"{compared} rotated faces ({len(paths)} one-person photos x {len(ANGLES)} angles {ANGLES}, "
          f"{args.detector}, model {args.model}) keeping the upright photo's top class:")
    for kind, count in kept.items():
        print(f"  {kind:9s} crops: {count}/{compared} ({count / max(compared, 1):.0%})")


if __name__ == "__main__":
    main()
