#!/usr/bin/env bash
# Builds asb (scripts/build.sh) and runs every benchmark binary that exists in build/bin, each
# under a heading, so any number the docs quote can be rerun with one command. Needs root (the
# runtime and end-to-end benches start real sandboxes); without root those are skipped loudly.
#
# Usage: scripts/bench.sh [--quick] [--no-build] [bench ...]
#   --quick     small sample counts (a smoke run of a minute or two)
#   --no-build  use the binaries as they are
#   bench ...   only these (api_bench claim_bench runtime_bench runsc_bench router_bench e2e_bench store_bench
#               kubectl_exec_bench.py portforward_bench.py python_client_bench.py image_bench.py egress_bench.py cpu_floor.py)
# Environment: ASB_BUILD_DIR (default build).
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0 build=1
only=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "bench.sh: unknown flag $a" >&2; exit 2 ;;
    *) only+=("$a") ;;
  esac
done

if [[ $build == 1 ]]; then
  bash scripts/build.sh || { echo "bench.sh: build failed" >&2; exit 1; }
fi
BIN=${ASB_BUILD_DIR:-build}/bin

# name | arguments (full run) | arguments (--quick) | needs root
benches=(
  "store_bench|--benchmark_min_time=0.5|--benchmark_min_time=0.05|no"
  "api_bench|-n 2000 -t 4|-n 300 -t 2|no"
  "claim_bench|30|10|no"
  "router_bench|5000|500|no"
  "runtime_bench|30|5|yes"
  "runsc_bench|--runs 10|--runs 3|yes"
  "e2e_bench|--runtime all|--runtime all --quick|yes"
  # kubectl's own paths (real kubectl against a real asbd), each beside the router doing the same
  "kubectl_exec_bench.py|--runs 30|--runs 5|yes"
  "portforward_bench.py|--runs 5|--runs 1 --mib 16|yes"
  # the user's own path: the Python client over the kubeconfig's TLS, the seed script as a process
  "python_client_bench.py|--runs 20|--runs 5|yes"
  # OCI images: cold pull vs skopeo copy, cached pulled image vs built-in image start
  "image_bench.py|--runs 3|--runs 1|yes"
  # egress: a sandbox downloading from a test host in a netns, beside the host doing the same
  "egress_bench.py|--runs 3|--runs 1 --mib 64|yes"
  # where a sustained claim's CPU goes (perf), and the claims/s that CPU allows on this machine
  "cpu_floor.py|--seconds 15|--seconds 5|yes"
)

status=0
ran=0
for entry in "${benches[@]}"; do
  IFS='|' read -r name full short root <<<"$entry"
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " =~ " $name " ]]; then continue; fi
  echo
  echo "=================================================================="
  echo "== $name"
  echo "=================================================================="
  cmd=("$BIN/$name")
  if [[ $name == *.py ]]; then
    cmd=(/usr/bin/python3 "bench/$name" --bin "$BIN")
  elif [[ ! -x "$BIN/$name" ]]; then
    echo "(not built: $BIN/$name is missing; skipped)"
    continue
  fi
  if [[ $root == yes && $(id -u) != 0 ]]; then
    echo "SKIPPED: $name needs root (it starts real sandboxes)"
    continue
  fi
  args=$full
  [[ $quick == 1 ]] && args=$short
  echo "\$ ${cmd[*]} $args"
  # shellcheck disable=SC2086  # args are word lists by design
  "${cmd[@]}" $args
  rc=$?
  if [[ $rc != 0 ]]; then
    echo "bench.sh: $name FAILED (exit $rc)"
    status=1
  fi
  ran=$((ran + 1))
done
echo
echo "bench.sh: ran $ran benchmark(s)$([[ $status != 0 ]] && echo ', some FAILED')"
exit $status
