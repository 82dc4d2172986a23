"""The dashboard's start-up: what changes process state, done once, by name, before any page runs.

``streamlit_app.py`` calls ``start()`` first; every page's ``start_page`` calls it too (idempotent),
for a server whose first visitor opened a page's URL. Nothing in ``fer_core.app`` changes process
state at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from fer_core.settings import use_onednn


def start() -> None:
    """Everything below, once per process (later calls return at once)."""
    use_onednn()
    _share_the_gpu()
    _load_srtp_before_tensorflow()
    _keep_keras_state_between_runs()


def _share_the_gpu() -> None:
    """Under KERAS_BACKEND=jax on a GPU (scripts/dashboard.sh --gpu), JAX takes 75% of the GPU's
    memory at its first operation, in each process; the server (Predict, Results) and each training
    job it starts are separate processes on one GPU, so the second would be short of memory. JAX's
    own advice for several processes (docs.jax.dev, "GPU memory allocation"): allocate as needed.
    Set before JAX first runs anything; jobs inherit it; a user's own setting wins. Nothing changes
    on a CPU."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _load_srtp_before_tensorflow() -> None:
    """The live camera's SRTP library (pylibsrtp, under aiortc) crashes the process with a
    segmentation fault when it loads after TensorFlow (their OpenSSL symbols clash); loaded
    before, both work. (Checked: `python -c "import tensorflow; import pylibsrtp"` crashes, the
    other order does not; pylibsrtp 0.12 and 1.0 alike.) Where TensorFlow is already loaded it is
    not imported here: importing it then is what crashes."""
    if "tensorflow" not in sys.modules:
        try:
            import pylibsrtp  # noqa: F401
        except ImportError:  # without the live camera's packages, the rest of the dashboard works
            pass


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit does that (``script_runner._clean_problem_modules``) for apps that build a new Keras
    model on each run; ours are loaded once per server (``cached_model``). Each call ran a full
    garbage collection and threw away the compiled predict functions, so the next answer compiled
    them again: with the live camera's panel redrawn every second, a py-spy profile of the server
    showed clear_session in 23% of its samples and a frame's analysis took 223 ms instead of 15 ms
    (docs/performance.md, "The live camera"). Its other cleanup, closing matplotlib's figures, is
    done as Streamlit does it (a test checks that the function is still there to replace).
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(getattr(script_runner, "_clean_problem_modules", None), "fer_keeps_keras", False):
        return

    def clean_but_keep_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            with contextlib.suppress(Exception):
                pyplot.close("all")

    clean_but_keep_keras.fer_keeps_keras = True
    script_runner._clean_problem_modules = clean_but_keep_keras


def log_bugs_to_file(cache_dir) -> None:
    """Tracebacks of unexpected errors (Streamlit logs them on ``streamlit.error_util``) also go to
    ``dashboard.log`` in the cache folder, once per server process: the page shows only a short
    message (``client.showErrorDetails = "none"`` in .streamlit/config.toml)."""
    from pathlib import Path

    logger = logging.getLogger("streamlit.error_util")
    if not any(getattr(h, "fer_dashboard_log", False) for h in logger.handlers):
        path = Path(cache_dir) / "dashboard.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.fer_dashboard_log = True
        logger.addHandler(handler)
