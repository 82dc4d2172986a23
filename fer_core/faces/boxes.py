"""Where a face is: ``FaceBox`` (a box in the photo's pixels, with the landmarks the detector
gives) and ``HeadPose`` (yaw, pitch and roll estimated from four of those landmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np



@dataclass
class FaceBox:
    """A face in original-image pixels; ``score`` is the detector's confidence where it has one;
    ``eyes`` the centres of the subject's right and left eye (image left and right in a frontal
    face), ``nose`` and ``mouth`` their points, where the detector gives landmarks."""

    x: int
    y: int
    width: int
    height: int
    score: float | None = None
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    nose: tuple[float, float] | None = None
    mouth: tuple[float, float] | None = None

    def scaled(self, scale: float) -> "FaceBox":
        """The box and landmarks in an image ``1 / scale`` times this one's size."""
        def point(p):
            return None if p is None else (round(p[0] / scale, 1), round(p[1] / scale, 1))

        return FaceBox(round(self.x / scale), round(self.y / scale), round(self.width / scale),
                       round(self.height / scale), self.score,
                       None if self.eyes is None else (point(self.eyes[0]), point(self.eyes[1])),
                       point(self.nose), point(self.mouth))

    def box_dict(self) -> dict:
        """Where the face is, for JSON: x, y, width, height and the detector's score."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height, "score": self.score}

    def landmarks_dict(self) -> dict | None:
        """The landmarks for JSON (None where the detector gives none)."""
        if self.eyes is None:
            return None
        return {"right_eye": list(self.eyes[0]), "left_eye": list(self.eyes[1]),
                "nose": None if self.nose is None else list(self.nose),
                "mouth": None if self.mouth is None else list(self.mouth)}

    def pose(self) -> "HeadPose | None":
        """Where the head is turned, from the landmarks (None without them): ``head_pose``."""
        return head_pose(self) if self.eyes is not None and self.nose is not None and self.mouth is not None \
            else None


@dataclass(frozen=True)
class HeadPose:
    """Degrees. ``yaw`` > 0: the face turned toward the image's right (the subject's left);
    ``pitch`` > 0: looking up; ``roll`` > 0: the head tilted so its eye line falls to the image's
    right (clockwise on screen). Estimated from four landmarks with no 3-D face model: its signs are
    tested (turned and mirrored faces), its size is a guide, not a measurement."""

    yaw: float
    pitch: float
    roll: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}


# A frontal face's nose tip sits this far from the eye line toward the mouth line (0.56: the median
# over the 43 faces BlazeFace finds in the shared photos, most of them frontal).
FRONTAL_NOSE_DEPTH = 0.56


def head_pose(box: FaceBox) -> HeadPose:
    """Yaw, pitch and roll from the eyes, nose tip and mouth. Roll is the eye line's angle. In the
    frame turned by it, yaw follows how far the nose tip sits beside the midline through the eyes'
    and mouth's centres (it swings out by about sin(yaw) x 0.6 of the eyes' distance), and pitch how
    far it sits below the eye line, as a share of the eyes-to-mouth distance, against a frontal face's."""
    (rx, ry), (lx, ly) = box.eyes
    roll = np.arctan2(ly - ry, lx - rx)
    cos, sin = np.cos(-roll), np.sin(-roll)

    def level(p):  # into the frame where the eyes are level, the eyes' centre at the origin
        x, y = p[0] - (rx + lx) / 2, p[1] - (ry + ly) / 2
        return x * cos - y * sin, x * sin + y * cos

    eye_distance = max(np.hypot(lx - rx, ly - ry), 1e-6)
    nose, mouth = level(box.nose), level(box.mouth)
    midline = mouth[0] * (nose[1] / mouth[1]) if abs(mouth[1]) > 1e-6 else 0.0
    yaw = np.degrees(np.arcsin(np.clip((nose[0] - midline) / (0.6 * eye_distance), -1, 1)))
    depth = nose[1] / mouth[1] if abs(mouth[1]) > 1e-6 else FRONTAL_NOSE_DEPTH
    pitch = np.degrees(np.arcsin(np.clip((FRONTAL_NOSE_DEPTH - depth) * 2, -1, 1)))
    return HeadPose(round(float(yaw), 1), round(float(pitch), 1), round(float(np.degrees(roll)), 1))
