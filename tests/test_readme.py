"""The README's Python example runs as written (in a fresh interpreter, from the repo root)."""

from __future__ import annotations

import pytest

import os
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT, needs_fer2013


def readme_python_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


@needs_fer2013
@pytest.mark.slow
def test_the_readme_example_runs_and_prints_what_it_says(tmp_path, fer2013_cache):
    code = readme_python_block().replace('runs_dir="/tmp/fer_runs"', f'runs_dir="{tmp_path}"')
    env = {**os.environ, "FER_CACHE_DIR": str(fer2013_cache)}  # the zip decoded once for the session
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "{'train': 28709, 'val': 3589}"
    assert re.fullmatch(r"accuracy 0\.\d{4}, fear recall 0\.\d{3}", lines[1])
    assert float(lines[1].split()[1].rstrip(",")) > 0.6  # the shipped default model, not an untrained one
    assert lines[2] == "../shared/photos/fr_obama.jpg ['happy']"
    assert any(tmp_path.iterdir())  # the training run's folder


def test_the_readme_stays_short():
    """A user's page: what it is, two commands, a tour, results, the CLI at a glance; the rest is in docs/."""
    assert len((REPO_ROOT / "README.md").read_bytes()) <= 14_000
