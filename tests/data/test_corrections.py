"""The corrections folder: faces' true classes kept as a labelled photo set that evaluation reads."""

from __future__ import annotations

import pytest
from PIL import Image

from fer_core.data.corrections import CorrectionStore
from fer_core.errors import DataError
from tests.conftest import jpeg_bytes


def test_corrections_are_kept_changed_and_taken_out_and_read_as_a_labelled_set(tmp_path):
    store = CorrectionStore(tmp_path / "corrections")
    photo = jpeg_bytes(Image.new("RGB", (200, 120), (90, 60, 30)))
    other = jpeg_bytes(Image.new("RGB", (120, 120), (10, 60, 30)))
    assert store.read() == [] and store.counts() == {}
    assert store.save("../../etc/party photo.JPG", photo, [((10, 20, 50, 50), "happiness", "sad"),
                                                           ((100, 20, 40, 40), "fear", "angry")], "default.keras") == 2
    assert store.save("snapshot", other, [((0, 0, 120, 120), "sad", "neutral")], "quick.keras") == 1
    stored = sorted(p.name for p in store.folder.iterdir() if not p.name.startswith("."))
    assert len(stored) == 3 and "labels.csv" in stored  # the user's name never became a path
    assert all("/" not in n and ".." not in n for n in stored)
    assert store.counts() == {"fear": 1, "happy": 1, "sad": 1}
    assert store.labels_for(photo, "../../etc/party photo.JPG") == {(10, 20, 50, 50): "happy", (100, 20, 40, 40): "fear"}
    # changed, then set back to no class: the row goes
    store.save("party.jpg", photo, [((10, 20, 50, 50), "surprise", "sad"), ((100, 20, 40, 40), None, "angry")], "m")
    assert store.labels_for(photo, "party.jpg") == {(10, 20, 50, 50): "surprise"}
    header = (store.folder / "labels.csv").read_text().splitlines()[0]
    assert header == "file,label,x,y,width,height,source,predicted,model,corrected_at"
    with pytest.raises(DataError, match="'smug' is not a class"):
        store.save("party.jpg", photo, [((10, 20, 50, 50), "smug", "sad")], "m")
    assert store.counts() == {"sad": 1, "surprise": 1}  # a refused save changes nothing


def test_an_unwritable_corrections_folder_is_one_sentence_naming_the_setting(tmp_path):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")  # a folder cannot be made under a file, even by root
    with pytest.raises(DataError, match="FER_CORRECTIONS_DIR"):
        CorrectionStore(blocked / "corrections").save("a.jpg", b"\xff\xd8x", [(None, "happy", "sad")], "m")
