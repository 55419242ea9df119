"""E2E: the split topology on one machine, every role a process of its own speaking only the
Kubernetes REST protocol (docs/kube-mode.md):

    asbd serve --roles apiserver,scheduler      the API server (kube-apiserver's part) + scheduler
    asbd node  x2                               kubelets: node-a and node-b, own bridge/CIDR/cgroups
    asbd controller x2                          leader election on a Lease
    asbd router x2                              X-Sandbox-ID -> pod IP from a watch of Sandboxes

- both nodes register Ready Nodes with heartbeat Leases; the seed's manifests apply through
  kubectl, the pool's pods are scheduled over both nodes, the seed's test_sandbox.py passes
  through a router; kubectl exec reaches a pod on a node process (API server -> node stream
  port);
- kill -9 of the leading controller mid-burst of claims: the standby takes the Lease within the
  lease time, every claim ends Ready with a pod of its own, pods on both nodes;
- kill -9 of one router: a client on the other keeps working;
- teardown: every pod gone, then no sandbox process, mount, veth or cgroup of either node left,
  and once the nodes stop, no bridge or nft table.
"""

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import BIN_DIR, REPO, _refers_to, _sandbox_veths
from waiting import wait_for

from oci_images import BUSYBOX_LINKS, Registry, build_image
from test_kubectl_exec import base_cmd, wait_line

from agentic_sandbox import SandboxClient  # noqa: E402

SEED_DIR = os.path.join(REPO, "examples", "seed")
HELLO = "Hello from the sandboxed environment!"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/a3317529.agent-sandbox.x-k8s.io"
CLAIMS = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxclaims"
SANDBOXES = "/apis/agents.x-k8s.io/v1alpha1/namespaces/default/sandboxes"
PODS = "/api/v1/namespaces/default/pods"
LEASE_SECONDS = 4  # short, so the takeover is quick to test; production keeps client-go's 15

TOPOLOGY = pytest.mark.parametrize("asbd", [["--roles", "apiserver,scheduler"]], indirect=True)

# Each node: its own bridge, CIDR, nft table and cgroup parent (none of them the embedded
# defaults, so the fixture's own checks of asb0 / table asb / asb cgroups stay meaningful).
NODES = [
    {"name": "node-a", "cidr": "10.246.0.0/24", "bridge": "asbsplit0", "table": "asb_split0",
     "cgroup": "/asb-split0"},
    {"name": "node-b", "cidr": "10.246.1.0/24", "bridge": "asbsplit1", "table": "asb_split1",
     "cgroup": "/asb-split1"},
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """One asbd subcommand process, its output in a log file of its own."""

    def __init__(self, name, args, tmp):
        self.name = name
        self.log_path = os.path.join(tmp, "%s.log" % name)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(BIN_DIR, "asbd")] + args,
                                     stdout=log, stderr=log)
        log.close()

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return "--- %s ---\n%s" % (self.name, f.read()[-3000:])

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout=30):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()


def _get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


class Topology:
    def __init__(self, asbd, tmp):
        self.asbd = asbd
        self.tmp = tmp
        self.nodes, self.controllers, self.routers = [], [], []
        for n in NODES:
            n = dict(n, state=os.path.join(tmp, n["name"]))
            n["proc"] = Proc(n["name"], [
                "node", "--kubeconfig", asbd.kubeconfig, "--node-name", n["name"],
                "--state-dir", n["state"], "--listen", "127.0.0.1:0",
                "--pod-cidr", n["cidr"], "--pod-bridge", n["bridge"],
                "--pod-nft-table", n["table"], "--cgroup-parent", n["cgroup"]], tmp)
            self.nodes.append(n)
        for identity in ("ctl-a", "ctl-b"):
            port = _free_port()
            p = Proc(identity, [
                "controller", "--kubeconfig", asbd.kubeconfig, "--listen", "127.0.0.1:%d" % port,
                "--identity", identity, "--leader-elect-lease-duration", str(LEASE_SECONDS),
                "--leader-elect-renew-deadline", "3", "--leader-elect-retry-period", "0.5"], tmp)
            p.identity, p.url = identity, "http://127.0.0.1:%d" % port
            self.controllers.append(p)
        for name in ("router-a", "router-b"):
            port = _free_port()
            p = Proc(name, ["router", "--kubeconfig", asbd.kubeconfig,
                            "--listen", "127.0.0.1:%d" % port], tmp)
            p.url = "http://127.0.0.1:%d" % port
            self.routers.append(p)

    def procs(self):
        return [n["proc"] for n in self.nodes] + self.controllers + self.routers

    def logs(self):
        return "\n".join(p.log() for p in self.procs()) + "\n" + self.asbd.log()

    def leftovers(self):
        """Sandbox processes, mounts and veths of either node while the nodes still run (their
        pre-wired namespaces aside)."""
        found = []
        pids = {str(n["proc"].proc.pid) for n in self.nodes}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and pid not in pids:
                for n in self.nodes:
                    if _refers_to(pid, n["state"]):
                        found.append("process %s of %s" % (pid, n["name"]))
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for n in self.nodes:
            pool = os.path.join(n["state"], "net", "pool") + "/"
            found += ["mount: " + m for m in mounts if n["state"] in m and pool not in m]
        found += ["cgroup: " + c for c in _cgroups_below([n["cgroup"] for n in self.nodes])]
        return found

    def stop(self):
        for p in self.routers + self.controllers + [n["proc"] for n in self.nodes]:
            p.stop()


def _cgroups_below(parents):
    found = []
    root = "/sys/fs/cgroup"
    for top in [root] + [os.path.join(root, d) for d in os.listdir(root)]:
        for parent in parents:
            for p in (top + parent, top + parent + "-besteffort"):
                if os.path.isdir(p):
                    found += [os.path.join(p, d) for d in os.listdir(p)
                              if os.path.isdir(os.path.join(p, d))]
    return found


def _remove_cgroup_parents(parents):
    root = "/sys/fs/cgroup"
    for top in [root] + [os.path.join(root, d) for d in os.listdir(root)]:
        for parent in parents:
            for p in (top + parent, top + parent + "-besteffort"):
                if os.path.isdir(p):
                    try:
                        os.rmdir(p)
                    except OSError:
                        pass


def _network_leftovers():
    found = ["link: " + n["bridge"] for n in NODES
             if os.path.exists("/sys/class/net/" + n["bridge"])]
    # Host ends are named asbv<hex address> (net/pod_network.h): ours are in 10.246.0.0/23.
    found += ["veth: " + v for v in _sandbox_veths() if v.startswith(("asbv0af600", "asbv0af601"))]
    if shutil.which("nft"):
        for n in NODES:
            if subprocess.run(["nft", "list", "table", "ip", n["table"]],
                              capture_output=True).returncode == 0:
                found.append("nft table ip " + n["table"])
    return found


@pytest.fixture
def topology(asbd, tmp_path):
    topo = Topology(asbd, str(tmp_path))
    try:
        yield topo
        # Teardown is part of the test: everything deleted while the nodes run, then nothing of
        # theirs left on the host.
        asbd.delete_all_sandboxes()
        deadline = time.monotonic() + 30
        while topo.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = topo.leftovers()
        assert not left, "left behind after deleting every sandbox:\n%s" % "\n".join(left)
        topo.stop()
        for n in topo.nodes:
            assert n["proc"].proc.returncode == 0, n["proc"].log()
        deadline = time.monotonic() + 30
        while _network_leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _network_leftovers()
        assert not left, "left behind once the nodes stopped:\n%s" % "\n".join(left)
    finally:
        topo.stop()
        _remove_cgroup_parents([n["cgroup"] for n in NODES])


def _native_manifest(replicas):
    with open(os.path.join(SEED_DIR, "sandbox-template-and-pool.yaml")) as f:
        text = f.read()
    return text.replace("      runtimeClassName: gvisor\n", "").replace(
        "replicas: 2", "replicas: %d" % replicas)


def _ready(obj):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _holder(asbd):
    status, body = asbd.request("GET", LEASE)
    return body["spec"].get("holderIdentity") if status == 200 else None


def _pod_nodes(asbd):
    status, body = asbd.request("GET", PODS)
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "")
            for p in body.get("items", [])
            if not p["metadata"].get("deletionTimestamp")} if status == 200 else {}


def _wait_nodes_ready(asbd):
    def nodes_ready():
        status, body = asbd.request("GET", "/api/v1/nodes")
        ready = sorted(n["metadata"]["name"] for n in body.get("items", []) if _ready(n))
        return ready == ["node-a", "node-b"], ready
    wait_for(nodes_ready, "both nodes Ready", timeout=60)


@TOPOLOGY
def test_split_topology(asbd, kubectl, topology):
    topo = topology
    try:
        _run(asbd, kubectl, topo)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, topo.logs())) from None


def _run(asbd, kubectl, topo):
    # The API server process runs neither controllers nor a node.
    with open(asbd.log_path, errors="replace") as f:
        text = f.read()
    assert "controllers started" not in text and "scheduler started" in text

    # Both nodes register, Ready, with heartbeat Leases in kube-node-lease.
    _wait_nodes_ready(asbd)
    for n in NODES:
        status, lease = asbd.request(
            "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + n["name"])
        assert status == 200 and lease["spec"]["holderIdentity"] == n["name"], lease
    out = kubectl("get", "nodes").stdout
    assert "node-a" in out and "node-b" in out, out
    for r in topo.routers:
        wait_for(lambda r=r: _get(r.url + "/healthz")[0] == 200, r.name + " /healthz", timeout=20)

    # The seed's template and pool: the pool's pods go to both nodes (least allocated first).
    kubectl("apply", "-f", "-", input=_native_manifest(replicas=2))

    def pool_ready():
        status, body = asbd.request("GET", SANDBOXES)
        ready = [i["metadata"]["name"] for i in body.get("items", []) if _ready(i)]
        return len(ready) >= 2, ready
    wait_for(pool_ready, "the pool to fill on the node processes", timeout=120)
    placed = _pod_nodes(asbd)
    assert sorted(placed.values()) == ["node-a", "node-b"], placed

    # The seed's script, unchanged, through router A.
    env = dict(os.environ, ASB_KUBECONFIG=asbd.kubeconfig, ASB_ROUTER_URL=topo.routers[0].url)
    r = subprocess.run([sys.executable, os.path.join(SEED_DIR, "test_sandbox.py")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, "test_sandbox.py failed:\n%s\n%s" % (r.stdout, r.stderr)
    assert r.stdout.strip() == HELLO

    # kubectl exec into a pod on node-b: the API server relays through node-b's stream port.
    # The pod is bound to node-b by its spec (as a DaemonSet's are): after the seed's claim the
    # pool's refill may land on either node, so a pool member there is not guaranteed.
    pod_b = "exec-target-b"
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_b, "namespace": "default"},
        "spec": {"nodeName": "node-b", "containers": [{
            "name": "main", "image": "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0",
            "readinessProbe": {"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1}}]}}))

    def ready_on_b():
        status, body = asbd.request("GET", PODS + "/" + pod_b)
        return status == 200 and _ready(body), body.get("status")
    wait_for(ready_on_b, "the pod bound to node-b to be Ready", timeout=60)
    out = kubectl("exec", pod_b, "--", "sh", "-c", "echo exec-on-$(hostname)").stdout
    assert out.strip() == "exec-on-" + pod_b, out
    kubectl("delete", "pod", pod_b, "--wait=true", timeout=60)

    # kill -9 of the leading controller in the middle of a burst of claims.
    leader_name = wait_for(lambda: _holder(asbd), "a Lease holder", timeout=15)
    leader = next(c for c in topo.controllers if c.identity == leader_name)
    standby = next(c for c in topo.controllers if c is not leader)
    names = ["burst-%d" % i for i in range(8)]

    def create(name):
        status, body = asbd.request("POST", CLAIMS, {
            "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxClaim",
            "metadata": {"name": name},
            "spec": {"sandboxTemplateRef": {"name": "python-runtime-template"}}})
        assert status == 201, body

    for name in names[:4]:
        create(name)
    leader.kill9()
    killed_at = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(create, names[4:]))
    wait_for(lambda: _holder(asbd) == standby.identity, "the standby to take the Lease",
             timeout=LEASE_SECONDS + 6)
    took = time.monotonic() - killed_at
    print("standby took the Lease %.2fs after kill -9 (lease %ds)" % (took, LEASE_SECONDS))
    assert took <= LEASE_SECONDS + 3, "takeover took %.1fs" % took

    def all_ready():
        status, body = asbd.request("GET", CLAIMS)
        ready = sorted(c["metadata"]["name"] for c in body.get("items", [])
                       if c["metadata"]["name"] in names and _ready(c))
        return ready == sorted(names), ready
    wait_for(all_ready, "every claim Ready after the takeover", timeout=120)
    print("all %d claims Ready %.2fs after kill -9" % (len(names), time.monotonic() - killed_at))

    # None served twice: each claim's Sandbox controls a pod of its own, on one of the nodes.
    pods = {}
    placed = _pod_nodes(asbd)
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
        assert placed.get(pod_name) in ("node-a", "node-b"), (pod_name, placed)
    shared = {p: c for p, c in pods.items() if len(c) > 1}
    assert not shared, "pods serving several claims: %s" % shared
    assert {placed[p] for p in pods} == {"node-a", "node-b"}, placed

    # kill -9 of router A: a client on router B keeps working, before and after.
    router_a, router_b = topo.routers
    with SandboxClient("python-runtime-template", kubeconfig=asbd.kubeconfig,
                       router_url=router_b.url) as sb:
        assert sb.run("echo before").stdout.strip() == "before"
        router_a.kill9()
        assert _get(router_a.url + "/healthz")[0] == 0
        for i in range(5):
            assert sb.run("echo after-%d" % i).stdout.strip() == "after-%d" % i
    assert router_b.alive()


def _asbctl(asbd, *args, check=True):
    r = subprocess.run([os.path.join(BIN_DIR, "asbctl"), "--kubeconfig", asbd.kubeconfig]
                       + list(args), capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, "asbctl %s: %d\n%s%s" % (args, r.returncode, r.stdout, r.stderr)
    return r


def _image_names(asbd, node):
    out = _asbctl(asbd, "image", "ls", "-o", "json", "--node", node).stdout
    return {n for i in json.loads(out)["items"] for n in i["names"]}


def _pod_on(node, name, **container):
    c = {"name": "main", "image": "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"}
    c.update(container)
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": "default"},
                       "spec": {"nodeName": node, "containers": [c]}})


@TOPOLOGY
def test_logs_and_images_of_node_processes(asbd, kubectl, topology, tmp_path):
    """kubectl logs of pods on `asbd node` processes (the API server proxies pods/log to the
    node's /containerLogs) and `asbctl image --node` (nodes/proxy to the node's image API)."""
    try:
        _wait_nodes_ready(asbd)
        _logs(asbd, kubectl)
        _images(asbd, kubectl, topology, tmp_path)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, topology.logs())) from None


def _logs(asbd, kubectl):
    pod = "logs-b"
    kubectl("apply", "-f", "-", input=_pod_on(
        "node-b", pod, readinessProbe={"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1}))

    def ready():
        status, body = asbd.request("GET", PODS + "/" + pod)
        return status == 200 and _ready(body), body.get("status")
    wait_for(ready, "the pod bound to node-b to be Ready", timeout=60)
    # The API server process has no node: every line below came from node-b's state dir.
    assert "asb-agent listening" in kubectl("logs", pod).stdout
    assert len(kubectl("logs", pod, "--tail=1").stdout.splitlines()) == 1
    stamp = kubectl("logs", pod, "--tail=1", "--timestamps").stdout.split(" ", 1)[0]
    assert stamp[:2] == "20" and stamp.endswith("Z"), stamp
    assert "asb-agent listening" in kubectl("logs", pod, "--since=1h").stdout
    assert kubectl("logs", pod, "--since-time=2200-01-01T00:00:00Z").stdout == ""
    assert len(kubectl("logs", pod, "--limit-bytes=10").stdout) == 10
    # Errors as a kube-apiserver gives them: the API server's own checks, then the node's.
    r = kubectl("logs", "no-such-pod", check=False)
    assert r.returncode != 0 and 'pods "no-such-pod" not found' in r.stderr, r.stderr
    r = kubectl("logs", pod, "-c", "nope", check=False)
    assert "container nope is not valid for pod " + pod in r.stderr, r.stderr
    r = kubectl("logs", pod, "--previous", check=False)
    assert 'previous terminated container "main" in pod "%s" not found' % pod in r.stderr, r.stderr
    status, body = asbd.request("GET", PODS + "/" + pod + "/log?tailLines=-1")
    assert status == 400 and "tailLines" in body["message"], body

    # -f through the proxy: the readiness probe logs a line a second; an exec adds one.
    follow = subprocess.Popen(base_cmd(asbd, kubectl) + ["logs", "-f", "--tail=0", pod],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(follow, "path=/ status=200")
        kubectl("exec", pod, "--", "true")
        wait_line(follow, "path=/v1/remotecommand")
    finally:
        follow.kill()
        follow.wait()

    # --previous after a restart: the node keeps the exited container's output.
    kubectl("exec", pod, "--", "python3", "-c",
            "import urllib.request as u\ntry: u.urlopen('http://127.0.0.1:8888/marker-before')"
            "\nexcept Exception: pass")
    wait_for(lambda: "marker-before" in kubectl("logs", pod).stdout, "the marker in the output")
    kubectl("exec", pod, "--", "kill", "1", check=False)

    def restarted():
        status, body = asbd.request("GET", PODS + "/" + pod)
        cs = ((body.get("status") or {}).get("containerStatuses") or [{}])[0]
        return cs.get("restartCount", 0) >= 1 and _ready(body), cs
    wait_for(restarted, "the container restarted and Ready", timeout=40)
    assert "marker-before" in kubectl("logs", pod, "--previous").stdout
    assert "marker-before" not in kubectl("logs", pod).stdout
    kubectl("delete", "pod", pod, "--wait=true", timeout=60)

    # A pod bound to a node that does not answer: 503 naming the node.
    dead_port = _free_port()
    gone = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-gone"},
            "spec": {"unschedulable": True},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": dead_port}}}}
    status, body = asbd.request("POST", "/api/v1/nodes", gone)
    assert status == 201, body
    if "daemonEndpoints" not in (body.get("status") or {}):  # status is set by its subresource
        status, body = asbd.request("PUT", "/api/v1/nodes/node-gone/status",
                                    dict(gone, metadata=body["metadata"]))
        assert status == 200 and "daemonEndpoints" in body["status"], body
    kubectl("apply", "-f", "-", input=_pod_on("node-gone", "stranded"))
    try:
        r = kubectl("logs", "stranded", check=False)
        assert r.returncode != 0, r.stdout
        assert "ServiceUnavailable" in r.stderr and "node node-gone" in r.stderr, r.stderr
        assert "unreachable" in r.stderr, r.stderr
        r = _asbctl(asbd, "image", "ls", "--node", "node-gone", check=False)
        assert r.returncode != 0 and "node node-gone" in r.stderr, r.stderr
    finally:
        kubectl("delete", "pod", "stranded", "--grace-period=0", "--force", check=False)
        asbd.request("DELETE", "/api/v1/nodes/node-gone")


def _images(asbd, kubectl, topo, tmp_path):
    layout = str(tmp_path / "layout")
    build_image(layout, "1", dict(BUSYBOX_LINKS, **{"/etc/passwd": "root:x:0:0::/:/bin/sh\n",
                                                     "/marker": "imported-on-node-b\n"}),
                ["--config.cmd", "sh"])
    # import (chunked uploads through the proxy) into node-b's cache only.
    out = _asbctl(asbd, "image", "import", layout, "--name", "registry.test/split/b:1",
                  "--node", "node-b").stdout
    assert "imported registry.test/split/b:1: sha256:" in out, out
    # pull from a registry into node-a's cache only.
    (tmp_path / "registry").mkdir()
    reg = Registry(str(tmp_path / "registry"))
    try:
        ref = reg.push(layout, "1", "split/a:1")
        out = _asbctl(asbd, "image", "pull", ref, "--node", "node-a").stdout
        assert ref in out, out
    finally:
        reg.stop()
    assert _image_names(asbd, "node-b") == {"registry.test/split/b:1"}
    assert _image_names(asbd, "node-a") == {ref}
    table = _asbctl(asbd, "image", "ls", "--node", "node-b").stdout
    assert table.splitlines()[0].split()[:2] == ["NAME", "DIGEST"], table
    for n in topo.nodes:  # each in its own node's state dir
        index = os.path.join(n["state"], "images", "oci")
        assert os.path.isdir(index), index

    # A pod of the imported image on node-b (air-gapped: Never pull); its output through the
    # logs proxy; while it runs node-b refuses to remove the image.
    kubectl("apply", "-f", "-", input=_pod_on(
        "node-b", "user-b", image="registry.test/split/b:1", imagePullPolicy="Never",
        command=["/bin/sh", "-c", "cat /marker; sleep 600"]))
    wait_for(lambda: "imported-on-node-b" in kubectl("logs", "user-b", check=False).stdout,
             "the imported image's pod on node-b", timeout=60)
    r = _asbctl(asbd, "image", "rm", "registry.test/split/b:1", "--node", "node-b", check=False)
    assert r.returncode == 1 and "in use" in r.stderr, r.stderr
    kubectl("delete", "pod", "user-b", "--wait=true", timeout=60)
    _asbctl(asbd, "image", "rm", "registry.test/split/b:1", "--node", "node-b")
    assert _image_names(asbd, "node-b") == set()
    out = _asbctl(asbd, "image", "prune", "--node", "node-a").stdout
    assert "removed" in out and _image_names(asbd, "node-a") == set(), out
    r = _asbctl(asbd, "image", "ls", "--node", "no-such-node", check=False)
    assert r.returncode == 1 and 'nodes "no-such-node" not found' in r.stderr, r.stderr
    # Without --node: the API server process has no image cache of its own.
    r = _asbctl(asbd, "image", "ls", check=False)
    assert r.returncode == 1, r.stdout


VOLUME_SANDBOX = """apiVersion: agents.x-k8s.io/v1beta1
kind: Sandbox
metadata: {name: vol-split, namespace: default}
spec:
  operatingMode: %s
  podTemplate:
    spec:
      restartPolicy: Always
      containers:
      - name: main
        image: registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0
        readinessProbe:
          httpGet: {path: "/", port: 8888}
          periodSeconds: 1
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
"""


@TOPOLOGY
def test_volumes_wait_for_their_first_consumer(asbd, kubectl, topology):
    """Node-local PersistentVolumes in the split topology: WaitForFirstConsumer."""
    try:
        _wait_nodes_ready(asbd)
        _volumes(asbd, kubectl, topology)
    except (AssertionError, subprocess.TimeoutExpired) as e:
        objects = kubectl("get", "pvc,pv,pods,sandboxes", "-o", "yaml", check=False).stdout
        raise AssertionError("%s\n%s\n%s" % (e, objects[-6000:], topology.logs())) from None


def _volumes(asbd, kubectl, topo):
    def get(*args):
        return json.loads(kubectl("get", "-o", "json", *args).stdout)

    kubectl("apply", "-f", "-", input=VOLUME_SANDBOX % "Running")
    kubectl("wait", "--for=condition=Ready", "sandbox/vol-split", "--timeout=90s", timeout=100)
    node = get("pod", "vol-split")["spec"]["nodeName"]
    other = next(n for n in topo.nodes if n["name"] != node)
    here = next(n for n in topo.nodes if n["name"] == node)
    assert "WaitForFirstConsumer" in kubectl("get", "storageclass").stdout

    # Provisioned once, by the node the pod was bound to, and pinned there.
    pvc = get("pvc", "data-vol-split")
    assert pvc["status"]["phase"] == "Bound", pvc["status"]
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node, pvc
    pvs = get("pv")["items"]
    assert [p["metadata"]["name"] for p in pvs] == [pvc["spec"]["volumeName"]], pvs
    pv = pvs[0]
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}, pv
    assert pv["spec"]["local"]["path"].startswith(here["state"] + "/"), pv
    image = os.path.join(here["state"], "volumes", pv["metadata"]["name"], "image")
    assert os.path.isfile(image), image
    assert not os.path.exists(os.path.join(other["state"], "volumes", pv["metadata"]["name"]))

    kubectl("exec", "vol-split", "--", "sh", "-c", "echo kept-on-" + node + " > /data/note && sync")

    # A new pod (suspend, resume) goes where its volume is, although the scheduler would
    # otherwise prefer the other node: a pod requesting a cpu now runs on this one.
    kubectl("apply", "-f", "-", input=VOLUME_SANDBOX % "Suspended")
    wait_for(lambda: "vol-split" not in _pod_nodes(asbd), "the suspended sandbox's pod gone",
             timeout=60)
    kubectl("apply", "-f", "-", input=_pod_on(node, "weight", resources={
        "requests": {"cpu": "1"}}))
    kubectl("wait", "--for=condition=Ready", "pod/weight", "--timeout=60s")
    kubectl("apply", "-f", "-", input=VOLUME_SANDBOX % "Running")
    kubectl("wait", "--for=condition=Ready", "sandbox/vol-split", "--timeout=90s", timeout=100)
    assert get("pod", "vol-split")["spec"]["nodeName"] == node
    assert kubectl("exec", "vol-split", "--", "cat", "/data/note").stdout == "kept-on-%s\n" % node
    assert [p["metadata"]["name"] for p in get("pv")["items"]] == [pv["metadata"]["name"]]

    # Without the volume the same pod goes to the other node (the preference is real).
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "free", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image":
                                 "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"}]}}))
    wait_for(lambda: _pod_nodes(asbd).get("free"), "the free pod scheduled", timeout=30)
    assert _pod_nodes(asbd)["free"] == other["name"]
    kubectl("delete", "pod", "free", "weight", "--wait=true", timeout=60)

    # Deleting the Sandbox deletes the claim, the volume and its image on its node.
    kubectl("delete", "sandbox", "vol-split", "--wait=true", "--timeout=60s")

    def gone():
        left = [i["metadata"]["name"] for i in get("pvc")["items"] + get("pv")["items"]]
        return not left and not os.path.exists(image), left
    wait_for(gone, "the claim, volume and image deleted", timeout=60)
