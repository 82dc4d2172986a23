"""``dashboard``: the Streamlit app, started by ``fer-studio dashboard`` from a checkout or from an
installed ``fer-studio[dashboard]`` wheel (no checkout needed).

In a checkout the app is the repository's ``streamlit_app.py`` and ``pages/``; a wheel carries the
same files inside the package (``fer_core/_bundled/dashboard``, pyproject.toml). Streamlit reads
``.streamlit/config.toml`` only from the working folder, so the app's own settings file is handed
to it as command-line options instead: the dashboard looks the same from any folder, and a
``runs``/``data`` folder is the user's working folder, as with ``streamlit run``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import subprocess
import sys
import tomllib
from pathlib import Path

from fer_core.errors import ConfigError
from fer_core.settings import PROJECT_ROOT, Settings

APP_FILE = "streamlit_app.py"
INSTALLED_APP = "_bundled/dashboard"  # where a wheel carries streamlit_app.py, pages/ and .streamlit/


def app_folder() -> Path:
    """The folder that holds ``streamlit_app.py`` and ``pages/``: the checkout's, else the wheel's."""
    if (PROJECT_ROOT / APP_FILE).is_file():
        return PROJECT_ROOT
    folder = Path(str(importlib.resources.files("fer_core").joinpath(INSTALLED_APP)))
    if not (folder / APP_FILE).is_file():
        raise ConfigError(f"no {APP_FILE} in this install of fer_core (looked in {PROJECT_ROOT} and {folder})")
    return folder


def config_options(folder: Path) -> list[str]:
    """``.streamlit/config.toml`` as ``--section.key=value`` options."""
    path = folder / ".streamlit" / "config.toml"
    if not path.is_file():
        return []
    config = tomllib.loads(path.read_text())
    return [f"--{section}.{key}={str(value).lower() if isinstance(value, bool) else value}"
            for section, values in config.items() for key, value in values.items()]


def streamlit_command(folder: Path, port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(folder / APP_FILE), *config_options(folder),
            f"--server.port={port}", f"--server.address={address}"]


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    import streamlit  # noqa: F401  (the [dashboard] extra; main() names it when missing)

    command = streamlit_command(app_folder(), args.port, args.address)
    print(f"FER Studio on http://{args.address}:{args.port} (Ctrl+C stops it)", file=sys.stderr)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
