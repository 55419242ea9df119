"""E2E: real `kubectl port-forward` against a real asbd, on both runtimes.

A sandbox pod of the seed's template serves asb-agent on 8888. kubectl forwards a local port to
it (to the pod, and to svc/sandbox-router-svc, which reaches the embedded router), and the test
moves a 10 MiB file through the tunnel, runs concurrent connections through one session, and
checks that a closed port is reported on the error stream. kubectl 1.32 tries its WebSocket
tunnel first and falls back to the SPDY upgrade; `-v=6` shows which one it used.
"""

import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
from waiting import wait_for

from conftest import REPO

SEED_DIR = os.path.join(REPO, "examples", "seed")
BIG = 10 * 1024 * 1024


def seed(name):
    with open(os.path.join(SEED_DIR, name)) as f:
        return f.read()


def start_pool(asbd, kubectl, tmp_path, runtime, replicas=1):
    """Applies the seed's template and pool (native: without runtimeClassName) and returns the
    name of a Running pool pod."""
    manifest = seed("sandbox-template-and-pool.yaml").replace(
        "replicas: 2", "replicas: %d" % replicas)
    if runtime == "native":
        manifest = manifest.replace("      runtimeClassName: gvisor\n", "")
    path = tmp_path / "pool.yaml"
    path.write_text(manifest)
    kubectl("apply", "-f", str(path))

    def running():
        status, body = asbd.request("GET", "/api/v1/namespaces/default/pods")
        names = [p["metadata"]["name"] for p in body.get("items", [])
                 if (p.get("status") or {}).get("phase") == "Running" and any(
                     c.get("type") == "Ready" and c.get("status") == "True"
                     for c in p["status"].get("conditions") or [])]
        return len(names) >= replicas, names
    return wait_for(running, "a Ready pool pod (%s)" % runtime, timeout=180)[0]


class PortForward:
    """`kubectl port-forward TARGET :REMOTE` in the background; .port is the local port."""

    def __init__(self, kubectl, target, remote, namespace="default", transport="websocket"):
        self.cmd = [kubectl.path, "--kubeconfig", kubectl.kubeconfig, "--cache-dir",
                    str(kubectl.cache), "-v=6", "-n", namespace, "port-forward", target,
                    ":%d" % remote]
        env = dict(os.environ)
        # kubectl 1.32 tunnels SPDY in WebSocket by default; this switch makes it use the
        # older SPDY/3.1 upgrade it falls back to against servers without the tunnel.
        env["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "true" if transport == "websocket" else "false"
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.port = None
        # "Forwarding from 127.0.0.1:PORT -> REMOTE" is printed once the listener is up.
        line = self.proc.stdout.readline()
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> %d" % remote, line)
        if not m:
            self.proc.kill()
            raise AssertionError("port-forward did not start: %r\n%s" % (
                line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def kube(kubectl, asbd):
    kubectl.kubeconfig = asbd.kubeconfig
    return kubectl


def upload_via_router(asbd, sandbox, name, data):
    """asb-agent's /upload through the router (multipart field `file`)."""
    boundary = uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name)).encode()
            + data + ("\r\n--%s--\r\n" % boundary).encode())
    req = urllib.request.Request(asbd.router_url + "/upload", data=body, method="POST")
    req.add_header("Content-Type", "multipart/form-data; boundary=" + boundary)
    req.add_header("Authorization", "Bearer " + asbd.token)
    req.add_header("X-Sandbox-ID", sandbox)
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200, r.read()


def get(port, path, timeout=60, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def sandbox_of(asbd, pod):
    _, body = asbd.request("GET", "/api/v1/namespaces/default/pods/" + pod)
    for ref in body["metadata"].get("ownerReferences") or []:
        if ref["kind"] == "Sandbox":
            return ref["name"]
    return pod


def assert_transport(err, transport):
    if transport == "websocket":
        assert re.search(r"GET \S+/portforward 101 Switching Protocols", err), err
        assert "negotiated protocol: portforward.k8s.io" in err, err
    else:
        assert re.search(r"POST \S+/portforward 101 Switching Protocols", err), err


@pytest.mark.parametrize("runtime,transport", [("native", "websocket"), ("native", "spdy"),
                                               ("gvisor", "websocket"), ("gvisor", "spdy")])
def test_port_forward_pod_big_download_concurrent_and_closed_port(asbd, kube, tmp_path,
                                                                  runtime, transport):
    pod = start_pool(asbd, kube, tmp_path, runtime)
    data = os.urandom(BIG)
    upload_via_router(asbd, sandbox_of(asbd, pod), "big.bin", data)

    pf = PortForward(kube, "pod/" + pod, 8888, transport=transport)
    try:
        status, body = get(pf.port, "/download/big.bin")
        assert status == 200
        assert len(body) == BIG and hashlib.sha256(body).digest() == hashlib.sha256(
            data).digest()

        # Many connections at once through one SPDY session, each with its own streams.
        def one(i):
            s, b = get(pf.port, "/")
            return s, json.loads(b)["status"]
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(one, range(48)))
        assert results == [(200, "ok")] * 48
        # And big transfers interleaved on the same session.
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            sizes = list(ex.map(lambda _: len(get(pf.port, "/download/big.bin")[1]), range(4)))
        assert sizes == [BIG] * 4
    finally:
        err = pf.stop()
    assert_transport(err, transport)

    # A port nothing listens on: kubectl reports the error stream's message for the connection.
    pf = PortForward(kube, "pod/" + pod, 9999, transport=transport)
    try:
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            get(pf.port, "/", timeout=20)
        pf.proc.wait(timeout=20)
    finally:
        err = pf.stop()
    assert "an error occurred forwarding" in err and "9999" in err, err
    assert "connection refused" in err.lower() or "refused" in err.lower(), err


def test_port_forward_refuses_pod_not_running_and_missing(asbd, kube):
    r = kube("port-forward", "pod/nope", ":8888", check=False, timeout=30)
    assert r.returncode != 0
    assert "not found" in r.stderr, r.stderr


def execute_via(port, sandbox, command, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        h = {"Content-Type": "application/json", "X-Sandbox-ID": sandbox,
             "X-Sandbox-Namespace": "default"}
        h.update(headers or {})
        conn.request("POST", "/execute", body=json.dumps({"command": command}), headers=h)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.mark.parametrize("runtime", ["native", "gvisor"])
def test_port_forward_service_reaches_embedded_router(asbd, kube, tmp_path, runtime):
    """kubectl resolves svc/sandbox-router-svc to a Running router pod (a mirror pod of asbd's
    embedded router) and its targetPort; requests through the tunnel need no router token."""
    pod = start_pool(asbd, kube, tmp_path, runtime)
    sandbox = sandbox_of(asbd, pod)
    data = os.urandom(BIG)
    upload_via_router(asbd, sandbox, "big.bin", data)
    kube("apply", "-f", os.path.join(SEED_DIR, "sandbox-router.yaml"))

    for namespace in ("default", "agent-sandbox-system"):
        pf = PortForward(kube, "svc/sandbox-router-svc", 8080, namespace=namespace)
        try:
            status, body = get(pf.port, "/healthz")
            assert status == 200 and json.loads(body) == {"status": "ok"}
            # No Authorization header: the tunnel was opened with the API token.
            status, result = execute_via(pf.port, sandbox, "echo through-the-tunnel")
            assert status == 200, result
            assert result["stdout"] == "through-the-tunnel\n" and result["exit_code"] == 0
            status, body = get(pf.port, "/download/big.bin", headers={"X-Sandbox-ID": sandbox})
            assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(
                data).digest()
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                outs = list(ex.map(
                    lambda i: execute_via(pf.port, sandbox, "echo %d" % i)[1]["stdout"],
                    range(24)))
            assert outs == ["%d\n" % i for i in range(24)]
        finally:
            err = pf.stop()
        assert_transport(err, "websocket")
        # kubectl picked a router mirror pod and the Service's targetPort.
        assert re.search(r"pods/sandbox-router-[a-z0-9-]+/portforward", err), err

    # The router itself still wants the token from anyone who connects directly.
    req = urllib.request.Request(asbd.router_url + "/execute", data=b"{}", method="POST")
    req.add_header("X-Sandbox-ID", sandbox)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401
