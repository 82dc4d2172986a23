"""``.ferpack``: a lossless, compact dataset file that loads like its source."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from fer_core.errors import DataError
from fer_core.data.loaders import load_dataset
from fer_core.data.pack import pack_dataset
from fer_core.data.packfile import jpeg_header_length, read_pack
from tests.conftest import (SHARED_ZIP, face_image, jpeg_bytes, needs_fer2013, write_fer_csv, write_kaggle_folder,
                            zip_folder)


def same_dataset(a, b) -> None:
    assert list(a.splits) == list(b.splits)
    for name in a.splits:
        np.testing.assert_array_equal(a.splits[name].images, b.splits[name].images)
        np.testing.assert_array_equal(a.splits[name].labels, b.splits[name].labels)
        assert a.splits[name].files == b.splits[name].files


def test_a_kaggle_zip_packs_smaller_and_loads_to_the_same_pixels(tmp_path):
    folder = write_kaggle_folder(tmp_path / "fer", {"train": 5, "test": 3})
    source = zip_folder(folder, tmp_path / "fer.zip", top="fer2013")
    summary = pack_dataset(source, tmp_path / "fer.ferpack")
    assert summary["images"] == 56 and summary["sharing_header"] == 56 and summary["shared_header_bytes"] > 100
    assert summary["file_bytes"] < source.stat().st_size
    same_dataset(load_dataset(source, use_cache=False), load_dataset(tmp_path / "fer.ferpack", use_cache=False))
    images = read_pack(tmp_path / "fer.ferpack")
    original = (folder / images[0].name).read_bytes()
    assert images[0].data == original  # the file's own bytes, header restored


def test_other_images_are_stored_whole_and_splits_can_be_left_out(tmp_path):
    folder = write_kaggle_folder(tmp_path / "fer", {"train": 3, "test": 2})
    face_image(3, 99).save(folder / "train" / "happy" / "Training_png.png")
    face_image(4, 98, size=96, mode="RGB").save(folder / "train" / "sad" / "Training_big.jpg", quality=70)
    pack_dataset(folder, tmp_path / "p.ferpack")
    same_dataset(load_dataset(folder, use_cache=False), load_dataset(tmp_path / "p.ferpack", use_cache=False))
    summary = pack_dataset(folder, tmp_path / "train_only.ferpack", splits=["train"])
    assert summary["sharing_header"] < summary["images"]  # the PNG and the other JPEG keep their own bytes
    loaded = load_dataset(tmp_path / "train_only.ferpack", use_cache=False)
    assert "test" not in loaded.splits and len(loaded.splits["train"]) + len(loaded.splits["val"]) == 23
    with pytest.raises(DataError, match="unknown split"):
        pack_dataset(folder, tmp_path / "x.ferpack", splits=["private"])


def test_a_csv_packs_as_lossless_png(tmp_path):
    csv_path = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 14, "PublicTest": 7})
    pack_dataset(csv_path, tmp_path / "csv.ferpack")
    a, b = load_dataset(csv_path, use_cache=False), load_dataset(tmp_path / "csv.ferpack", use_cache=False)
    for name in a.splits:
        np.testing.assert_array_equal(a.splits[name].images, b.splits[name].images)
        np.testing.assert_array_equal(a.splits[name].labels, b.splits[name].labels)


def test_jpeg_header_length_finds_the_scan_and_refuses_other_bytes():
    data = jpeg_bytes(face_image(0, 1))
    n = jpeg_header_length(data)
    assert n is not None and 0 < data.rfind(b"\xff\xda", 0, n) < n - 8 and len(data) - n > 100  # scan data follows
    assert jpeg_header_length(b"\x89PNG....") is None and jpeg_header_length(b"\xff\xd8\x00") is None


def test_damaged_packs_get_a_clear_error(tmp_path):
    folder = write_kaggle_folder(tmp_path / "fer", {"train": 2})
    good = tmp_path / "good.ferpack"
    pack_dataset(folder, good)
    (tmp_path / "text.ferpack").write_text("hello")
    with zipfile.ZipFile(good) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    index = json.loads(members["index.json"])
    index["lengths"][0] += 5
    broken = tmp_path / "broken.ferpack"
    with zipfile.ZipFile(broken, "w") as zf:
        for name, data in {**members, "index.json": json.dumps(index).encode()}.items():
            zf.writestr(name, data)
    missing = tmp_path / "missing.ferpack"
    with zipfile.ZipFile(missing, "w") as zf:
        zf.writestr("ferpack.json", members["ferpack.json"])
    for path, message in ((tmp_path / "text.ferpack", "not a readable dataset pack"),
                          (broken, "does not match its image bytes"), (missing, "missing header.bin")):
        with pytest.raises(DataError, match=message):
            load_dataset(path, use_cache=False)


@needs_fer2013
def test_the_shared_fer2013_zip_packs_under_41_mb(tmp_path):
    """The size the GPU flow's 64 MiB budget is planned around (docs/gpu.md)."""
    summary = pack_dataset(SHARED_ZIP, tmp_path / "fer2013.ferpack", splits=["train", "val"])
    assert summary["images"] == 32298 and summary["sharing_header"] == 32298
    assert summary["file_bytes"] < 41e6
