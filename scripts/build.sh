#!/usr/bin/env bash
# Configures and builds asb into build/ with both cores. Binaries land in build/bin.
# Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASB_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASB_WERROR=ON "$@"
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
