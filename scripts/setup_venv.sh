#!/usr/bin/env bash
# Make .venv/ (if needed) and install a lock into it, every package checked against its sha256
# (scripts/lock.sh refreshes the locks, docs/install.md). The one setup of .venv: scripts/test.sh,
# scripts/dashboard.sh and the wheel build's export of the default (scripts/hatch_build.py) use it.
# Usage: scripts/setup_venv.sh LOCK
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "${1:?usage: setup_venv.sh LOCK}"
