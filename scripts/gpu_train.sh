#!/usr/bin/env bash
# Train the `gpu` preset on a GPU machine with no network, in one command (docs/gpu.md).
#
#   scripts/gpu_prepare.sh                        # here, with the network: writes .gpu/ (pack + wheels)
#   scripts/gpu_train.sh --data .gpu/fer2013.ferpack --out OUT [--distill] [--minutes 9.3] ...
#
# On the GPU machine it needs Python 3.12 with JAX (CUDA), numpy, pandas, scikit-learn, pillow and
# h5py; Keras and the rest come from the wheels in .gpu/wheels (installed into /tmp, nothing else
# is touched). Options: python scripts/gpu_train.py --help.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
WHEELS="${FER_WHEELS:-.gpu/wheels}"
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/fer_site \
        "$WHEELS"/*.whl
    export PYTHONPATH="/tmp/fer_site${PYTHONPATH:+:$PYTHONPATH}"
fi
# The pack carried in parts over two calls (docs/gpu.md): joined here, every part checked first.
if [ ! -f .gpu/fer2013.ferpack ] && [ -f .gpu/fer2013.ferpack.parts/manifest.json ]; then
    "$PY" scripts/travel_parts.py join .gpu/fer2013.ferpack
fi
export KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1
exec "$PY" scripts/gpu_train.py "$@"
