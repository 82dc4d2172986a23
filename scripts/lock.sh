#!/usr/bin/env bash
# Refresh the locks: every transitive package pinned, with sha256 hashes (Linux x86-64, Python 3.11).
#   requirements.lock          requirements.txt                        (scripts/dashboard.sh, the dashboard image)
#   requirements-dev.lock      requirements.txt + requirements-dev.txt (scripts/test.sh, CI)
#   requirements-runtime.lock  requirements-runtime.txt                (the API image, a Dask worker)
#   requirements-gpu.lock      requirements.txt + requirements-gpu.txt (scripts/dashboard.sh --gpu: JAX for CUDA)
# pip-tools' pip-compile, because it resolves with pip itself and so reads pip's own configuration
# (this machine's registry mirrors and find-links), which uv does not; `pip lock` needs pip >= 25.1
# where a new venv has 23.2 (docs/install.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-lock
.venv-lock/bin/python -m pip install -q --disable-pip-version-check pip-tools==7.6.2
compile() {
    local out=$1; shift
    .venv-lock/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header \
        --no-emit-index-url --no-emit-find-links --no-emit-trusted-host -o "$out" "$@"
}
compile requirements.lock requirements.txt
compile requirements-dev.lock requirements.txt requirements-dev.txt
compile requirements-runtime.lock requirements-runtime.txt
compile requirements-gpu.lock requirements.txt requirements-gpu.txt
