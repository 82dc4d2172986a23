#!/usr/bin/env bash
# Set up .venv/ (if needed) and start the dashboard on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=2
# The Dataset page reads datasets only under FER_DATA_ROOT; default to the shared FER2013 copy if present.
if [ -z "${FER_DATA_ROOT:-}" ] && [ -d ../shared/datasets ]; then export FER_DATA_ROOT="$PWD/../shared/datasets"; fi
exec .venv/bin/streamlit run streamlit_app.py "$@"
