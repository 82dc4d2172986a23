#!/usr/bin/env bash
# Build the API and dashboard images with podman (Debian's package), offline but for the package registries:
#   1. a Debian bookworm base made by debootstrap from deb.debian.org (no image registry needed),
#   2. the bundled default model exported to int8 ONNX (multicrop inside) into build/model/,
#   3. the runtime's wheels downloaded here (the image installs them with --no-index),
#   4. deploy/Containerfile.api on top: requirements-runtime.lock (hashed), fer_core, the model; a non-root user
#      (the same image runs a Dask worker for predict --cluster: dask worker tcp://SCHEDULER:8786),
#   5. deploy/Containerfile.dashboard: requirements.lock (TensorFlow too), the app and bundled models.
# Usage: scripts/build_images.sh [--data PATH] [api|dashboard ...]   (PATH: the dataset whose faces calibrate int8)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/datasets/fer2013/fer2013-train-publictest.zip
[ "${1:-}" = "--data" ] && { DATA=$2; shift 2; }
TARGETS=${*:-api dashboard}
command -v podman >/dev/null || { echo "needs podman (apt-get install podman)" >&2; exit 2; }
if ! podman image exists localhost/fer-debian-base; then
    command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
    root=$(mktemp -d)
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" http://deb.debian.org/debian
    tar -C "$root" -c . | podman import - localhost/fer-debian-base
    rm -rf "$root"
fi
for target in $TARGETS; do
    case $target in
        api)
            mkdir -p build/model
            [ -f build/model/default-int8.onnx ] || .venv/bin/python -m fer_core export default --int8 \
                --calibration-data "$DATA" --out build/model/default-int8.onnx
            wheels=build/wheels requirements=requirements-runtime.lock ;;
        dashboard) wheels=build/wheels-dashboard requirements=requirements.lock ;;
        *) echo "unknown image '$target' (api or dashboard)" >&2; exit 2 ;;
    esac
    mkdir -p "$wheels"  # the image installs from these, offline (the same pins as $requirements)
    .venv/bin/python -m pip download -q -d "$wheels" --require-hashes -r "$requirements"
    # chroot isolation: no container runtime needed to build (crun refuses cgroups in hybrid mode on some hosts)
    podman build --isolation chroot --format docker --network host -f "deploy/Containerfile.$target" \
        -t "fer-studio-$target" .
    podman image ls "fer-studio-$target"
done
