"""Start a real ``streamlit run`` server for browser tests and the dashboard benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ZIP = REPO_ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.zip"

CHROMIUM = os.environ.get("FER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A server whose runs and cache folders live in ``tmp`` and whose data folder is ../shared/datasets."""
    env = os.environ.copy()
    env.update({"FER_DATA_ROOT": str(SHARED_ZIP.parent.parent), "FER_RUNS_DIR": str(tmp / "runs"),
                "FER_CACHE_DIR": str(tmp / "cache"), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
                **(extra_env or {})})
    log = open(tmp / f"streamlit-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return process
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"streamlit did not start; see {log.name}:\n{Path(log.name).read_text()[-3000:]}")
