"""Hostile input: every input gets an answer or one clear error, in bounded time and memory, with
no traceback and nothing written outside the output folder.

The inputs are built here (no files checked in), with ``hypothesis`` where it fits. A short run
is the default (CI); the long run of docs/formats.md ("Hostile input") is
``FER_FUZZ_EXAMPLES=1000 ./scripts/test.sh tests/test_fuzz.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fer_core.errors import DataError
from fer_core.faces.images import decode_face_image, decode_photo, read_image_file
from fer_core.data.dataset import LoadOptions
from fer_core.data.loaders import load_dataset
from tests.conftest import REPO_ROOT, face_image, write_kaggle_folder

EXAMPLES = int(os.environ.get("FER_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])
FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def answers_or_says_why(decode, data: bytes) -> None:
    """The invariant for one decoder call: a 48x48 face (or an image), or a DataError; quickly."""
    started = time.perf_counter()
    try:
        out = decode(data)
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert out is not None
    assert time.perf_counter() - started < 10


# ------------------------------------------------------------------ images


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused_as_images(data):
    answers_or_says_why(decode_face_image, data)
    answers_or_says_why(decode_photo, data)


@FUZZ
@given(fmt=st.sampled_from(FORMATS), cut=st.floats(0.0, 1.0), flip=st.integers(0, 10_000))
def test_truncated_and_bit_flipped_real_images(fmt, cut, flip):
    data = bytearray(encoded(face_image(3, 7, size=64, mode="RGB"), fmt))
    data[flip % len(data)] ^= 0xFF
    for sample in (bytes(data[: int(len(data) * cut)]), bytes(data)):
        answers_or_says_why(decode_face_image, sample)
        answers_or_says_why(decode_photo, sample)


@pytest.fixture(scope="module")
def real_videos(tmp_path_factory) -> dict[str, bytes]:
    """Small real videos in three containers (grey frames with a moving square), as bytes."""
    import cv2

    folder = tmp_path_factory.mktemp("videos")
    videos = {}
    for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG"), (".webm", "VP80")):
        writer = cv2.VideoWriter(str(folder / f"v{suffix}"), cv2.VideoWriter_fourcc(*fourcc), 10, (96, 64))
        for k in range(12):
            frame = np.full((64, 96, 3), 100, np.uint8)
            frame[10:30, 5 * k:5 * k + 20] = 250
            writer.write(frame)
        writer.release()
        videos[suffix] = (folder / f"v{suffix}").read_bytes()
    return videos


@FUZZ
@given(suffix=st.sampled_from([".mp4", ".avi", ".webm"]), cut=st.floats(0.0, 1.0), flips=st.lists(
    st.integers(0, 100_000), max_size=8))
def test_truncated_and_bit_flipped_videos_give_frames_or_one_sentence(real_videos, tmp_path, suffix, cut, flips):
    """FFmpeg (in OpenCV) on damaged videos: frames or a DataError, never a crash or a hang."""
    from fer_core.data.video_files import open_video, sample_frames

    data = bytearray(real_videos[suffix])
    for flip in flips:
        data[flip % len(data)] ^= 0xFF
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(bytes(data[: max(1, int(len(data) * cut))]))

    def decode(_: bytes):
        return [frame.index for frame in sample_frames(path, fps=5.0, info=open_video(path))]

    answers_or_says_why(decode, b"")


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"])
def test_every_pil_mode_decodes_to_a_face_that_is_not_blank(mode):
    grey = np.asarray(face_image(2, 5), dtype=np.float64)  # values 0-255
    if mode == "I;16":
        image = Image.fromarray((grey * 257).astype(np.uint16))  # Pillow makes this mode I;16
    elif mode == "I":
        image = Image.fromarray((grey * 257).astype(np.int32), mode="I")
    elif mode == "F":
        image = Image.fromarray((grey / 255).astype(np.float32), mode="F")
    else:
        image = Image.fromarray(grey.astype(np.uint8), mode="L").convert(mode)
    fmt = "TIFF" if mode in ("I;16", "I", "F", "CMYK", "LA") else "PNG"
    face = decode_face_image(encoded(image, fmt))
    assert face.shape == (48, 48) and face.dtype == np.uint8
    if mode != "1":  # a 16-bit or float face must not come out all white (it did before)
        assert abs(face.mean() - grey.mean()) < 20, (mode, face.mean(), grey.mean())


def test_absurd_sizes_are_refused_by_their_header_alike():
    huge = encoded(Image.new("1", (20_000, 20_000)), "PNG")  # 400 megapixels in a small file
    for decode in (decode_face_image, decode_photo):
        with pytest.raises(DataError, match=r"image too large \(20000x20000 pixels; the limit is 50 megapixels\)"):
            decode(huge)
    answers_or_says_why(decode_face_image, encoded(Image.new("L", (1, 1)), "PNG"))
    answers_or_says_why(decode_face_image, encoded(Image.new("L", (5000, 1)), "PNG"))


# ------------------------------------------------------------------ special files


def test_special_files_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with open(tmp_path / "sparse.jpg", "wb") as f:
        f.truncate(3 * 2**30)  # 3 GB of nothing, no disk used
    for name, message in (("pipe.jpg", "not a regular file"), ("zero.jpg", "not a regular file"),
                          ("dangling.jpg", "No such file"), ("folder.jpg", "a folder"), ("sparse.jpg", "too large")):
        started = time.perf_counter()
        with pytest.raises(DataError, match=message):
            read_image_file(tmp_path / name)
        assert time.perf_counter() - started < 1


def limited(memory_gb: float = 2.0):
    """A child process's address-space limit, so a runaway read fails instead of eating the machine."""
    limit = int(memory_gb * 2**30)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def cli(*args, timeout: float = 120, memory_gb: float | None = 2.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *map(str, args)], cwd=REPO_ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limited(memory_gb) if memory_gb else None)


def test_a_dataset_folder_with_special_files_loads_the_rest(tmp_path):
    root = write_kaggle_folder(tmp_path / "fer", {"train": 3, "test": 2})
    os.mkfifo(root / "train" / "happy" / "pipe.jpg")
    (root / "train" / "sad" / "zero.jpg").symlink_to("/dev/zero")
    (root / "train" / "sad" / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    (root / "train" / "angry" / "folder.jpg").mkdir()
    result = cli("data", "--data", root, timeout=60)  # it used to hang on the pipe, or die reading /dev/zero
    assert result.returncode == 0, result.stderr
    assert "train: 21 images" in result.stdout and "skipped 3 bad item(s)" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_predict_answers_the_good_files_beside_special_ones(tmp_path):
    face_image(3, 1, size=96, mode="RGB").save(tmp_path / "face.png")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    result = cli("predict", tmp_path / "face.png", tmp_path / "pipe.jpg", tmp_path / "zero.jpg", "--detector", "none",
                 timeout=180, memory_gb=None)  # TensorFlow needs a large address space; the reads are capped anyway
    assert result.returncode == 1 and "Traceback" not in result.stderr
    answers = json.loads(result.stdout)
    assert len(answers[0]["faces"]) == 1 and "not a regular file" in answers[1]["error"]
    assert "not a regular file" in answers[2]["error"]


# ------------------------------------------------------------------ zips


def zip_with(path: Path, members: dict[str, bytes], compress=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def good_members(count: int = 2) -> dict[str, bytes]:
    return {f"train/{c}/Training_{c}{k}.jpg": encoded(face_image(i, k, mode="L"), "JPEG")
            for i, c in enumerate(["angry", "happy", "sad"]) for k in range(count)}


def test_hostile_zips_are_refused_or_loaded_without_their_bad_members(tmp_path, monkeypatch):
    """Through ``fer_core.load_dataset``, an entry point: it reads the FER_ZIP_* settings and hands
    the limits down (the data layer reads no settings of its own)."""
    import fer_core

    members = good_members()
    # A member that inflates past the per-member cap (1 MB here; 40 MB by default) is skipped alone.
    monkeypatch.setenv("FER_ZIP_MAX_MEMBER_MB", "1")
    bomb = zip_with(tmp_path / "bomb.zip", {**members, "train/happy/Training_bomb.jpg": bytes(5 * 2**20)})
    dataset = fer_core.load_dataset(bomb, use_cache=False)
    assert len(dataset.split("train")) + len(dataset.split("val")) == 6
    assert "zip member too large when inflated (5 MB; the limit is 1 MB)" in dataset.report.summary()
    # The whole zip past the total cap is refused before anything is inflated.
    monkeypatch.setenv("FER_ZIP_MAX_TOTAL_MB", "3")
    with pytest.raises(DataError, match="would inflate to 5 MB; the limit is 3 MB"):
        fer_core.load_dataset(bomb, use_cache=False)
    monkeypatch.delenv("FER_ZIP_MAX_TOTAL_MB")
    monkeypatch.setenv("FER_ZIP_MAX_MEMBERS", "4")
    with pytest.raises(DataError, match="holds 7 files; the limit is 4"):
        fer_core.load_dataset(bomb, use_cache=False)
    monkeypatch.delenv("FER_ZIP_MAX_MEMBERS")

    # Traversal and absolute names are only names: nothing is written anywhere.
    before = set(tmp_path.parent.iterdir())
    hostile = zip_with(tmp_path / "names.zip", {**members, "../../evil.jpg": b"x", "/etc/evil.jpg": b"x",
                                                "train/happy/../../../x.jpg": members["train/angry/Training_angry0.jpg"]})
    load_dataset(hostile, use_cache=False)
    assert set(tmp_path.parent.iterdir()) == before

    # Encrypted, unknown-method, bad-deflate and bad-CRC members are skipped, each alone.
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in ("train/sad/Training_locked.jpg", "train/sad/Training_method.jpg"):
            zf.writestr(zipfile.ZipInfo(name), members["train/angry/Training_angry0.jpg"])
    raw = bytearray(damaged.read_bytes())
    with zipfile.ZipFile(damaged) as zf:
        target = zf.getinfo("train/happy/Training_happy1.jpg")
    raw[target.header_offset + 30 + len(target.filename) + 20] ^= 0xFF  # a byte inside its compressed data
    damaged.write_bytes(bytes(raw))
    patch_header(damaged, "train/sad/Training_method.jpg", method=99)
    patch_header(damaged, "train/sad/Training_locked.jpg", flags=0x1)
    dataset = load_dataset(damaged, use_cache=False)
    summary = dataset.report.summary()
    assert "encrypted zip member" in summary and "method Python cannot read" in summary
    assert "Training_happy1.jpg: damaged zip member" in summary or "Training_happy1.jpg: corrupt" in summary
    assert len(dataset.split("train")) + len(dataset.split("val")) == 5


def patch_header(path: Path, name: str, method: int | None = None, flags: int | None = None) -> None:
    """Set a member's compression method or flag bits in both its headers (zipfile writes neither an
    unknown method nor the encryption flag itself)."""
    raw = bytearray(path.read_bytes())
    encoded_name = name.encode()
    for signature, name_offset, flags_offset in ((b"PK\x03\x04", 30, 6), (b"PK\x01\x02", 46, 8)):
        at = raw.find(signature)
        while at != -1:
            if raw[at + name_offset:at + name_offset + len(encoded_name)] == encoded_name:
                if flags is not None:
                    raw[at + flags_offset:at + flags_offset + 2] = flags.to_bytes(2, "little")
                if method is not None:
                    raw[at + flags_offset + 2:at + flags_offset + 4] = method.to_bytes(2, "little")
            at = raw.find(signature, at + 4)
    path.write_bytes(bytes(raw))


@FUZZ
@given(st.binary(min_size=1, max_size=2048), st.integers(0, 10_000))
def test_random_and_mangled_zips(tmp_path_factory, noise, position):
    folder = tmp_path_factory.mktemp("zips")
    good = bytearray(zip_with(folder / "good.zip", good_members(1)).read_bytes())
    good[position % len(good):position % len(good) + len(noise)] = noise
    for data in (bytes(good), noise):
        path = folder / "fuzzed.zip"
        path.write_bytes(data)
        try:
            dataset = load_dataset(path, use_cache=False)
            assert sum(len(s) for s in dataset.splits.values()) > 0
        except DataError as exc:
            assert str(exc)


# ------------------------------------------------------------------ CSV


CSV_ROWS = st.one_of(
    st.lists(st.text(max_size=30), min_size=1, max_size=4),
    st.tuples(st.integers(-5, 12).map(str), st.lists(st.integers(-(2**70), 2**70), max_size=40).map(
        lambda xs: " ".join(map(str, xs))), st.sampled_from(["Training", "PublicTest", "Private", ""])).map(list),
)


@FUZZ
@given(st.lists(CSV_ROWS, max_size=12), st.binary(max_size=64))
def test_malformed_csvs_load_their_good_rows_or_say_why(tmp_path_factory, rows, junk):
    path = tmp_path_factory.mktemp("csv") / "fer2013.csv"
    good = " ".join(["128"] * 2304)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["emotion", "pixels", "Usage"])
    writer.writerow(["3", good, "Training"])
    for row in rows:
        writer.writerow(row)
    path.write_bytes(buffer.getvalue().encode() + junk + b"\n4," + good.encode() + b",Training\n")
    try:
        dataset = load_dataset(path, LoadOptions(), use_cache=False)
    except DataError as exc:
        assert str(exc)
        return
    assert len(dataset.split("train")) >= 1  # the first good row at least
    assert all(p.item.startswith("row ") for p in dataset.report.problems)


def test_csv_defects_named_by_row(tmp_path):
    good = " ".join(["128"] * 2304)
    path = tmp_path / "fer2013.csv"
    path.write_bytes(b"emotion,pixels,Usage\n"
                     + f"3,{good},Training\n".encode()
                     + b"2," + good.replace("128", "99999999999999999999", 1).encode() + b",Training\n"
                     + b"1," + " ".join(["7"] * 1_000_000).encode() + b",Training\n"
                     + b"5,caf\xe9 " + good.encode() + b",Training\n"
                     + f"4,{good},Training\n".encode()
                     + b'6,"' + good.encode() + b",Training\n")  # an unclosed quote to the end
    dataset = load_dataset(path, use_cache=False)
    assert sorted(dataset.split("train").files + dataset.split("val").files) == ["row 2", "row 6"]  # the two good rows
    summary = dataset.report.summary()
    assert "row 3: pixels are not all integers" in summary and "row 4: expected 2304 pixels, found 1000000" in summary
    assert "row 5: pixels are not all integers" in summary and "row 7: expected 3 columns, found 2" in summary


def test_a_zip_needing_a_newer_zip_version_is_refused_in_one_sentence(tmp_path):
    """Found by the long run: a flipped byte in the central directory's 'version needed to extract'
    made zipfile raise NotImplementedError ('zip file version 6.4') through the loader."""
    from fer_core.data.photo_files import open_photo_set

    write_kaggle_folder(tmp_path / "k", {"train": 2})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted((tmp_path / "k").rglob("*.jpg")):
            zf.write(path, path.relative_to(tmp_path / "k").as_posix())
    data = bytearray(buffer.getvalue())
    central = data.find(b"PK\x01\x02")
    data[central + 6:central + 8] = (64).to_bytes(2, "little")  # version needed: 6.4
    (tmp_path / "new.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"new.zip: not a valid zip file \(NotImplementedError: zip file version 6.4"):
        load_dataset(tmp_path / "new.zip", LoadOptions(), use_cache=False)
    with pytest.raises(DataError, match="not a valid zip file"):
        with open_photo_set(tmp_path / "new.zip"):
            pass
