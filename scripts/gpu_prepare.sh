#!/usr/bin/env bash
# Prepare .gpu/ for scripts/gpu_train.sh: the dataset as one compact pack, and the wheels of what a
# bare JAX machine lacks (scripts/gpu-wheels.txt). Run here, where the package registry is reachable.
#
#   scripts/gpu_prepare.sh [DATASET]   # default: ../shared/datasets/fer2013/fer2013-train-publictest.zip
#
# .gpu/ (git-ignored) then holds fer2013.ferpack (40.5 MB for FER2013 Training + PublicTest) and
# wheels/ (2.9 MB). With the tracked tree (about 22 MB) that is under 64 MiB in all.
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
du -sh .gpu/fer2013.ferpack .gpu/wheels
