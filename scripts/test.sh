#!/usr/bin/env bash
# Set up .venv/ (if needed) and run the whole test suite, two test processes at once.
# Arguments go to pytest: ./scripts/test.sh -m "not slow" is the quick lane (no browser, venv or cluster tests).
# The browser tests need Debian's chromium; as root this installs it, otherwise they are skipped
# (unless FER_REQUIRE_BROWSER=1, as in CI, which makes a missing browser a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }) \
        || echo "note: could not install chromium; browser tests will be skipped" >&2
fi
# Every package pinned with its sha256 (requirements-dev.lock: scripts/lock.sh refreshes it, docs/install.md).
scripts/setup_venv.sh requirements-dev.lock
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=2
# FER_TEST_WORKERS test processes at once (pytest-xdist; 0 = all in this one process).
exec .venv/bin/python -m pytest -n "${FER_TEST_WORKERS:-2}" "$@"
