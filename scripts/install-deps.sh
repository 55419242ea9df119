#!/usr/bin/env bash
# Installs every Debian package asb needs to build, test and run. Idempotent: apt-get runs only
# when something is missing. Must run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake g++ make pkg-config clang-format
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # libraries (all header-only or static-friendly; see docs/architecture.md)
  libboost-dev nlohmann-json3-dev libexpected-dev libcli11-dev libyaml-cpp-dev
  libseccomp-dev libcap-dev libsqlite3-dev libssl-dev zlib1g-dev
  # OCI image layers (image/layer_unpack.h): tar with gzip and zstd
  libarchive-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # bench/cpu_floor.py: where a claim's CPU goes (perf record -a)
  linux-perf
  # Python client tests (pytest from Debian; the client itself needs only the stdlib)
  python3 python3-venv python3-pytest
  # the e2e suite parses /metrics with the Prometheus client's own parser (test_metrics.py)
  python3-prometheus-client
  # sandboxes: gVisor, iproute2 for diagnostics, procps for tests that count processes
  runsc iproute2 procps file
  # the pod network's firewall (net/nft_ruleset.h: nft -f)
  nftables
  # the pod DNS tests' name server on a test host (tests/e2e/test_network_dns.py)
  dnsmasq-base
  # the writable layer: mkfs.ext4 makes its template images (runtime/scratch_disk.h)
  e2fsprogs
  # OCI image tests: a real registry, images built with umoci from busybox-static, pushed by skopeo
  docker-registry umoci skopeo busybox-static
  # the authenticated registry of the pull-secret tests: htpasswd -B (bcrypt) writes its users
  apache2-utils
  # the token server of the token-auth registry tests (tests/e2e/token_server.py): ES256 JWTs
  python3-jwt python3-cryptography
  # kubectl exec -it tests drive a real terminal
  tmux
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
