"""Shared fixtures: tiny datasets the tests build themselves, and the path to the real one."""

from __future__ import annotations

# Before anything imports TensorFlow: the live camera's pylibsrtp crashes a process that loaded
# TensorFlow first (fer_core/app/__init__.py says why); AppTest runs the Predict page in this process.
import pylibsrtp  # noqa: F401  isort: skip

import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_core import CLASSES  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ZIP = REPO_ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.zip"
SHARED_PHOTOS = REPO_ROOT.parent / "shared" / "photos"

needs_fer2013 = pytest.mark.skipif(
    not SHARED_ZIP.exists(), reason=f"FER2013 zip not found at {SHARED_ZIP} (../shared is absent)"
)
needs_photos = pytest.mark.skipif(not SHARED_PHOTOS.exists(), reason=f"no real photos at {SHARED_PHOTOS}")

# Kaggle folder names (alphabetical there; our label order is CLASSES).
KAGGLE_FOLDERS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def spec_for(model_name: str = "in-memory.keras", **values):
    """An ``AnswerSpec`` for a model the test holds in memory (the file need not exist: only
    ``resolve`` and ``load`` read it)."""
    from fer_core.answering.spec import AnswerSpec

    return AnswerSpec(model=Path(model_name), **values)


def answer_with(model, spec=None):
    """An ``Answerer`` for a model the test built or loaded itself (``spec``: by default
    ``spec_for()``), with an empty card: what ``AnswerSpec.load()`` returns for a real file."""
    from fer_core.answering.answerer import Answerer
    from fer_core.runtime.cards import ModelCard

    return Answerer(spec if spec is not None else spec_for(), model, ModelCard())


def face_image(label: int, seed: int, size: int = 48, mode: str = "L") -> Image.Image:
    """A synthetic 'face': a class-dependent pattern plus noise, so tiny models can learn it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48]
    pattern = 127 + 100 * np.sin((xx * (label + 1) + yy * (7 - label)) / 6.0)
    array = np.clip(pattern + rng.normal(0, 20, (48, 48)), 0, 255).astype(np.uint8)
    img = Image.fromarray(array, "L")
    if size != 48:
        img = img.resize((size, size))
    return img.convert(mode)


def jpeg_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def write_kaggle_folder(root: Path, per_class: dict[str, int], prefixes: dict[str, str] | None = None) -> Path:
    """``root/train/<class>/Training_*.jpg`` and ``root/test/<class>/PublicTest_*.jpg``."""
    prefixes = prefixes if prefixes is not None else {"train": "Training_", "test": "PublicTest_"}
    seed = 0
    for split, count in per_class.items():
        for folder in KAGGLE_FOLDERS:
            label = CLASSES.index(folder)
            directory = root / split / folder
            directory.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                seed += 1
                (directory / f"{prefixes.get(split, '')}{seed}.jpg").write_bytes(jpeg_bytes(face_image(label, seed)))
    return root


def zip_folder(folder: Path, zip_path: Path, top: str | None = None) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                arcname = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{arcname}" if top else arcname)
    return zip_path


def write_fer_csv(path: Path, rows_per_usage: dict[str, int], extra_rows: list[list[str]] | None = None) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        seed = 0
        for usage, count in rows_per_usage.items():
            for i in range(count):
                label = i % len(CLASSES)
                seed += 1
                pixels = np.asarray(face_image(label, seed)).reshape(-1)
                writer.writerow([label, " ".join(map(str, pixels)), usage])
        for row in extra_rows or []:
            writer.writerow(row)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own dataset cache and runs folder, so none sees another's (or a
    developer's promoted model in runs/)."""
    cache_home = tmp_path_factory.mktemp("cache_home")  # the library's default (settings.default_cache_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.setenv("FER_CACHE_DIR", str(cache_home / "fer_studio"))  # and the setting agree
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    monkeypatch.delenv("FER_DATA_ROOT", raising=False)
    monkeypatch.delenv("FER_DEFAULT_MODEL", raising=False)


@pytest.fixture(scope="session")
def fer2013_cache(tmp_path_factory) -> Path:
    """A dataset cache holding the real FER2013 zip, decoded once per test session (about 15 s on
    2 cores) for every test that reads the whole of it: they pass it as ``cache_dir`` or
    ``FER_CACHE_DIR``, so each does not decode the 32,298 JPEGs again."""
    if not SHARED_ZIP.exists():
        pytest.skip(f"FER2013 zip not found at {SHARED_ZIP} (../shared is absent)")
    from fer_core.data.loaders import load_dataset

    cache = tmp_path_factory.mktemp("fer2013_cache")
    assert not load_dataset(SHARED_ZIP, cache_dir=cache).report.from_cache
    return cache


TINY_TRAIN_CONFIG = dict(filters=[4, 8, 8], dense_units=16, batch_size=32, augment_strength=0.25)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """One tiny finished training run (2 epochs) with its dataset, shared by the page tests."""
    from fer_core.training.config import TrainConfig
    from fer_core.training.train import train

    root = tmp_path_factory.mktemp("finished")
    data = write_kaggle_folder(root / "data" / "tiny_fer", {"train": 20, "test": 6})
    return train(TrainConfig(data=str(data), epochs=2, **TINY_TRAIN_CONFIG), root / "runs", verbose=0)


@pytest.fixture
def dashboard_env(tmp_path, monkeypatch) -> dict[str, Path]:
    """A data folder holding one small Kaggle-layout dataset, and an empty runs folder."""
    data_root = tmp_path / "data_root"
    write_kaggle_folder(data_root / "fer_small", {"train": 12, "test": 4})
    runs = tmp_path / "runs"
    monkeypatch.setenv("FER_DATA_ROOT", str(data_root))
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    return {"data_root": data_root, "runs": runs, "dataset": data_root / "fer_small"}


def app_page(name: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO_ROOT / name), default_timeout=120)


@pytest.fixture
def kaggle_folder(tmp_path) -> Path:
    return write_kaggle_folder(tmp_path / "fer", {"train": 6, "test": 3})


@pytest.fixture
def train_folder(tmp_path) -> Path:
    """Big enough for a few real training steps (40 per class in train, 8 in val)."""
    return write_kaggle_folder(tmp_path / "fer_train", {"train": 40, "test": 8})


# --------------------------------------------------------------------------- test videos

# A person leaves at 4 s and comes back at 5 s; a second one is there from 1 s to 3 s.
VIDEO_SCRIPT = [  # (from second, to second, photos in view: left, right)
    (0.0, 1.0, ("fr_obama.jpg", None)),
    (1.0, 3.0, ("fr_obama.jpg", "fr_biden.jpg")),
    (3.0, 4.0, ("fr_obama.jpg", None)),
    (4.0, 5.0, (None, None)),
    (5.0, 6.0, ("fr_obama.jpg", None)),
]


def write_test_video(path: Path, script=VIDEO_SCRIPT, fps: float = 10.0, size: tuple[int, int] = (640, 360),
                     fourcc: str = "mp4v") -> Path:
    """A real video made with ``cv2.VideoWriter`` from the shared photos: each photo pasted into
    its half of a grey frame, drifting right by a pixel a frame (a slow head movement)."""
    import cv2

    photos: dict[str, np.ndarray] = {}

    def pasted(frame: np.ndarray, name: str, left: int) -> None:
        if name not in photos:
            with Image.open(SHARED_PHOTOS / name) as img:
                img = img.convert("RGB")
                scale = (size[1] - 40) / img.height
                photos[name] = np.asarray(img.resize((round(img.width * scale), size[1] - 40)))
        patch = photos[name][:, : size[0] // 2 - 40]
        frame[20:20 + patch.shape[0], left:left + patch.shape[1]] = patch

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    frames = round(script[-1][1] * fps)
    for index in range(frames):
        t = index / fps
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        left_name, right_name = next(scene[2] for scene in script if scene[0] <= t < scene[1])
        drift = index % 20
        if left_name:
            pasted(frame, left_name, 10 + drift)
        if right_name:
            pasted(frame, right_name, size[0] // 2 + 10 + drift)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_y4m(path: Path, frames: list, fps: int = 15) -> Path:
    """A YUV4MPEG2 (4:2:0) clip of RGB uint8 frames: what Chromium's fake camera plays
    (``--use-file-for-fake-video-capture``), looping. Even width and height."""
    import numpy as np

    height, width = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., k].astype(np.float32) for k in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = (b - y) * 0.564 + 128
            v = (r - y) * 0.713 + 128

            def half(plane):
                return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

            f.write(b"FRAME\n")
            for plane in (y, half(u), half(v)):
                f.write(np.clip(plane, 0, 255).astype(np.uint8).tobytes())
    return path


def camera_clip(path: Path, photo: str = "fr_obama.jpg", seconds: float = 2.0, fps: int = 15) -> Path:
    """A 640x480 Y4M clip of a shared photo fitted into the frame, drifting a few pixels a frame
    (a person before a webcam), for the fake camera."""
    import numpy as np
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(SHARED_PHOTOS / photo)).convert("RGB")
    scale = min(600 / image.width, 440 / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    frames = []
    for k in range(int(seconds * fps)):
        frame = Image.new("RGB", (640, 480), (90, 90, 90))
        shift = int(6 * np.sin(k / fps * 2 * np.pi))
        frame.paste(image, ((640 - image.width) // 2 + shift, (480 - image.height) // 2))
        frames.append(np.asarray(frame))
    return write_y4m(path, frames, fps)


@pytest.fixture(scope="session")
def exported_onnx(finished_run, tmp_path_factory) -> Path:
    """``finished_run``'s model exported to ONNX (flip TTA inside), for the runtime and serve tests."""
    from fer_core.export.exporting import ExportOptions, export_model

    out = tmp_path_factory.mktemp("exported") / "tiny.onnx"
    export_model(finished_run, out, ExportOptions(format="onnx", tta="flip"))
    return out
