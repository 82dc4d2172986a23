"""The dashboard's server and its training jobs share one GPU under JAX: neither takes 75% of it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SHOW = ("import os, subprocess, sys, fer_core.app.session, fer_core.app.cache; "
        "print(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE')); "  # importing the glue changes nothing
        "from fer_core.app.startup import start; start(); "
        "print(os.environ['XLA_PYTHON_CLIENT_PREALLOCATE']); "
        "subprocess.run([sys.executable, '-c', \"import os; print(os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'])\"])")


@pytest.mark.parametrize("users_setting, expected", [(None, "false"), ("true", "true")])
def test_the_server_and_the_processes_it_starts_allocate_gpu_memory_as_needed(users_setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "XLA_PYTHON_CLIENT_PREALLOCATE"}
    if users_setting is not None:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = users_setting
    result = subprocess.run([sys.executable, "-c", SHOW], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(users_setting), expected, expected]  # at import, after start(), a job
