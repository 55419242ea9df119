#!/usr/bin/env bash
# The seed's quickstart on the embedded default, on a fresh machine:
#   1. install Debian packages and build (both cores),
#   2. start asbd (API server + controllers + node + router) with its state in $ASB_STATE_DIR
#      (default /var/lib/asb for root),
#   3. kubectl apply the seed's SandboxTemplate + SandboxWarmPool (asbctl if kubectl is missing),
#   4. wait until the warm pool has its sandboxes Ready,
#   5. pip install the agentic_sandbox client (offline) into a venv and run the seed's
#      test_sandbox.py unchanged. It prints "Hello from the sandboxed environment!".
# asbd keeps running afterwards; the script prints how to clean up and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
bash scripts/build.sh

BIN="$ROOT/${ASB_BUILD_DIR:-build}/bin"
if [[ $(id -u) -eq 0 ]]; then DEFAULT_STATE=/var/lib/asb; else DEFAULT_STATE="$HOME/.local/state/asb"; fi
export ASB_STATE_DIR=${ASB_STATE_DIR:-$DEFAULT_STATE}
export ASB_KUBECONFIG="$ASB_STATE_DIR/kubeconfig"
mkdir -p "$ASB_STATE_DIR"

api_up() { "$BIN/asbctl" --kubeconfig "$ASB_KUBECONFIG" get namespaces >/dev/null 2>&1; }

if [[ -f "$ASB_STATE_DIR/asbd.pid" ]] && kill -0 "$(cat "$ASB_STATE_DIR/asbd.pid")" 2>/dev/null && api_up; then
  echo "==> asbd already running (pid $(cat "$ASB_STATE_DIR/asbd.pid"))"
else
  echo "==> starting asbd (state in $ASB_STATE_DIR, log in $ASB_STATE_DIR/asbd.log)"
  nohup "$BIN/asbd" serve --state-dir "$ASB_STATE_DIR" >"$ASB_STATE_DIR/asbd.log" 2>&1 &
  echo $! >"$ASB_STATE_DIR/asbd.pid"
  for _ in $(seq 1 200); do api_up && break; sleep 0.05; done
  api_up || { echo "asbd did not come up; last log lines:"; tail -n 30 "$ASB_STATE_DIR/asbd.log"; exit 1; }
fi

MANIFEST="$ROOT/examples/seed/sandbox-template-and-pool.yaml"
if command -v kubectl >/dev/null; then
  echo "==> kubectl apply -f $MANIFEST"
  kubectl --kubeconfig "$ASB_KUBECONFIG" apply -f "$MANIFEST"
else
  echo "==> kubectl not found; applying with asbctl"
  "$BIN/asbctl" --kubeconfig "$ASB_KUBECONFIG" apply -f "$MANIFEST"
fi

echo "==> waiting for the warm pool to be Ready"
for i in $(seq 1 600); do
  ready=$("$BIN/asbctl" --kubeconfig "$ASB_KUBECONFIG" get sandboxwarmpool python-sandbox-warmpool -o json \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("readyReplicas",0))')
  if [[ "$ready" -ge 2 ]]; then echo "    2/2 Ready"; break; fi
  ((i % 20 == 0)) && echo "    $ready/2 Ready"
  sleep 0.1
done

VENV="$ASB_STATE_DIR/venv"
if [[ ! -x "$VENV/bin/python" ]]; then /usr/bin/python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install -q --no-index "$ROOT/python"

echo "==> python examples/seed/test_sandbox.py"
"$VENV/bin/python" "$ROOT/examples/seed/test_sandbox.py"

PID=$(cat "$ASB_STATE_DIR/asbd.pid")
cat <<EOM
==> done. asbd keeps running (pid $PID, kubeconfig $ASB_KUBECONFIG).
    remove the pool and its sandboxes: kubectl --kubeconfig $ASB_KUBECONFIG delete -f $MANIFEST
    stop asbd:                         kill $PID   (running sandboxes survive; a restart re-adopts them)
EOM
