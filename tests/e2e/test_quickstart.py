"""E2E: the seed's quickstart as a user runs it, on a real asbd with real sandboxes.

kubectl applies the seed's sandbox-template-and-pool.yaml UNCHANGED (gVisor template + warm pool
of 2), the seed's test_sandbox.py runs UNCHANGED and must print the hello line; afterwards the
pool is back to 2 Ready members and the claimed sandbox is gone. The same for a template without
runtimeClassName (native). Then 20 parallel claims and the cold path.
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED_DIR = os.path.join(REPO, "examples", "seed")
HELLO = "Hello from the sandboxed environment!"

from agentic_sandbox import SandboxClient  # noqa: E402


def _seed(name):
    with open(os.path.join(SEED_DIR, name)) as f:
        return f.read()


def _sandboxes(kubectl):
    out = kubectl("get", "sandboxes.agents.x-k8s.io", "-n", "default", "-o", "json").stdout
    return json.loads(out)["items"]


def _ready(sandbox):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (sandbox.get("status") or {}).get("conditions") or [])


def _pool_ready(kubectl, want):
    def check():
        items = _sandboxes(kubectl)
        ready = sorted(i["metadata"]["name"] for i in items if _ready(i))
        return len(ready) == want and len(items) == want, ready
    return check


def _run_seed_script(asbd):
    env = dict(os.environ, ASB_KUBECONFIG=asbd.kubeconfig)
    return subprocess.run([sys.executable, os.path.join(SEED_DIR, "test_sandbox.py")],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("runtime", ["gvisor", "native"])
def test_seed_quickstart(asbd, kubectl, runtime):
    manifest = _seed("sandbox-template-and-pool.yaml")
    if runtime == "gvisor":
        if not shutil.which("runsc"):
            pytest.fail("runsc is not installed: the seed's gVisor template cannot run")
    else:
        assert "      runtimeClassName: gvisor\n" in manifest
        manifest = manifest.replace("      runtimeClassName: gvisor\n", "")
    kubectl("apply", "-f", "-", input=manifest)
    before = wait_for(_pool_ready(kubectl, 2), "2 Ready pool members", timeout=180)

    r = _run_seed_script(asbd)
    assert r.returncode == 0, "test_sandbox.py failed:\n%s\n%s\n%s" % (r.stdout, r.stderr,
                                                                      asbd.log())
    assert r.stdout.strip() == HELLO

    after = wait_for(_pool_ready(kubectl, 2), "the pool to refill to 2 Ready", timeout=180)
    claims = json.loads(kubectl("get", "sandboxclaims.extensions.agents.x-k8s.io", "-n",
                                "default", "-o", "json").stdout)["items"]
    assert claims == [], "the client's claim outlived the client"
    gone = set(before) - set(after)
    assert len(gone) == 1, "exactly the claimed sandbox should be gone: before %s after %s" % (
        before, after)

    def pod_gone():  # the node tears the sandbox down, then the pod's finalizer goes
        pods = json.loads(kubectl("get", "pods", "-n", "default", "-o", "json").stdout)["items"]
        names = {p["metadata"]["name"] for p in pods}
        return gone.isdisjoint(names), sorted(names)
    wait_for(pod_gone, "the claimed sandbox's pod to be torn down", timeout=60)
    if runtime == "gvisor":
        # The seed's template really runs under gVisor: its sandboxes are runsc bundles.
        bundles = os.listdir(os.path.join(asbd.state_dir, "runsc"))
        assert len(bundles) == 2, bundles


def _native_pool(kubectl, replicas):
    manifest = _seed("sandbox-template-and-pool.yaml").replace(
        "      runtimeClassName: gvisor\n", "").replace("replicas: 2", "replicas: %d" % replicas)
    kubectl("apply", "-f", "-", input=manifest)
    wait_for(_pool_ready(kubectl, replicas), "%d Ready pool members" % replicas, timeout=180)


def test_twenty_parallel_claims_get_distinct_sandboxes(asbd, kubectl):
    _native_pool(kubectl, 4)  # 4 warm, 16 cold: both paths under contention

    def one(i):
        with SandboxClient("python-runtime-template", kubeconfig=asbd.kubeconfig) as sb:
            sb.write("who.txt", "client-%d" % i)
            out = sb.run("cat who.txt").stdout
            return sb.sandbox_name, out

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    names = [name for name, _ in results]
    assert len(set(names)) == 20, "claims shared a sandbox: %s" % names
    for i, (_, out) in enumerate(results):
        assert out == "client-%d" % i, "sandbox saw another client's file: %r" % out


def test_claim_without_warm_member_goes_cold(asbd, kubectl):
    manifest = _seed("sandbox-template-and-pool.yaml").split("---")[0].replace(
        "      runtimeClassName: gvisor\n", "")
    kubectl("apply", "-f", "-", input=manifest)  # the template only: no pool
    start = time.monotonic()
    with SandboxClient("python-runtime-template", kubeconfig=asbd.kubeconfig) as sb:
        ready_s = time.monotonic() - start
        # Cold claims get a Sandbox named like the claim (upstream), so v0.1.0 clients find it.
        assert sb.sandbox_name == sb.claim_name
        assert sb.run("echo cold").stdout.strip() == "cold"
    print("cold claim -> Ready in %.3fs" % ready_s)


def test_sandboxes_survive_asbd_crash_and_restart(asbd, kubectl):
    """kill -9 asbd with a warm pool running: after a restart on the same state dir the node
    re-adopts (or cleanly replaces) the sandboxes, the pool is Ready again and claims work; the
    fixture's teardown then checks that nothing was leaked along the way."""
    _native_pool(kubectl, 2)
    asbd.kill9()
    asbd.start()
    wait_for(_pool_ready(kubectl, 2), "the pool to be Ready after restart", timeout=120)
    with SandboxClient("python-runtime-template", kubeconfig=asbd.kubeconfig) as sb:
        assert sb.run("echo after-restart").stdout.strip() == "after-restart"
