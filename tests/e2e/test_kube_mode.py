"""E2E: Kubernetes mode on one machine. asbd's API server plays the kube-apiserver:
`asbd serve --roles apiserver,node,router` runs no controllers, and two `asbd controller
--kubeconfig <asbd's kubeconfig>` processes reconcile over HTTPS through the Kubernetes REST API,
electing a leader on a coordination.k8s.io/v1 Lease.

- the seed's template and pool (kubectl apply) fill only once a controller runs;
- exactly one replica (the Lease's holder) acts; the seed's test_sandbox.py (a warm claim) and a
  cold claim work;
- kill -9 of the leader in the middle of a burst of claims: the standby takes the Lease within
  the lease duration and every claim ends Ready, each with a pod of its own.
"""

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import BIN_DIR, REPO
from waiting import wait_for

from agentic_sandbox import SandboxClient  # noqa: E402

SEED_DIR = os.path.join(REPO, "examples", "seed")
HELLO = "Hello from the sandboxed environment!"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/a3317529.agent-sandbox.x-k8s.io"
CLAIMS = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxclaims"
SANDBOXES = "/apis/agents.x-k8s.io/v1alpha1/namespaces/default/sandboxes"
LEASE_SECONDS = 4  # short, so the takeover is quick to test; production keeps client-go's 15

SPLIT = pytest.mark.parametrize("asbd", [["--roles", "apiserver,node,router"]], indirect=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Controller:
    """One `asbd controller` replica with its /healthz, /readyz and /metrics on a free port."""

    def __init__(self, asbd, identity, tmp):
        self.identity = identity
        self.port = _free_port()
        self.log_path = os.path.join(tmp, "controller-%s.log" % identity)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "asbd"), "controller", "--kubeconfig", asbd.kubeconfig,
             "--listen", "127.0.0.1:%d" % self.port, "--identity", identity,
             "--leader-elect-lease-duration", str(LEASE_SECONDS),
             "--leader-elect-renew-deadline", "3", "--leader-elect-retry-period", "0.5"],
            stdout=log, stderr=log)
        log.close()

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def leading(self):
        status, text = self.get("/metrics")
        return status == 200 and "\nasb_controller_leader 1" in "\n" + text

    def requests(self):
        status, text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith("asb_kube_client_requests "):
                return float(line.split()[1])
        return -1

    def reads(self):
        """asb_kube_client_reads by source (cache, live, fallback, waited_own_write)."""
        status, text = self.get("/metrics")
        out = {}
        for line in text.splitlines():
            if line.startswith("asb_kube_client_reads{"):
                source = line.split('source="', 1)[1].split('"', 1)[0]
                out[source] = float(line.split()[-1])
        return out

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def controllers(asbd, tmp_path):
    started = [Controller(asbd, name, str(tmp_path)) for name in ("ctl-a", "ctl-b")]
    try:
        yield started
    finally:
        for c in started:
            c.stop()


def _native_manifest(replicas=2):
    with open(os.path.join(SEED_DIR, "sandbox-template-and-pool.yaml")) as f:
        text = f.read()
    return text.replace("      runtimeClassName: gvisor\n", "").replace(
        "replicas: 2", "replicas: %d" % replicas)


def _ready(obj):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _pool_ready(asbd, want):
    def check():
        status, body = asbd.request("GET", SANDBOXES)
        items = body.get("items", []) if status == 200 else []
        ready = sorted(i["metadata"]["name"] for i in items if _ready(i))
        return len(ready) >= want, ready
    return check


def _holder(asbd):
    status, body = asbd.request("GET", LEASE)
    return body["spec"].get("holderIdentity") if status == 200 else None


@SPLIT
def test_split_controllers_elect_one_leader_and_serve_the_seed(asbd, kubectl, controllers):
    a, b = controllers
    wait_for(lambda: a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200,
             "both replicas ready", timeout=20)
    # The API server process runs no controllers of its own (ControllerManager logs this line).
    with open(asbd.log_path, errors="replace") as f:
        assert "controllers started" not in f.read(), asbd.log()
    assert a.get("/healthz")[0] == 200
    kubectl("apply", "-f", "-", input=_native_manifest())
    wait_for(_pool_ready(asbd, 2), "the pool to fill through the REST API", timeout=120)

    holder = wait_for(lambda: _holder(asbd), "a Lease holder", timeout=10)
    leader, standby = (a, b) if holder == a.identity else (b, a)
    assert holder == leader.identity
    assert leader.leading() and not standby.leading(), (leader.log(), standby.log())

    # One warm claim through the REST API, timed from create to Ready (watched by polling the
    # claim: the figure includes up to one 10 ms poll).
    start = time.monotonic()
    status, body = asbd.request("POST", CLAIMS, {
        "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxClaim",
        "metadata": {"name": "timed"},
        "spec": {"sandboxTemplateRef": {"name": "python-runtime-template"}}})
    assert status == 201, body
    wait_for(lambda: _ready(asbd.request("GET", CLAIMS + "/timed")[1]), "the timed claim Ready",
             timeout=30, interval=0.01)
    print("warm claim -> Ready over the REST API in %.1f ms" % ((time.monotonic() - start) * 1e3))
    asbd.request("DELETE", CLAIMS + "/timed")
    wait_for(_pool_ready(asbd, 2), "the pool to refill", timeout=60)

    # The seed's script, unchanged: a warm claim through the router.
    env = dict(os.environ, ASB_KUBECONFIG=asbd.kubeconfig)
    r = subprocess.run([sys.executable, os.path.join(SEED_DIR, "test_sandbox.py")],
                       capture_output=True, text=True, env=env, timeout=180)
    assert r.returncode == 0, "test_sandbox.py failed:\n%s\n%s\n%s" % (r.stdout, r.stderr,
                                                                      leader.log())
    assert r.stdout.strip() == HELLO

    # A cold claim: a template without a pool.
    template = _native_manifest().split("---")[0].replace(
        "name: python-runtime-template", "name: cold-template")
    kubectl("apply", "-f", "-", input=template)
    with SandboxClient("cold-template", kubeconfig=asbd.kubeconfig) as sb:
        assert sb.sandbox_name == sb.claim_name
        assert sb.run("echo cold").stdout.strip() == "cold"

    # The standby did nothing but poll the Lease (every 0.5 s, one GET a round).
    before = standby.requests()
    time.sleep(2)
    assert standby.requests() - before <= 8, standby.log()
    assert not standby.leading()


@SPLIT
def test_kill9_of_the_leader_mid_burst_loses_no_claim(asbd, kubectl, controllers):
    a, b = controllers
    kubectl("apply", "-f", "-", input=_native_manifest(replicas=3))
    wait_for(_pool_ready(asbd, 3), "3 Ready pool members", timeout=120)
    holder = wait_for(lambda: _holder(asbd), "a Lease holder", timeout=10)
    leader, standby = (a, b) if holder == a.identity else (b, a)

    names = ["burst-%d" % i for i in range(10)]

    def create(name):
        status, body = asbd.request("POST", CLAIMS, {
            "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxClaim",
            "metadata": {"name": name},
            "spec": {"sandboxTemplateRef": {"name": "python-runtime-template"}}})
        assert status == 201, body

    for name in names[:4]:
        create(name)
    leader.proc.send_signal(signal.SIGKILL)  # mid-burst, with claims in flight
    killed_at = time.monotonic()
    leader.proc.wait(timeout=10)
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(create, names[4:]))

    wait_for(lambda: _holder(asbd) == standby.identity, "the standby to take the Lease",
             timeout=LEASE_SECONDS + 6)
    took = time.monotonic() - killed_at
    print("standby took the Lease %.2fs after kill -9 (lease %ds)" % (took, LEASE_SECONDS))
    assert took <= LEASE_SECONDS + 3, "takeover took %.1fs" % took
    # Its controllers start right after (the watches open with a list each).
    wait_for(standby.leading, "the new leader's controllers to run", timeout=10)

    def all_ready():
        status, body = asbd.request("GET", CLAIMS)
        ready = sorted(c["metadata"]["name"] for c in body.get("items", []) if _ready(c))
        return ready == sorted(names), ready
    wait_for(all_ready, "every claim Ready after the takeover", timeout=180)
    print("all %d claims Ready %.2fs after kill -9" % (len(names), time.monotonic() - killed_at))

    # No sandbox doubly served: each claim's Sandbox runs a pod of its own, which it controls.
    pods = {}
    for name in names:
        status, claim = asbd.request("GET", CLAIMS + "/" + name)
        sb_name = claim["status"]["sandbox"]["name"]
        status, sb = asbd.request("GET", SANDBOXES + "/" + sb_name)
        assert status == 200, sb
        refs = [r for r in sb["metadata"].get("ownerReferences", []) if r.get("controller")]
        assert [r["uid"] for r in refs] == [claim["metadata"]["uid"]], (name, refs)
        pod_name = (sb["metadata"].get("annotations") or {}).get(
            "agents.x-k8s.io/pod-name", sb_name)
        pods.setdefault(pod_name, []).append(name)

        def pod_owned(pod_name=pod_name, sb=sb):
            status, pod = asbd.request("GET", "/api/v1/namespaces/default/pods/" + pod_name)
            owners = [r["uid"] for r in (pod.get("metadata") or {}).get("ownerReferences", [])
                      if r.get("controller")] if status == 200 else []
            return owners == [sb["metadata"]["uid"]], owners
        wait_for(pod_owned, "pod %s controlled by Sandbox %s" % (pod_name, sb_name), timeout=30)
    shared = {p: c for p, c in pods.items() if len(c) > 1}
    assert not shared, "pods serving several claims: %s" % shared

    # And the claims work: one of them runs a command through the router.
    with SandboxClient("python-runtime-template", kubeconfig=asbd.kubeconfig) as sb:
        assert sb.run("echo after-failover").stdout.strip() == "after-failover"


@SPLIT
def test_the_leader_reads_from_its_caches(asbd, kubectl, controllers):
    """The leader answers its reconciles' reads from its list+watch caches: a warm claim costs
    it a handful of reads on the server (the live claim-uid lookup, re-reads after a conflict),
    not the ~30 it took before the caches."""
    a, b = controllers
    wait_for(lambda: a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200,
             "both replicas ready (their caches listed)", timeout=20)
    kubectl("apply", "-f", "-", input=_native_manifest())
    wait_for(_pool_ready(asbd, 2), "the pool to fill through the REST API", timeout=120)
    holder = wait_for(lambda: _holder(asbd), "a Lease holder", timeout=10)
    leader = a if holder == a.identity else b
    wait_for(_pool_ready(asbd, 2), "the pool settled", timeout=30)
    before = leader.reads()
    status, body = asbd.request("POST", CLAIMS, {
        "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxClaim",
        "metadata": {"name": "cached"},
        "spec": {"sandboxTemplateRef": {"name": "python-runtime-template"}}})
    assert status == 201, body
    wait_for(lambda: _ready(asbd.request("GET", CLAIMS + "/cached")[1]), "the claim Ready",
             timeout=30, interval=0.01)
    after = leader.reads()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print("leader reads for one warm claim: %s" % delta)
    assert delta.get("cache", 0) >= 5, (delta, leader.log())
    assert delta.get("live", 0) + delta.get("fallback", 0) <= 6, (delta, leader.log())
    assert delta.get("fallback", 0) == 0, (delta, leader.log())
