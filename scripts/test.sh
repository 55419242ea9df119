#!/usr/bin/env bash
# Runs every test of asb on this machine: C++ unit, integration and privileged suites (ctest), the
# Python client's tests and the end-to-end suites (pytest against real asbd, kubectl, sandboxes).
# Installs missing Debian packages and builds first (incrementally).
#
# Skips are printed loudly with their reasons. With CI=true (or ASB_NO_SKIPS=1) any skip fails the
# run: a skipped isolation test tests nothing.
# The last line is the total: "total: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || exit 1

BUILD_DIR=${ASB_BUILD_DIR:-build}
export ASB_BIN_DIR="$ROOT/$BUILD_DIR/bin"
LOG_DIR="$ROOT/$BUILD_DIR/test-logs"
mkdir -p "$LOG_DIR"

passed=0 failed=0 skipped=0
skip_reasons=()

# --- C++: unit tests in parallel, then the ones that start sandboxes one at a time -------------
run_ctest() {  # $1 = name, rest = ctest args
  local name=$1; shift
  local log="$LOG_DIR/ctest-$name.log"
  ctest --test-dir "$BUILD_DIR" --output-on-failure "$@" 2>&1 | tee "$log" | \
    grep -E "Test +#|tests passed|SKIPPED|Failed|\*\*\*" | grep -vE "Passed +[0-9.]+ sec$" || true
  local total fails skips
  total=$(grep -oE "tests failed out of [0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
  fails=$(grep -oE "[0-9]+ tests failed out of" "$log" | grep -oE "^[0-9]+" || echo 0)
  skips=$(grep -cE "\(Skipped\)$" "$log" || true)
  [[ -z "$total" ]] && total=0
  [[ -z "$fails" ]] && fails=0
  passed=$((passed + total - fails - skips))
  failed=$((failed + fails))
  skipped=$((skipped + skips))
  if ((skips > 0)); then
    while IFS= read -r line; do skip_reasons+=("ctest $name: $line"); done \
      < <(grep -E "\(Skipped\)$|^\[  SKIPPED \]" "$log" | sort -u)
  fi
  if ! grep -q "tests failed out of" "$log" && ! grep -q "No tests were found" "$log"; then
    echo "!!! ctest $name did not complete"; failed=$((failed + 1))
  fi
}

echo "=== C++ unit tests"
run_ctest unit -L unit -j"$(nproc)"
echo "=== libFuzzer targets (bounded: ASB_FUZZ_SECONDS each, default 20)"
# A crash, sanitizer report or over-limit allocation in any decoder fails the run.
if ! bash scripts/fuzz.sh "${ASB_FUZZ_SECONDS:-20}" 2>&1 | tee "$LOG_DIR/fuzz.log"; then
  echo "!!! fuzzing found a failure (see build-fuzz/artifacts/)"; failed=$((failed + 1))
fi
echo "=== C++ integration tests"
run_ctest integration -L integration -LE privileged -j"$(nproc)"
echo "=== C++ privileged tests (real sandboxes, one at a time)"
run_ctest privileged -L privileged -j1 --timeout 300

# --- Python: client unit tests and end-to-end suites --------------------------------------------
VENV="$ROOT/$BUILD_DIR/venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV" || exit 1
fi
"$VENV/bin/pip" install -q --no-index --no-build-isolation "$ROOT/python" >"$LOG_DIR/pip.log" 2>&1 || {
  cat "$LOG_DIR/pip.log"; echo "!!! pip install ./python failed"; failed=$((failed + 1)); }

# Each suite runs in its own pytest process: both have a conftest.py of their own.
run_pytest() {  # $1 = suite dir
  local suite=$1 log="$LOG_DIR/pytest-$(basename "$1").log"
  echo "=== pytest $suite"
  (cd "$suite" && "$VENV/bin/python" -m pytest -rs -p no:cacheprovider .) 2>&1 | tee "$log"
  local summary p f e s
  summary=$(tail -n 1 "$log")
  n() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE "^[0-9]+" || echo 0; }
  p=$(n passed); f=$(n failed); e=$(n error); s=$(n skipped)
  passed=$((passed + p)); failed=$((failed + f + e)); skipped=$((skipped + s))
  if ((s > 0)); then
    while IFS= read -r line; do skip_reasons+=("pytest: $line"); done < <(grep -E "^SKIPPED" "$log")
  fi
  if ! echo "$summary" | grep -qE "passed|failed"; then
    echo "!!! pytest $suite did not complete"; failed=$((failed + 1))
  fi
}
[[ -d python/tests ]] && run_pytest python/tests
[[ -d tests/e2e ]] && run_pytest tests/e2e

status=0
if ((skipped > 0)); then
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! $skipped test(s) SKIPPED — each one tests nothing:"
  for r in "${skip_reasons[@]}"; do echo "!!!   $r"; done
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  if [[ "${CI:-}" == "true" || "${ASB_NO_SKIPS:-}" == "1" ]]; then
    echo "!!! skips are failures in CI"
    status=1
  fi
fi
((failed > 0)) && status=1
echo
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
