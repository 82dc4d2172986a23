"""The requirements files agree with one another where they name the same package."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT


def pins(name: str) -> dict[str, str]:
    """package (extras dropped) -> pinned version, for every `name==version` line of a requirements file."""
    found = {}
    for line in (REPO_ROOT / name).read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.split("#")[0].strip())
        if match:
            found[match.group(1).lower()] = match.group(3)
    return found


def test_the_gpu_set_up_runs_the_jax_the_tests_check_on_the_cpu():
    gpu, dev = pins("requirements-gpu.txt"), pins("requirements-dev.txt")
    assert gpu["jax"] == dev["jax"]


def test_every_requirement_is_pinned():
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-gpu.txt", "requirements-runtime.txt",
                 "requirements-nodeps.txt"):
        lines = [line.split("#")[0].strip() for line in (REPO_ROOT / name).read_text().splitlines()]
        loose = [line for line in lines if line and not line.startswith("-") and "==" not in line]
        assert not loose, f"{name}: {loose}"
