#!/usr/bin/env bash
# Set up .venv/ (if needed) and start the dashboard on the bundled default model.
# --gpu (first argument): install requirements-gpu.lock (also JAX for CUDA) and run under
# KERAS_BACKEND=jax, so that the Train & Tune page's jobs train on the NVIDIA GPU (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=0
if [ "${1:-}" = "--gpu" ]; then GPU=1; shift; fi
# Every package pinned with its sha256 (requirements.lock, or with --gpu requirements-gpu.lock: the same
# packages and JAX's CUDA ones; scripts/lock.sh refreshes them, docs/install.md).
LOCK=requirements.lock
if [ "$GPU" = 1 ]; then LOCK=requirements-gpu.lock; export KERAS_BACKEND=jax; fi
scripts/setup_venv.sh "$LOCK"
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=2
# The Dataset page reads datasets only under FER_DATA_ROOT; default to the shared FER2013 copy if present.
if [ -z "${FER_DATA_ROOT:-}" ] && [ -d ../shared/datasets ]; then export FER_DATA_ROOT="$PWD/../shared/datasets"; fi
exec .venv/bin/streamlit run streamlit_app.py "$@"
