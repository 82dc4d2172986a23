"""An exported model runs without TensorFlow: ``predict`` on a photo with tensorflow and keras
made unimportable, in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import zipfile

from tests.conftest import REPO_ROOT, SHARED_PHOTOS, needs_photos, write_test_video

# Runs the CLI with an import hook that refuses tensorflow and keras (and anything under them).
BLOCKED_PREDICT = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Refuse())
from fer_core.cli import main
code = main(sys.argv[1:])
assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
sys.exit(code)
"""


@needs_photos
def test_predict_with_an_onnx_model_needs_neither_tensorflow_nor_keras(exported_onnx, tmp_path):
    """A photo, a video and a zip of photos in one call, with tensorflow and keras unimportable."""
    photo = SHARED_PHOTOS / "fr_obama.jpg"
    video = write_test_video(tmp_path / "clip.mp4", script=[(0.0, 1.0, ("fr_obama.jpg", None))])
    with zipfile.ZipFile(tmp_path / "album.zip", "w") as album:
        album.write(photo, "one.jpg")
        album.write(SHARED_PHOTOS / "fr_biden.jpg", "two.jpg")
    result = subprocess.run([sys.executable, "-c", BLOCKED_PREDICT, "predict", "--model", str(exported_onnx),
                             str(photo), str(video), str(tmp_path / "album.zip"), "--tta", "flip", "--out",
                             str(tmp_path / "out")], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=180, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    answer, timeline, collection = json.loads(result.stdout)
    assert answer["file"].endswith("fr_obama.jpg") and len(answer["faces"]) == 1
    assert abs(sum(answer["faces"][0]["probabilities"].values()) - 1) < 1e-3
    assert timeline["video"].endswith("clip.mp4") and (tmp_path / "out" / "clip" / "frames.csv").exists()
    assert collection["collection"].endswith("album.zip") and (tmp_path / "out" / "album" / "predictions.csv").exists()


def test_the_blocker_really_blocks_keras(tmp_path):
    result = subprocess.run([sys.executable, "-c", BLOCKED_PREDICT, "export", "default", "--out",
                             str(tmp_path / "x.onnx")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode != 0 and "is blocked in this test" in result.stderr
