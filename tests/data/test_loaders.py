"""Loading FER2013 in its three forms, the cache, and precise errors on bad input."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from fer_core import CLASSES
from fer_core.errors import DataError, SplitNotFoundError
from fer_core.data.dataset import LoadOptions, stratified_fraction
from fer_core.data.loaders import load_dataset
from fer_core.faces.images import decode_face_image
from tests.conftest import (
    SHARED_PHOTOS,
    SHARED_ZIP,
    face_image,
    jpeg_bytes,
    needs_fer2013,
    write_fer_csv,
    write_kaggle_folder,
    zip_folder,
)


def test_kaggle_folder_uses_file_prefixes_for_splits(kaggle_folder):
    ds = load_dataset(kaggle_folder)
    assert ds.available_splits() == ["train", "val"]
    assert len(ds.split("train")) == 6 * 7
    assert len(ds.split("val")) == 3 * 7
    assert ds.split("train").images.shape == (42, 48, 48)
    assert ds.split("train").images.dtype == np.uint8
    assert ds.split("val").class_counts() == {name: 3 for name in CLASSES}
    assert all(f.startswith("test/") and "PublicTest_" in f for f in ds.split("val").files)


def test_labels_follow_fer2013_order_not_folder_order(kaggle_folder):
    ds = load_dataset(kaggle_folder)
    split = ds.split("train")
    for file, label in zip(split.files, split.labels):
        assert file.split("/")[1] == CLASSES[label]


def test_zip_equals_folder(kaggle_folder, tmp_path):
    from_folder = load_dataset(kaggle_folder, use_cache=False)
    from_zip = load_dataset(zip_folder(kaggle_folder, tmp_path / "fer.zip"), use_cache=False)
    for name in ("train", "val"):
        np.testing.assert_array_equal(from_folder.split(name).images, from_zip.split(name).images)
        np.testing.assert_array_equal(from_folder.split(name).labels, from_zip.split(name).labels)


def test_zip_with_single_top_folder(kaggle_folder, tmp_path):
    ds = load_dataset(zip_folder(kaggle_folder, tmp_path / "nested.zip", top="fer2013"))
    assert ds.available_splits() == ["train", "val"]


def test_private_test_prefix_goes_to_test(tmp_path):
    root = write_kaggle_folder(tmp_path / "full", {"train": 2})
    write_kaggle_folder(root, {"test": 2}, prefixes={"test": "PrivateTest_"})
    ds = load_dataset(root)
    assert ds.available_splits() == ["train", "val", "test"]  # val carved from train
    assert all("PrivateTest_" in f for f in ds.split("test").files)


def test_names_without_usage_carve_a_stratified_val_from_train(tmp_path):
    root = write_kaggle_folder(tmp_path / "plain", {"train": 20, "test": 2}, prefixes={})
    ds = load_dataset(root, LoadOptions(val_fraction=0.1, seed=7))
    assert ds.available_splits() == ["train", "val", "test"]
    assert ds.split("val").class_counts() == {name: 2 for name in CLASSES}
    assert len(ds.split("train")) == 18 * 7
    assert not set(ds.split("train").files) & set(ds.split("val").files)
    again = load_dataset(root, LoadOptions(val_fraction=0.1, seed=7), use_cache=False)
    assert ds.split("val").files == again.split("val").files  # seeded


def test_class_folders_any_size_colour_and_synonyms(tmp_path):
    names = {"Anger": 0, "DISGUSTED": 1, "fearful": 2, "happiness": 3, "Sadness": 4, "surprised": 5, "neutral": 6}
    for folder, label in names.items():
        (tmp_path / "faces" / folder).mkdir(parents=True)
        for i in range(10):
            img = face_image(label, i, size=96 + i, mode="RGB" if i % 2 else "L")
            img.save(tmp_path / "faces" / folder / f"img{i}.png")
    ds = load_dataset(tmp_path / "faces")
    assert set(ds.available_splits()) == {"train", "val"}
    total = sum(len(s) for s in ds.splits.values())
    assert total == 70
    merged = np.concatenate([s.labels for s in ds.splits.values()])
    assert np.bincount(merged).tolist() == [10] * 7


def test_rgba_and_exif_orientation_decode_to_48x48():
    import io

    from PIL import Image

    img = Image.new("RGBA", (120, 60), (0, 0, 0, 0))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    array = decode_face_image(buffer.getvalue())
    assert array.shape == (48, 48)
    assert array.min() == 255  # transparent composited on white

    # A tall image whose EXIF says "rotate 90": decoded upright means the wide side wins.
    tall = Image.new("L", (40, 80), 0)
    tall.paste(255, (0, 0, 40, 40))  # top half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 270 CW on display
    buffer = io.BytesIO()
    tall.save(buffer, format="JPEG", exif=exif)
    rotated = decode_face_image(buffer.getvalue())
    # After rotation the white half is on the right or left, so columns differ, rows don't.
    assert abs(int(rotated[:, :10].mean()) - int(rotated[:, -10:].mean())) > 100


def test_bad_files_are_skipped_and_reported(kaggle_folder):
    (kaggle_folder / "train" / "angry" / "Training_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (kaggle_folder / "train" / "happy" / "notes.txt").write_text("hello")
    (kaggle_folder / "train" / "contempt").mkdir()
    (kaggle_folder / "train" / "contempt" / "Training_1.jpg").write_bytes(jpeg_bytes(face_image(0, 1)))
    ds = load_dataset(kaggle_folder)
    assert len(ds.split("train")) == 42
    reasons = {p.item: p.reason for p in ds.report.problems}
    assert ds.report.skipped == 3
    assert "corrupt" in reasons["train/angry/Training_corrupt.jpg"] or "not an image" in reasons[
        "train/angry/Training_corrupt.jpg"]
    assert "not an image file" in reasons["train/happy/notes.txt"]
    assert "unknown class folder 'contempt'" in reasons["train/contempt/Training_1.jpg"]
    assert "skipped 3 bad item(s)" in ds.report.summary()


def test_strict_stops_at_first_bad_item_naming_it(kaggle_folder):
    (kaggle_folder / "train" / "angry" / "Training_corrupt.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="Training_corrupt.jpg"):
        load_dataset(kaggle_folder, LoadOptions(strict=True))


def test_csv_splits_and_malformed_rows(tmp_path):
    good = np.full(48 * 48, 7).astype(str)
    bad_rows = [
        ["9", " ".join(good), "Training"],  # unknown label
        ["3", " ".join(good[:100]), "Training"],  # wrong pixel count
        ["x", " ".join(good), "Training"],  # label not an integer
        ["3", " ".join(["300"] * 2304), "Training"],  # out of range
        ["3", " ".join(good), "Holdout"],  # unknown usage
        ["3", " ".join(good)],  # missing column
    ]
    path = write_fer_csv(tmp_path / "fer2013.csv", {"Training": 14, "PublicTest": 7, "PrivateTest": 7}, bad_rows)
    ds = load_dataset(path)
    assert [len(ds.split(s)) for s in ("train", "val", "test")] == [14, 7, 7]
    reasons = {p.item: p.reason for p in ds.report.problems}
    assert reasons == {
        "row 30": "unknown label 9 (expected 0-6)",
        "row 31": "expected 2304 pixels, found 100",
        "row 32": "emotion 'x' is not an integer",
        "row 33": "pixel values outside 0-255",
        "row 34": "unknown Usage 'Holdout'",
        "row 35": "expected 3 columns, found 2",
    }
    np.testing.assert_array_equal(ds.split("train").images[0], np.asarray(face_image(0, 1)))


def test_csv_strict_names_the_row(tmp_path):
    path = write_fer_csv(tmp_path / "fer.csv", {"Training": 3}, [["3", "1 2 3", "Training"]])
    with pytest.raises(DataError, match=r"row 5: expected 2304 pixels, found 3"):
        load_dataset(path, LoadOptions(strict=True))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir() or p, "the folder is empty"),
        (lambda p: (p.with_suffix(".zip").write_bytes(b"not a zip"), p.with_suffix(".zip"))[1], "not a valid zip"),
        (lambda p: (p.with_suffix(".csv").write_text(""), p.with_suffix(".csv"))[1], "CSV file is empty"),
        (lambda p: (p.with_suffix(".csv").write_text("a,b\n1,2\n"), p.with_suffix(".csv"))[1],
         "'emotion' and 'pixels'"),
        (lambda p: (p.with_suffix(".txt").write_text("x"), p.with_suffix(".txt"))[1], "unsupported dataset"),
        (lambda p: p / "missing", "no such file or folder"),
    ],
)
def test_unusable_sources_get_clear_errors(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_dataset(make(tmp_path / "src"))


def test_folder_with_only_bad_files_is_an_empty_dataset_error(tmp_path):
    (tmp_path / "d" / "happy").mkdir(parents=True)
    (tmp_path / "d" / "happy" / "a.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match="no usable images"):
        load_dataset(tmp_path / "d")


def test_missing_split_lists_available(kaggle_folder):
    ds = load_dataset(kaggle_folder)
    with pytest.raises(SplitNotFoundError, match="no 'test' split; it has: train, val"):
        ds.split("test")


def test_cache_is_keyed_by_content(kaggle_folder):
    first = load_dataset(kaggle_folder)
    assert not first.report.from_cache
    second = load_dataset(kaggle_folder)
    assert second.report.from_cache
    np.testing.assert_array_equal(first.split("train").images, second.split("train").images)
    # Changing one file's bytes changes the key: the dataset is decoded again.
    target = kaggle_folder / "train" / "angry"
    victim = sorted(target.iterdir())[0]
    victim.write_bytes(jpeg_bytes(face_image(3, 999)))
    third = load_dataset(kaggle_folder)
    assert not third.report.from_cache


def test_damaged_cache_entry_is_rebuilt(kaggle_folder, tmp_path):
    cache = tmp_path / "c"
    load_dataset(kaggle_folder, cache_dir=cache)
    for npz in cache.glob("*.npz"):
        npz.write_bytes(b"broken")
    ds = load_dataset(kaggle_folder, cache_dir=cache)
    assert not ds.report.from_cache and len(ds.split("train")) == 42


def test_stratified_fraction_keeps_every_class(kaggle_folder):
    split = load_dataset(kaggle_folder).split("train")
    small = stratified_fraction(split, 0.5, seed=1)
    assert small.class_counts() == {name: 3 for name in CLASSES}


@needs_fer2013
def test_real_fer2013_zip_slice(tmp_path):
    """A slice of the real zip (350 Training and 350 PublicTest entries) through the real loader."""
    with zipfile.ZipFile(SHARED_ZIP) as source, zipfile.ZipFile(tmp_path / "slice.zip", "w") as target:
        infos = [i for i in source.infolist() if not i.is_dir()]
        picked = [i for i in infos if "Training_" in i.filename][:350]
        picked += [i for i in infos if "PublicTest_" in i.filename][:350]
        for info in picked:
            target.writestr(info, source.read(info))
    ds = load_dataset(tmp_path / "slice.zip")
    assert ds.available_splits() == ["train", "val"]
    assert len(ds.split("train")) + len(ds.split("val")) == 700
    assert ds.report.skipped == 0


@needs_fer2013
def test_full_fer2013_counts_and_warm_load(fer2013_cache):
    """The standard split sizes and class counts, from the cache the session filled from the zip
    (a cold load, timed by benchmarks/bench_core.py)."""
    ds = load_dataset(SHARED_ZIP, cache_dir=fer2013_cache)
    assert ds.report.from_cache and ds.report.skipped == 0
    assert len(ds.split("train")) == 28709 and len(ds.split("val")) == 3589
    assert ds.split("val").class_counts() == {
        "angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653, "surprise": 415, "neutral": 607}
    assert ds.split("train").files[0].startswith("train/") and ds.split("val").files[0].startswith("test/")


@pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")
def test_detect_faces_crops_whole_photos_as_predict_does(tmp_path):
    from PIL import Image

    from fer_core.faces.images import decode_photo
    from fer_core.faces.cropping import largest_face_crop

    root = tmp_path / "own"
    for folder, photo in (("happy", "fr_obama.jpg"), ("neutral", "fr_biden.jpg")):
        (root / folder).mkdir(parents=True)
        (root / folder / photo).write_bytes((SHARED_PHOTOS / photo).read_bytes())
    Image.new("RGB", (300, 200), (90, 90, 90)).save(root / "neutral" / "wall.png")
    options = LoadOptions(detect_faces=True, val_fraction=0)
    dataset = load_dataset(root, options)
    train = dataset.split("train")
    obama = train.images[train.files.index("happy/fr_obama.jpg")]
    expected = largest_face_crop(decode_photo((SHARED_PHOTOS / "fr_obama.jpg").read_bytes()))
    np.testing.assert_array_equal(obama, expected)  # the crop the Predict page classifies
    plain = load_dataset(root, LoadOptions(val_fraction=0)).split("train")
    assert not np.array_equal(plain.images[plain.files.index("happy/fr_obama.jpg")], obama)
    assert dataset.report.no_face == ["neutral/wall.png"] and "no face found in 1 image" in dataset.report.summary()
    assert load_dataset(root, options).report.no_face == ["neutral/wall.png"]  # kept in the cache too
