#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each one for a bounded
# time from its seed corpus in fuzz/corpus/<target>/. A crash, leak or sanitizer report fails the
# run (exit 1) and leaves the reproducer in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [seconds per target, default 20] [target...]
# Longer runs: scripts/fuzz.sh 3600 fuzz_patch   (new inputs go to build-fuzz/corpus/<target>/)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
shift || true
BUILD_DIR=${ASB_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DASB_FUZZ=ON -DASB_BUILD_TESTS=OFF -DASB_WERROR=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cd "$BUILD_DIR/fuzz" && ls fuzz_* | sort)
fi
mkdir -p "$BUILD_DIR/artifacts"
failed=()
for t in "${targets[@]}"; do
  work="$BUILD_DIR/corpus/$t"
  mkdir -p "$work"
  seeds=()
  [[ -d "fuzz/corpus/$t" ]] && seeds=("fuzz/corpus/$t")
  echo "fuzz: $t for ${SECONDS_EACH}s"
  # -rss_limit_mb bounds memory per input: an unbounded allocation is a finding too.
  if ! "$BUILD_DIR/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -timeout=10 \
      -max_len=65536 -print_final_stats=0 -artifact_prefix="$BUILD_DIR/artifacts/$t-" \
      "$work" "${seeds[@]}" >"$BUILD_DIR/$t.log" 2>&1; then
    echo "fuzz: $t FAILED (log $BUILD_DIR/$t.log, reproducer in $BUILD_DIR/artifacts/)"
    tail -30 "$BUILD_DIR/$t.log"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failures: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${SECONDS_EACH}s each, no crashes"
