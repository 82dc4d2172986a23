"""Where and how a run ran, recorded in its ``config.json`` and copied into model cards."""

from __future__ import annotations

import platform
import sys
import time
from typing import Any


def provenance() -> dict[str, Any]:
    """Where and how a run ran (this process's command line included): recorded in its config.json."""
    import keras

    from fer_core.training.hardware import device_description

    return {
        "command": " ".join(sys.argv),
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "python": platform.python_version(),
        "hardware": device_description(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
