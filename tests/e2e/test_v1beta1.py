"""E2E: upstream's current API (v1beta1) next to v1alpha1, spoken exactly as upstream's clients
speak it, against a real asbd with real sandboxes and real kubectl.

- the current SDK (k8s_agent_sandbox): a v1beta1 claim with warmPoolRef, a watch on the claim until
  status.sandbox.name and Ready, router requests with HTTP Basic (the token as password, what
  `requests` sends from NETRC) and X-Sandbox-Timeout, terminate = delete the claim;
- the seed-era client (v0.1.0): a watch on Sandboxes with metadata.name=<claim>;
- kubectl in both versions (explain, get, apply).
"""

import base64
import json
import os
import socket
import stat
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_python_client import _seed_manifest  # noqa: E402

BETA = "/apis/extensions.agents.x-k8s.io/v1beta1/namespaces/default"
ALPHA = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default"
SANDBOXES = "/apis/agents.x-k8s.io/v1beta1/namespaces/default/sandboxes"
POOL = "python-sandbox-warmpool"


def _ready(obj):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _seed(asbd, kubectl, replicas=2):
    kubectl("apply", "-f", "-", input=_seed_manifest(replicas=replicas))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, pool = asbd.request("GET", BETA + "/sandboxwarmpools/" + POOL)
        if (pool.get("status") or {}).get("readyReplicas", 0) >= replicas:
            return
        time.sleep(0.1)
    raise AssertionError("pool never Ready: %s" % pool)


class _Watch:
    """A streaming watch (plain HTTP, bearer token) collecting events in a thread."""

    def __init__(self, asbd, path):
        req = urllib.request.Request(asbd.plain_url + path)
        req.add_header("Authorization", "Bearer " + asbd.token)
        self.resp = urllib.request.urlopen(req, timeout=600)
        self.events = []
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for line in self.resp:
                with self.cv:
                    self.events.append(json.loads(line))
                    self.cv.notify_all()
        except (OSError, ValueError):
            pass  # closed by close()

    def wait(self, pred, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                assert left > 0, "no matching event in %s" % [e["type"] for e in self.events]
                self.cv.wait(left)

    def close(self):
        # Shut the socket down first: the reader thread holds the response's buffer lock while
        # it waits for a line, so close() alone would wait forever on a quiet watch.
        try:
            self.resp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
        self.thread.join(10)
        self.resp.close()


def _router(asbd, path, headers, data=None):
    req = urllib.request.Request(asbd.router_url + path, data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def _netrc_password(path, host):
    words = open(path).read().split()
    for i in range(0, len(words) - 5, 6):
        if words[i] == "machine" and words[i + 1] == host:
            return words[i + 5]
    raise AssertionError("no netrc entry for %s in %s" % (host, words))


def test_current_sdk_shape_claim_watch_router_terminate(asbd, kubectl):
    _seed(asbd, kubectl)
    name = "sandbox-claim-0a1b2c3d"
    # The seed-era client watches the Sandbox named like the claim; the current SDK the claim.
    sb_watch = _Watch(asbd, SANDBOXES + "?watch=true&fieldSelector=metadata.name%3D" + name)
    claim_watch = _Watch(asbd, BETA + "/sandboxclaims?watch=true&fieldSelector=metadata.name%3D"
                         + name)
    try:
        body = {"apiVersion": "extensions.agents.x-k8s.io/v1beta1", "kind": "SandboxClaim",
                "metadata": {"name": name,
                             "labels": {"agents.x-k8s.io/created-by": "python-client"},
                             "annotations": {"agents.x-k8s.io/client-first-requested-at":
                                             "2026-12-01T00:00:00.000000Z"}},
                "spec": {"warmPoolRef": {"name": POOL},
                         "additionalPodMetadata": {"labels": {"sandbox.users.io/team": "e2e"}}}}
        status, created = asbd.request("POST", BETA + "/sandboxclaims", body)
        assert status == 201, created
        assert created["apiVersion"] == "extensions.agents.x-k8s.io/v1beta1"
        assert created["spec"]["warmPoolRef"] == {"name": POOL}

        ev = claim_watch.wait(lambda e: _ready(e["object"])
                              and e["object"]["status"].get("sandbox", {}).get("name"))
        sandbox_name = ev["object"]["status"]["sandbox"]["name"]
        assert sandbox_name == name  # both naming rules at once
        ev = sb_watch.wait(lambda e: _ready(e["object"]))
        sb = ev["object"]
        assert sb["apiVersion"] == "agents.x-k8s.io/v1beta1"
        assert sb["spec"]["operatingMode"] == "Running" and "replicas" not in sb["spec"]
        assert sb["metadata"]["labels"]["agents.x-k8s.io/launch-type"] == "warm"
        assert sb["status"]["nodeName"]
        assert any(c["type"] == "PodScheduled" for c in sb["status"]["conditions"])
        pod_name = sb["metadata"]["annotations"]["agents.x-k8s.io/pod-name"]
        # additionalPodMetadata reaches the adopted warm pod.
        deadline = time.monotonic() + 10
        while True:
            _, pod = asbd.request("GET", "/api/v1/namespaces/default/pods/" + pod_name)
            labels = pod["metadata"].get("labels", {})
            if labels.get("sandbox.users.io/team") == "e2e":
                break
            assert time.monotonic() < deadline, labels
            time.sleep(0.05)
    finally:
        sb_watch.close()
        claim_watch.close()

    # Router: what requests sends from NETRC=<state>/netrc (Basic, token as password).
    netrc = os.path.join(asbd.state_dir, "netrc")
    assert stat.S_IMODE(os.stat(netrc).st_mode) == 0o600
    host = asbd.router_url.split("//", 1)[1].rsplit(":", 1)[0]
    password = _netrc_password(netrc, host)
    assert password == asbd.token
    headers = {"X-Sandbox-ID": name, "X-Sandbox-Namespace": "default", "X-Sandbox-Port": "8888",
               "X-Sandbox-Timeout": "60", "Content-Type": "application/json",
               "Authorization": _basic("asb", password)}
    status, out = _router(asbd, "/execute", headers, json.dumps({"command": "echo hi"}).encode())
    assert status == 200, out
    assert json.loads(out)["stdout"].strip() == "hi"
    for bad in (_basic("asb", "wrong"), "Bearer wrong", None):
        h = dict(headers)
        if bad is None:
            del h["Authorization"]
        else:
            h["Authorization"] = bad
        status, _ = _router(asbd, "/execute", h, b"{}")
        assert status == 401, bad
    assert _router(asbd, "/healthz", {})[0] == 200

    # The same claim in v1alpha1: template and pool, the v0.1.0 status key.
    status, alpha = asbd.request("GET", ALPHA + "/sandboxclaims/" + name)
    assert status == 200, alpha
    assert alpha["spec"]["sandboxTemplateRef"] == {"name": "python-runtime-template"}
    assert alpha["spec"]["warmpool"] == POOL
    assert alpha["status"]["sandbox"]["Name"] == name

    # terminate(): delete the claim; a second delete is a real 404, and the sandbox goes.
    status, _ = asbd.request("DELETE", BETA + "/sandboxclaims/" + name)
    assert status == 200
    status, gone = asbd.request("DELETE", BETA + "/sandboxclaims/" + name)
    assert status == 404 and gone["reason"] == "NotFound"
    deadline = time.monotonic() + 30
    while asbd.request("GET", SANDBOXES + "/" + name)[0] != 404:
        assert time.monotonic() < deadline, "the claim's Sandbox outlived it"
        time.sleep(0.1)


def test_missing_pool_is_reported_at_once(asbd):
    body = {"apiVersion": "extensions.agents.x-k8s.io/v1beta1", "kind": "SandboxClaim",
            "metadata": {"name": "orphan"}, "spec": {"warmPoolRef": {"name": "no-such-pool"}}}
    assert asbd.request("POST", BETA + "/sandboxclaims", body)[0] == 201
    deadline = time.monotonic() + 5
    while True:
        _, c = asbd.request("GET", BETA + "/sandboxclaims/orphan")
        reasons = [x.get("reason") for x in (c.get("status") or {}).get("conditions") or []]
        if "WarmPoolNotFound" in reasons:
            break
        assert time.monotonic() < deadline, c
        time.sleep(0.05)
    # warmPoolRef is required in v1beta1: a clear 422 naming the field.
    status, err = asbd.request("POST", BETA + "/sandboxclaims",
                               {"metadata": {"name": "bad"}, "spec": {}})
    assert status == 422, err
    assert any(c["field"] == "spec.warmPoolRef" for c in err["details"]["causes"])


def test_kubectl_both_versions(asbd, kubectl):
    versions = kubectl("api-versions").stdout.split()
    for gv in ("agents.x-k8s.io/v1beta1", "agents.x-k8s.io/v1alpha1",
               "extensions.agents.x-k8s.io/v1beta1", "extensions.agents.x-k8s.io/v1alpha1"):
        assert gv in versions
    out = kubectl("explain", "sandboxclaim.spec.warmPoolRef").stdout
    assert "warmPoolRef" in out and "name" in out, out
    out = kubectl("explain", "sandbox.spec.operatingMode").stdout
    assert "Suspended" in out or "operatingMode" in out, out

    _seed(asbd, kubectl, replicas=0)  # a cold-start profile: replicas 0
    claim = ("apiVersion: extensions.agents.x-k8s.io/v1beta1\nkind: SandboxClaim\n"
             "metadata:\n  name: kc\n  namespace: default\n"
             "spec:\n  warmPoolRef:\n    name: %s\n" % POOL)
    assert "created" in kubectl("apply", "-f", "-", input=claim).stdout
    kubectl("wait", "--for=condition=Ready", "sandboxclaims.extensions.agents.x-k8s.io/kc",
            "--timeout=120s")
    beta = json.loads(kubectl("get", "sandboxclaims.v1beta1.extensions.agents.x-k8s.io", "kc",
                              "-o", "json").stdout)
    alpha = json.loads(kubectl("get", "sandboxclaims.v1alpha1.extensions.agents.x-k8s.io", "kc",
                               "-o", "json").stdout)
    assert beta["spec"]["warmPoolRef"]["name"] == POOL
    assert alpha["spec"]["sandboxTemplateRef"]["name"] == "python-runtime-template"
    sb = json.loads(kubectl("get", "sandboxes.v1beta1.agents.x-k8s.io", "kc", "-o",
                            "json").stdout)
    assert sb["metadata"]["labels"]["agents.x-k8s.io/launch-type"] == "cold"
    # Printer columns (v1beta1): READY / SANDBOX / REASON.
    table = kubectl("get", "sandboxclaims", "kc").stdout
    assert "SANDBOX" in table.splitlines()[0] and "kc" in table

    # Suspend through v1alpha1 (replicas 0) shows as operatingMode Suspended in v1beta1, and back.
    kubectl("patch", "sandboxes.v1alpha1.agents.x-k8s.io", "kc", "--type=merge",
            "-p", '{"spec":{"replicas":0}}')
    sb = json.loads(kubectl("get", "sandboxes.v1beta1.agents.x-k8s.io", "kc", "-o",
                            "json").stdout)
    assert sb["spec"]["operatingMode"] == "Suspended"
    kubectl("patch", "sandboxes.v1beta1.agents.x-k8s.io", "kc", "--type=merge",
            "-p", '{"spec":{"operatingMode":"Running"}}')
    alpha_sb = json.loads(kubectl("get", "sandboxes.v1alpha1.agents.x-k8s.io", "kc", "-o",
                                  "json").stdout)
    assert alpha_sb["spec"]["replicas"] == 1
    kubectl("wait", "--for=condition=Ready", "sandboxes.v1beta1.agents.x-k8s.io/kc",
            "--timeout=120s")
    kubectl("delete", "sandboxclaims.v1beta1.extensions.agents.x-k8s.io", "kc")


def test_our_client_current_sdk_shape_and_kubeconfig_env(asbd, kubectl, monkeypatch):
    """agentic_sandbox's create_sandbox(warmpool=...) handle against real asbd, with the
    kubeconfig found through kubectl's $KUBECONFIG: a v1beta1 claim, commands, files,
    terminate leaving no claim."""
    from agentic_sandbox import SandboxClient, wait_for_cleanup

    _seed(asbd, kubectl)
    for var in ("ASB_KUBECONFIG", "ASB_STATE_DIR", "ASB_ROUTER_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KUBECONFIG", asbd.kubeconfig)
    sandbox = SandboxClient().create_sandbox(warmpool=POOL, namespace="default")
    try:
        status, claim = asbd.request("GET", BETA + "/sandboxclaims/" + sandbox.claim_name)
        assert status == 200, claim
        assert claim["spec"]["warmPoolRef"]["name"] == POOL
        assert claim["status"]["sandbox"]["name"] == sandbox.sandbox_name
        assert sandbox.commands.run("echo hi").stdout == "hi\n"
        r = sandbox.commands.run("sh -c 'exit 3'")
        assert r.exit_code == 3
        sandbox.files.write("dir/a.txt", b"payload")
        assert sandbox.files.read("dir/a.txt") == b"payload"
        assert sandbox.files.exists("dir/a.txt")
        assert not sandbox.files.exists("nope.txt")
        entries = {e.name: e.type for e in sandbox.files.list(".")}
        assert entries.get("dir") == "directory", entries
    finally:
        sandbox.terminate()
    sandbox.terminate()  # idempotent
    # terminate() sends the DELETE and reads its answer in the background (the with-block's
    # end costs the user no round trip); wait_for_cleanup() is how a caller knows it is done.
    assert wait_for_cleanup(30), "the claim's DELETE did not finish"
    status, _ = asbd.request("GET", BETA + "/sandboxclaims/" + sandbox.claim_name)
    assert status == 404
