"""Where and how a run ran, recorded in its ``config.json`` and copied into model cards."""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any


def provenance() -> dict[str, Any]:
    """Where and how a run ran (this process's command line included): recorded in its config.json."""
    import keras

    from fer_core.runs.hardware import device_description

    return {
        "command": command_line(),
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "python": platform.python_version(),
        "hardware": device_description(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def command_line(argv: list[str] | None = None) -> str:
    """The command as a user would type it again: ``python -m fer_core train ...`` rather than the
    absolute path of ``fer_core/__main__.py`` on the machine that ran it (what ``sys.argv[0]`` holds
    under ``python -m``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).parts[-2:] == ("fer_core", "__main__.py"):
        argv[0] = "python -m fer_core"
    return " ".join(argv)
