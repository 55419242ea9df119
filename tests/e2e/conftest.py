"""Shared e2e fixtures: a real `asbd serve` on free loopback ports with a temp state dir.

    def test_x(asbd):
        asbd.kubeconfig      # DIR/kubeconfig (https server, CA data, token, router extension)
        asbd.api_url         # "https://127.0.0.1:PORT" (the same port also speaks plain HTTP)
        asbd.token
        asbd.kill9(); asbd.start()   # crash and restart on the same state dir

The binaries come from $ASB_BIN_DIR (default <repo>/build/bin).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("ASB_BIN_DIR", os.path.join(REPO, "build", "bin"))


class AsbdProcess:
    """One asbd daemon; start() waits until the kubeconfig is written and /healthz answers."""

    def __init__(self, state_dir, extra_args=()):
        self.bin = os.path.join(BIN_DIR, "asbd")
        self.state_dir = state_dir
        self.kubeconfig = os.path.join(state_dir, "kubeconfig")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(state_dir), "asbd.log")
        self.api_url = None
        self.plain_url = None
        self.router_url = None
        self.token = None

    def start(self, timeout=20):
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)  # so we wait for the one this process writes
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--state-dir", self.state_dir,
             "--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"] + self.extra_args,
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("asbd exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.log()))
            if os.path.exists(self.kubeconfig):
                try:
                    with open(self.kubeconfig) as f:
                        kc = json.load(f)
                    break
                except ValueError:
                    pass  # written atomically, but be tolerant
            time.sleep(0.02)
        else:
            raise AssertionError("asbd wrote no kubeconfig within %ss:\n%s" % (timeout, self.log()))
        cluster = kc["clusters"][0]["cluster"]
        self.api_url = cluster["server"]
        self.plain_url = self.api_url.replace("https://", "http://", 1)
        self.router_url = next((e["extension"]["server"] for e in cluster.get("extensions", [])
                                if e["name"] == "asb.dev/router"), None)
        self.token = kc["users"][0]["user"]["token"]
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.plain_url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("asbd /healthz did not answer:\n%s" % self.log())

    def request(self, method, path, body=None, content_type="application/json", token=True):
        """Plain-HTTP API request; returns (status, parsed JSON or text)."""
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        req = urllib.request.Request(self.plain_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return "(no log)"


@pytest.fixture
def asbd():
    binary = os.path.join(BIN_DIR, "asbd")
    if not os.access(binary, os.X_OK):
        pytest.skip("SKIPPED LOUDLY: %s is not built (set ASB_BIN_DIR or build target asbd)"
                    % binary)
    tmp = tempfile.mkdtemp(prefix="asb-e2e-")
    daemon = AsbdProcess(os.path.join(tmp, "state"))
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def kubectl(asbd, tmp_path):
    """Runs /usr/bin/kubectl against the fixture's daemon with a fresh discovery cache."""
    path = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not os.access(path, os.X_OK):
        pytest.skip("SKIPPED LOUDLY: kubectl is not installed; the kubectl e2e tests need it")
    cache = tmp_path / "kube-cache"

    def run(*args, check=True, input=None, timeout=60):
        cmd = [path, "--kubeconfig", asbd.kubeconfig, "--cache-dir", str(cache)] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    run.path = path
    run.cache = cache
    return run
