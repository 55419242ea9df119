"""Shared e2e fixtures: a real `asbd serve` on free loopback ports with a temp state dir.

    def test_x(asbd):
        asbd.kubeconfig      # DIR/kubeconfig (https server, CA data, token, router extension)
        asbd.api_url         # "https://127.0.0.1:PORT" (the same port also speaks plain HTTP)
        asbd.token
        asbd.kill9(); asbd.start()   # crash and restart on the same state dir

The binaries come from $ASB_BIN_DIR (default <repo>/build/bin).
"""

import ipaddress
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

    # Kinds that own sandboxes, deleted top-down so the controllers don't recreate what the node
    # tears down.
    _OWNERS = ("/apis/extensions.agents.x-k8s.io/v1alpha1/sandboxclaims",
               "/apis/extensions.agents.x-k8s.io/v1alpha1/sandboxwarmpools",
               "/apis/agents.x-k8s.io/v1alpha1/sandboxes",
               "/api/v1/pods")

    def delete_all_sandboxes(self, timeout=90):
        """Deletes every claim, pool, sandbox and pod, and waits until the node has torn every
        pod down (its finalizer goes only after the sandbox is stopped)."""
        for path in self._OWNERS:
            status, body = self.request("GET", path)
            assert status == 200, "list %s: %s %s" % (path, status, body)
            for item in body.get("items", []):
                meta = item["metadata"]
                if _is_mirror(item):
                    continue  # asbd's own components (mirror pods come back, like a kubelet's)
                base = path.rsplit("/", 1)
                item_path = "%s/namespaces/%s/%s/%s" % (base[0], meta["namespace"], base[1],
                                                         meta["name"])
                self.request("DELETE", item_path, {"propagationPolicy": "Background"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.request("GET", "/api/v1/pods")
            if status == 200 and not [i for i in body.get("items", []) if not _is_mirror(i)]:
                return
            time.sleep(0.1)
        raise AssertionError("pods still present %ss after deleting everything: %s\n%s" % (
            timeout, [i["metadata"]["name"] for i in body.get("items", [])], self.log()))

    def leftovers(self, cgroups_before=()):
        """Processes and mounts that still refer to this daemon's state dir, and sandbox cgroups
        that did not exist before (cgroups_before: a _sandbox_cgroups() snapshot)."""
        found = ["cgroup: " + c for c in sorted(_sandbox_cgroups() - set(cgroups_before))]
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == (self.proc.pid if self.proc else -1):
                continue
            if _refers_to(pid, self.state_dir):
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmd = "?"
                found.append("process %s: %s" % (pid, cmd[:160]))
        # asbd's pre-wired network namespaces (net/netns_pool.h) are its own, not a sandbox's:
        # they go when it stops (checked then).
        pool_dir = os.path.join(self.state_dir, "net", "pool") + "/"
        with open("/proc/self/mountinfo") as f:
            found += ["mount: " + line.split()[4] for line in f
                      if self.state_dir in line and pool_dir not in line]
        pool = _pool_veths(self.state_dir)
        found += ["veth: " + l for l in _sandbox_veths() if l not in pool]
        return found

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return "(no log)"


def _is_mirror(pod):
    """Mirror pods stand for asbd's in-process controller and router (cmd/asbd/mirror_pods.h)."""
    return "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})


def _sandbox_veths():
    """Host ends of sandbox veths (net/pod_network.h names them asbv<hex address>): every one
    goes with its sandbox."""
    return sorted(n for n in os.listdir("/sys/class/net") if n.startswith("asbv"))


def _pool_veths(state_dir):
    """Host ends of the veths of asbd's pre-wired namespaces: their addresses are held as
    "pool:<n>" in its IPAM file."""
    try:
        with open(os.path.join(state_dir, "net", "ipam.json")) as f:
            allocations = json.load(f).get("allocations", {})
    except (OSError, ValueError):
        return set()
    return {"asbv%08x" % int(ipaddress.ip_address(ip)) for key, ip in allocations.items()
            if key.startswith("pool:")}


def _pod_network_leftovers():
    """What the pod network leaves once asbd stopped with no sandbox: must be nothing (the
    bridge, its address and the nft table go with the last sandbox)."""
    found = ["link: " + n for n in os.listdir("/sys/class/net") if n == "asb0"]
    found += ["veth: " + n for n in _sandbox_veths()]
    if shutil.which("nft"):
        r = subprocess.run(["nft", "list", "table", "ip", "asb"], capture_output=True)
        if r.returncode == 0:
            found.append("nft table ip asb")
    return found


def _sandbox_cgroups():
    """Every per-sandbox cgroup directory (native: asb/<id>, gVisor: asb/runsc-<id>; BestEffort
    ones below asb-besteffort, Burstable ones next to asb as asb-burstable-<id>) in every
    hierarchy, v1 or v2."""
    found = set()
    root = "/sys/fs/cgroup"
    for top in [root] + [os.path.join(root, d) for d in os.listdir(root)]:
        for parent in (os.path.join(top, "asb"), os.path.join(top, "asb-besteffort")):
            if os.path.isdir(parent):
                found.update(os.path.join(parent, d) for d in os.listdir(parent)
                             if os.path.isdir(os.path.join(parent, d)))
        if os.path.isdir(top):
            found.update(os.path.join(top, d) for d in os.listdir(top)
                         if d.startswith("asb-burstable-") and os.path.isdir(os.path.join(top, d)))
    return found


def _refers_to(pid, state_dir):
    """True when process `pid` runs from state_dir: its command line or an open file names it
    (native sandbox shims show only "asb-init run" but hold their output log open)."""
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            if state_dir.encode() in f.read():
                return True
        for fd in os.listdir("/proc/%s/fd" % pid):
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith(state_dir):
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def _force_cleanup(state_dir):
    """Last resort after a failed test: kill what still runs from state_dir and unmount it, so
    one failure doesn't leak sandboxes into the rest of the run."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        if _refers_to(pid, state_dir):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if state_dir in line]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


@pytest.fixture
def asbd(request):
    """Extra `asbd serve` flags come from indirect parametrization, e.g.
    @pytest.mark.parametrize("asbd", [["--roles", "apiserver,node,router"]], indirect=True)."""
    binary = os.path.join(BIN_DIR, "asbd")
    if not os.access(binary, os.X_OK):
        pytest.skip("SKIPPED LOUDLY: %s is not built (set ASB_BIN_DIR or build target asbd)"
                    % binary)
    tmp = tempfile.mkdtemp(prefix="asb-e2e-")
    daemon = AsbdProcess(os.path.join(tmp, "state"), getattr(request, "param", None) or ())
    cgroups_before = _sandbox_cgroups()
    try:
        daemon.start()
        yield daemon
        # Teardown is part of the test: deleting everything must leave no sandbox process,
        # mount or cgroup behind on the host.
        if daemon.proc and daemon.proc.poll() is None:
            daemon.delete_all_sandboxes()
            deadline = time.monotonic() + 30
            while daemon.leftovers(cgroups_before) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = daemon.leftovers(cgroups_before)
            assert not left, "left behind after deleting every sandbox:\n%s" % "\n".join(left)
        clean_stop = daemon.proc and daemon.proc.poll() is None
        daemon.stop()
        if clean_stop:
            # The kernel destroys the pre-wired namespaces' veths asynchronously.
            deadline = time.monotonic() + 30
            while _pod_network_leftovers() and time.monotonic() < deadline:
                time.sleep(0.1)
            left = _pod_network_leftovers()
            assert not left, "left behind once asbd stopped:\n%s" % "\n".join(left)
    finally:
        daemon.stop()
        _force_cleanup(daemon.state_dir)
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
