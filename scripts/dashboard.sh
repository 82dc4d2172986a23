#!/usr/bin/env bash
# Set up .venv/ (if needed) and start the dashboard on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/streamlit run streamlit_app.py "$@"
