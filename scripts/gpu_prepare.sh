#!/usr/bin/env bash
# Prepare .gpu/ for scripts/gpu_train.sh: the dataset as one compact pack, and the wheels of what a
# bare JAX machine lacks (scripts/gpu-wheels.txt). Run here, where the package registry is reachable.
#
#   scripts/gpu_prepare.sh [DATASET]   # default: ../shared/datasets/fer2013/fer2013-train-publictest.zip
#
# .gpu/ (git-ignored) then holds fer2013.ferpack (40.5 MB for FER2013 Training + PublicTest), the same
# in two parts (fer2013.ferpack.parts/) and wheels/ (2.9 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/datasets/fer2013/fer2013-train-publictest.zip}"
mkdir -p .gpu/wheels
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/python -m pip install -q -r requirements.txt; }
KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" .venv/bin/python -m fer_core pack --data "$DATA" --splits train,val \
    --out .gpu/fer2013.ferpack
grep -v '^#' scripts/gpu-wheels.txt | xargs python3 -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels
# The pack in two parts, for the two-call plan (docs/gpu.md): each call then has 19 MiB or more to spare.
python3 scripts/travel_parts.py split .gpu/fer2013.ferpack --parts 2
du -sh .gpu/fer2013.ferpack .gpu/wheels
python3 scripts/travel_size.py
