"""The face tracker on boxes whose true owners are known."""

from __future__ import annotations

from fer_core.faces.boxes import FaceBox
from fer_core.faces.tracking import FaceTracker, centre_distance, iou


def test_iou_and_centre_distance():
    a = FaceBox(0, 0, 10, 10)
    assert iou(a, a) == 1.0 and iou(a, FaceBox(20, 20, 10, 10)) == 0.0
    assert abs(iou(a, FaceBox(5, 0, 10, 10)) - 50 / 150) < 1e-9
    assert centre_distance(a, FaceBox(10, 0, 10, 10)) == 1.0


def test_two_people_keep_their_ids_whatever_order_the_detector_lists_them():
    tracker = FaceTracker()
    left, right = FaceBox(10, 10, 50, 50), FaceBox(300, 10, 60, 60)
    first = tracker.update([left, right], 0.0)
    assert first == [1, 2]
    for step in range(1, 10):  # both drift right by 4 px a sample; the list order flips each time
        moved = [FaceBox(left.x + 4 * step, 10, 50, 50), FaceBox(right.x + 4 * step, 10, 60, 60)]
        order = [1, 0] if step % 2 else [0, 1]
        ids = tracker.update([moved[k] for k in order], step * 0.2)
        assert ids == [[1, 2][k] for k in order]


def test_a_fast_move_is_followed_by_centre_distance_and_a_jump_across_the_frame_is_not():
    tracker = FaceTracker()
    tracker.update([FaceBox(100, 100, 40, 40)], 0.0)
    moved = FaceBox(114, 114, 40, 40)  # diagonally: IoU 0.27, under the 0.3 needed, centre 0.49 widths away
    assert iou(moved, FaceBox(100, 100, 40, 40)) < 0.3
    assert tracker.update([moved], 0.2) == [1]
    assert tracker.update([FaceBox(400, 100, 40, 40)], 0.4) == [2]


def test_short_gaps_are_bridged_and_long_absences_end_the_track():
    tracker = FaceTracker(max_gap=1.0)
    box = FaceBox(100, 100, 40, 40)
    assert tracker.update([box], 0.0) == [1]
    assert tracker.update([], 0.4) == []
    assert tracker.update([box], 0.8) == [1]  # missed for one sample: same person
    assert tracker.update([], 1.2) == []
    assert tracker.update([box], 2.4) == [2]  # gone 1.6 s: a new id


def test_one_box_per_track_and_new_people_get_new_ids():
    tracker = FaceTracker()
    tracker.update([FaceBox(100, 100, 40, 40)], 0.0)
    # two boxes both near the old one: the better overlap keeps id 1, the other is someone new
    assert tracker.update([FaceBox(125, 100, 40, 40), FaceBox(102, 100, 40, 40)], 0.2) == [2, 1]
