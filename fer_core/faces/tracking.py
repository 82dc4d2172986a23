"""Following faces across video frames: one id per person while they stay in view.

A plain overlap tracker, enough for interviews, lectures and user tests where faces move little
between samples: each new box goes to the live track whose last box overlaps it most (IoU), or,
failing that, whose centre is nearest within half a face width (a face that moved fast between
two samples at a low rate). Pairs are taken best first, one box per track. A track not seen for
``max_gap`` seconds ends; a face that comes back after that gets a new id (the tracker knows
positions, not faces). A short miss by the detector (a blink, a turned head) is bridged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fer_core.faces.boxes import FaceBox


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes."""
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: FaceBox, b: FaceBox) -> float:
    """Distance between the centres, in units of the larger box's width."""
    dx = (a.x + a.width / 2) - (b.x + b.width / 2)
    dy = (a.y + a.height / 2) - (b.y + b.height / 2)
    return (dx * dx + dy * dy) ** 0.5 / max(1, a.width, b.width)


@dataclass
class Track:
    id: int
    box: FaceBox
    last_seen: float


@dataclass
class FaceTracker:
    """Give each box of each sampled frame a person id; call ``update`` once per frame, in time order."""

    max_gap: float = 1.0  # seconds a track survives unseen
    min_iou: float = 0.3
    max_centre_distance: float = 0.5
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 1

    def update(self, boxes: list[FaceBox], time: float) -> list[int]:
        """The person id of each box (in ``boxes``' order) at ``time`` seconds."""
        self.tracks = [t for t in self.tracks if time - t.last_seen <= self.max_gap]
        candidates = []
        for b, box in enumerate(boxes):
            for t, track in enumerate(self.tracks):
                overlap = iou(box, track.box)
                distance = centre_distance(box, track.box)
                if overlap >= self.min_iou or distance <= self.max_centre_distance:
                    candidates.append((-overlap, distance, b, t))
        ids: list[int | None] = [None] * len(boxes)
        used_tracks: set[int] = set()
        for _, _, b, t in sorted(candidates):
            if ids[b] is None and t not in used_tracks:
                ids[b] = self.tracks[t].id
                used_tracks.add(t)
                self.tracks[t].box, self.tracks[t].last_seen = boxes[b], time
        for b, box in enumerate(boxes):
            if ids[b] is None:
                ids[b] = self.next_id
                self.tracks.append(Track(self.next_id, box, time))
                self.next_id += 1
        return [int(i) for i in ids]
