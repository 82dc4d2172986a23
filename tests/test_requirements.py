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
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-gpu.txt", "requirements-runtime.txt"):
        lines = [line.split("#")[0].strip() for line in (REPO_ROOT / name).read_text().splitlines()]
        loose = [line for line in lines if line and not line.startswith("-") and "==" not in line]
        assert not loose, f"{name}: {loose}"


def extras() -> dict[str, dict[str, str]]:
    """pyproject.toml's pins: "base" (dependencies) and each extra, package -> version (the extras'
    references to other extras, ``fer-studio[...]``, left out)."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    parsed = {}
    for group, lines in groups.items():
        found = {}
        for line in lines:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
            assert match or line.startswith("fer-studio["), f"{group}: {line} is not pinned"
            if match:
                found[match.group(1).lower()] = match.group(3)
        parsed[group] = found
    return parsed


def test_the_package_extras_and_the_requirements_files_are_one_source():
    """requirements.txt is the base and every extra but gpu and dev; requirements-runtime.txt is
    the base with serve and cluster; requirements-dev.txt is dev's own, requirements-gpu.txt gpu's:
    the same packages at the same versions."""
    groups = extras()
    union = lambda *names: {k: v for n in names for k, v in groups[n].items()}  # noqa: E731
    assert union("base", "train", "serve", "cluster", "dashboard") == pins("requirements.txt")
    assert union("base", "serve", "cluster") == pins("requirements-runtime.txt")
    assert groups["dev"] == pins("requirements-dev.txt")
    assert groups["gpu"] == pins("requirements-gpu.txt")


def locked(name: str) -> dict[str, list[str]]:
    """A lock's packages -> their ``--hash=sha256:`` values (pip-compile's layout)."""
    found, current = {}, None
    for line in (REPO_ROOT / name).read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            current = f"{match.group(1).lower()}=={match.group(2)}"
            found[current] = []
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            found[current].append(digest)
    return found


def test_each_lock_pins_its_requirements_and_hashes_every_package():
    """requirements.lock, requirements-dev.lock, requirements-runtime.lock and requirements-gpu.lock
    hold every pin of the files they were compiled from (scripts/lock.sh), each package with at
    least one sha256."""
    for lock, sources in (("requirements.lock", ["requirements.txt"]),
                          ("requirements-dev.lock", ["requirements.txt", "requirements-dev.txt"]),
                          ("requirements-runtime.lock", ["requirements-runtime.txt"]),
                          ("requirements-gpu.lock", ["requirements.txt", "requirements-gpu.txt"])):
        packages = locked(lock)
        for source in sources:
            missing = {f"{p}=={v}" for p, v in pins(source).items()} - set(packages)
            assert not missing, f"{lock} lacks {sorted(missing)} of {source}: run ./scripts/lock.sh"
        assert all(packages.values()), f"{lock}: packages without a hash"
        assert len(packages) > sum(len(pins(s)) for s in sources) / 2  # the transitive ones too
    dashboard, gpu = locked("requirements.lock"), locked("requirements-gpu.lock")
    assert {p: h for p, h in gpu.items() if p in dashboard} == dashboard  # --gpu: the same packages, and CUDA's
