#!/usr/bin/env python3
"""The controller at scale on asbd's API server, with a simulated node (docs/scale.md).

Starts `asbd serve --simulate` on a temp state dir (sandboxes are records that are Ready at once,
as kwok's pods are for upstream's benchmarks: nothing runs, so what is measured is the API server,
the store and the controllers), applies the seed's SandboxTemplate and POOLS warm pools of MEMBERS
each, waits until all of them are Ready (the fill), then claims with the Python client the way a
user does (`with SandboxClient(warmpool=...)`: create the claim, watch it to Ready, delete it on
exit) from CLIENTS processes over the kubeconfig's TLS:
  fixed rate    CLAIMS claims offered at RATE/s (open loop: each starts at its slot)
  max rate      CLAIMS claims, each client process claiming back to back
and prints, per phase: claims/s, warm claim -> Ready p50/p99 (the `with` line), how many were
served from the pool (warm), asbd's RSS (and the controller process's in --controller separate),
API requests per claim from the API server's /metrics (apiserver_request_total deltas, by verb
and resource), and the CPU seconds of asbd, the controller and the clients (to tell which one
limits the max rate). With --baseline it first runs the same with 10 pools x 10 members, and
prints the ratios big/baseline.

The client's router connection is left out (simulated sandboxes serve nothing, and the `with`
entry no longer waits on the router): what is timed is the claim's create -> watch -> Ready.
The client is Python on the same two cores as asbd; each phase prints the clients' CPU seconds
beside asbd's, so a max rate limited by the clients shows as such.

    python3 bench/scale_bench.py [--pools 100 --members 100] [--claims 2000] [--rate 45]
        [--clients 8] [--controller embedded|separate] [--baseline] [--bin build/bin] [--json F]
    python3 bench/scale_bench.py --ci      # 10 pools x 100 (1,000 sandboxes), bounded, < 2 min

--controller separate runs `asbd serve --roles apiserver,node,router --simulate` and
`asbd controller --kubeconfig ...` as its own process: every request the controller makes is
then an API request (embedded, the controller works on the store in-process and only the
clients' requests reach the API).

Needs no root (nothing runs); run it under the shared sandbox lock all the same (it starts asbd).
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python", "src"))

from agentic_sandbox import SandboxClient, wait_for_cleanup  # noqa: E402
from agentic_sandbox import _http  # noqa: E402
from agentic_sandbox.kubeconfig import load_config  # noqa: E402

NS = "default"
EXT = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/" + NS
TEMPLATE = "python-runtime-template"


class SimulatedClaim(SandboxClient):
    """SandboxClient's `with` without a router connection (simulated sandboxes serve nothing)."""

    def _connect_api(self):
        super()._connect_api()
        self._router = None  # _Prepare would otherwise open a router connection for nothing

    def _connect_router(self):
        pass


# ---- the daemon -------------------------------------------------------------------------------

class Asbd:
    """asbd serve --simulate (and with --controller separate, an asbd controller beside it)."""

    def __init__(self, bin_dir, separate, simulate=True):
        self.tmp = tempfile.mkdtemp(prefix="asb-scale-")
        self.state = os.path.join(self.tmp, "state")
        self.kubeconfig = os.path.join(self.state, "kubeconfig")
        self.log = open(os.path.join(self.tmp, "asbd.log"), "wb")
        self.simulate = simulate
        asbd = os.path.join(bin_dir, "asbd")
        argv = [asbd, "serve"] + (["--simulate"] if simulate else []) + [
            "--state-dir", self.state,
            "--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"]
        if separate:
            argv += ["--roles", "apiserver,node,router"]
        self.daemon = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        self.controller = None
        try:
            self._wait(lambda: os.path.exists(self.kubeconfig), "asbd did not write its kubeconfig")
            if separate:
                self.controller_metrics = "127.0.0.1:%d" % free_port()
                self.controller = subprocess.Popen(
                    [asbd, "controller", "--kubeconfig", self.kubeconfig, "--listen",
                     self.controller_metrics, "--leader-elect=false", "--kube-api-qps", "0"],
                    stdout=self.log, stderr=self.log)
            self.config = load_config(self.kubeconfig)
            self.api = _http.Endpoint(self.config.server, self.config.token, "API server",
                                      self.config.path, ca_data=self.config.ca_data)
        except BaseException:
            self.close()
            raise

    def _wait(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise SystemExit("%s; see %s" % (what, self.log.name))
            time.sleep(0.02)

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        status, _, out = self.api.request(method, path, body=data,
                                          headers={"Content-Type": "application/json"})
        if status >= 300:
            raise SystemExit("%s %s: HTTP %d: %s" % (method, path, status, out[:300]))
        return json.loads(out) if out[:1] == b"{" else out

    def metrics(self):
        """The API server's /metrics, and the controller's when it is a process of its own."""
        text = self.request("GET", "/metrics").decode()
        if self.controller is not None:
            ep = _http.Endpoint("http://" + self.controller_metrics, None, "controller",
                                self.config.path)
            status, _, out = ep.request("GET", "/metrics")
            ep.close()
            if status != 200:
                raise SystemExit("controller /metrics: HTTP %d" % status)
            text += "\n" + out.decode()
        return parse_metrics(text)

    def delete_everything(self, timeout):
        """Real sandboxes outlive asbd (a restarted node adopts them): the pools go first, and
        asbd stops only once its node has torn every pod down. Returns the seconds it took."""
        t0 = time.monotonic()
        for kind in ("sandboxwarmpools", "sandboxclaims", "sandboxtemplates"):
            for item in self.request("GET", EXT + "/" + kind)["items"]:
                self.request("DELETE", EXT + "/%s/%s" % (kind, item["metadata"]["name"]),
                             {"propagationPolicy": "Background"})
        while time.monotonic() - t0 < timeout:
            pods = [p for p in self.request("GET", "/api/v1/pods")["items"]
                    if "kubernetes.io/config.mirror" not in
                    (p["metadata"].get("annotations") or {})]
            if not pods:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise SystemExit("%d pods still present %ds after deleting the pools; see %s"
                         % (len(pods), timeout, self.log.name))

    def close(self):
        for p in (self.controller, self.daemon):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (self.controller, self.daemon):
            if p is not None:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.log.close()
        if os.environ.get("ASB_SCALE_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def dir_mib(path):
    """Bytes on disk under path (the SQLite store and its WAL), in MiB."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total / (1 << 20)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


METRIC = re.compile(r'^(\w+)\{(.*)\} ([0-9.e+-]+)$')


def parse_metrics(text):
    """The series the bench reads, summed:
    ("api", verb, resource) -> apiserver_request_total (WATCH counts the watches opened),
    ("claims", launch_type) -> agent_sandbox_claim_startup_latency_ms_count (warm or cold), and
    ("reads", source) -> asb_kube_client_reads (a separate controller's reads: cache, live, ...)."""
    out = {}
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if m.group(1) == "apiserver_request_total":
            key = ("api", labels.get("verb", ""), labels.get("resource", "") +
                   ("/" + labels["subresource"] if labels.get("subresource") else ""))
        elif m.group(1) == "agent_sandbox_claim_startup_latency_ms_count":
            key = ("claims", labels.get("launch_type", ""))
        elif m.group(1) == "asb_kube_client_reads":
            key = ("reads", labels.get("source", ""))
        else:
            continue
        out[key] = out.get(key, 0) + float(m.group(3))
    return out


# ---- setup --------------------------------------------------------------------------------------

def template_body(runtime="gvisor"):
    # The seed's template (examples/seed/sandbox-template-and-pool.yaml) as a user applies it
    # (native: without its runtimeClassName, as the seed guide's native variant).
    body = {
        "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxTemplate",
        "metadata": {"name": TEMPLATE, "namespace": NS},
        "spec": {"podTemplate": {
            "metadata": {"labels": {"sandbox": "python-sandbox-example"}},
            "spec": {"runtimeClassName": "gvisor", "restartPolicy": "OnFailure", "containers": [{
                "name": "python-runtime",
                "image": "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0",
                "ports": [{"containerPort": 8888}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8888},
                                   "initialDelaySeconds": 0, "periodSeconds": 1},
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi",
                                           "ephemeral-storage": "512Mi"}}}]}}}}
    if runtime == "native":
        del body["spec"]["podTemplate"]["spec"]["runtimeClassName"]
    return body


def fill(asbd, pools, members, timeout, runtime="gvisor", progress=None):
    """Creates the template and the pools; returns seconds until every member is Ready.
    progress: called with (seconds, ready) about once a second while filling."""
    asbd.request("POST", EXT + "/sandboxtemplates", template_body(runtime))
    t0 = time.monotonic()
    for i in range(pools):
        asbd.request("POST", EXT + "/sandboxwarmpools", {
            "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxWarmPool",
            "metadata": {"name": "pool-%d" % i, "namespace": NS},
            "spec": {"replicas": members, "sandboxTemplateRef": {"name": TEMPLATE}}})
    want = pools * members
    last = 0.0
    while True:
        ready = pool_ready(asbd)
        if ready >= want:
            return time.monotonic() - t0
        if progress and time.monotonic() - last >= 1:
            last = time.monotonic()
            progress(last - t0, ready)
        if time.monotonic() - t0 > timeout:
            raise SystemExit("fill: %d of %d pool members Ready after %ds (%s); see %s"
                             % (ready, want, timeout, unready_pods(asbd), asbd.log.name))
        time.sleep(0.2)


def unready_pods(asbd, limit=5):
    """A few pods that are not Ready, with what their status says, for a fill that timed out."""
    out = []
    for pod in asbd.request("GET", "/api/v1/pods")["items"]:
        st = pod.get("status") or {}
        cond = {c["type"]: c for c in st.get("conditions") or []}
        if (cond.get("Ready") or {}).get("status") == "True":
            continue
        cs = (st.get("containerStatuses") or [{}])[0]
        out.append("%s: phase %s, ready %s, state %s" % (
            pod["metadata"]["name"], st.get("phase"), cs.get("ready"),
            json.dumps(cs.get("state"))[:160]))
        if len(out) >= limit:
            break
    return "; ".join(out) or "every pod Ready"


def pool_ready(asbd):
    items = asbd.request("GET", EXT + "/sandboxwarmpools")["items"]
    return sum(int((p.get("status") or {}).get("readyReplicas") or 0) for p in items)


# ---- claims -------------------------------------------------------------------------------------

def claim_worker(args):
    """One client process: claims at its slots (fixed rate) or back to back; returns samples."""
    kubeconfig, pools, slots, t0 = args
    samples, errors = [], []
    for k, (slot, pool) in enumerate(slots):
        if slot is not None:
            delay = t0 + slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        late = time.monotonic() - (t0 + slot) if slot is not None else 0.0
        start = time.perf_counter()
        try:
            c = SimulatedClaim(warmpool="pool-%d" % pool, namespace=NS, kubeconfig=kubeconfig,
                               sandbox_ready_timeout=60)
            c.__enter__()
            took = time.perf_counter() - start
            c.__exit__(None, None, None)
            samples.append((took, late))
        except Exception as e:  # reported, never hidden: any error fails the CI check
            errors.append("%s: %s" % (type(e).__name__, e))
    # The end of a with-block sends its DELETE and reads the answer in the background; the
    # pool's processes are terminated once map() returns, which would cut the last ones off
    # (and the phase's metrics would miss them: CI saw 0.99 DELETEs per claim under load).
    if not wait_for_cleanup(60):
        errors.append("claim deletions still unanswered after 60 s")
    return samples, errors, os.times()


def run_phase(asbd, clients, claims, pools, rate):
    """`claims` claims from `clients` processes, spread over the pools round robin."""
    slots = [((i / rate) if rate else None, i % pools) for i in range(claims)]
    per_client = [slots[c::clients] for c in range(clients)]
    before = asbd.metrics()
    pids = [asbd.daemon.pid] + ([asbd.controller.pid] if asbd.controller else [])
    cpu0 = [cpu_seconds(p) for p in pids]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(clients) as pool:
        t0 = time.monotonic() + 0.5  # every process forked and waiting before the first slot
        wall0 = time.monotonic()
        results = pool.map(claim_worker, [(asbd.kubeconfig, pools, s, t0) for s in per_client])
        wall = time.monotonic() - (t0 if rate else wall0)
    cpu1 = [cpu_seconds(p) for p in pids]
    after = asbd.metrics()
    samples = [s for r in results for s in r[0]]
    errors = [e for r in results for e in r[1]]
    client_cpu = sum(r[2].user + r[2].system for r in results)
    lat = sorted(s[0] for s in samples)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
    # Resource "": the bench's own GET /metrics.
    api = {k[1:]: v for k, v in delta.items() if k[0] == "api" and k[2] != ""}
    n = max(1, len(samples))
    out = {
        "claims": len(samples), "errors": len(errors), "error_examples": errors[:3],
        # Served from a pool, as the controller counted them (its startup histogram).
        "warm": int(delta.get(("claims", "warm"), 0)),
        "cold": int(delta.get(("claims", "cold"), 0)),
        "claims_per_s": len(samples) / wall if wall > 0 else 0.0,
        "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
        "late_starts": sum(1 for s in samples if s[1] > 0.010),
        "asbd_rss_mib": rss_mib(asbd.daemon.pid),
        "controller_rss_mib": rss_mib(asbd.controller.pid) if asbd.controller else None,
        "asbd_cpu_s": cpu1[0] - cpu0[0],
        "controller_cpu_s": (cpu1[1] - cpu0[1]) if asbd.controller else None,
        "client_cpu_s": client_cpu, "wall_s": wall,
        "api_requests_per_claim": sum(api.values()) / n,
        "api_requests_by_kind": {"%s %s" % k: round(v / n, 2) for k, v in sorted(api.items())},
        # Where the separate controller's reads were answered, per claim (empty: embedded, or a
        # controller without read caches).
        "controller_reads_per_claim": {k[1]: round(v / n, 2) for k, v in sorted(delta.items())
                                       if k[0] == "reads"},
    }
    return out


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]



# ---- a real node: what each idle sandbox costs the host ---------------------------------------

MEMINFO = ("MemAvailable", "MemFree", "AnonPages", "Shmem", "Slab", "SReclaimable", "SUnreclaim",
           "KernelStack", "PageTables", "Percpu", "Cached")
SANDBOX_COMMS = ("asb-init", "asb-agent", "runsc", "runsc-gofer", "runsc-sandbox", "exe")


def meminfo():
    """/proc/meminfo's fields in KiB."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    out["Used"] = out["MemTotal"] - out["MemAvailable"]
    return out


def slabinfo():
    """Slab cache -> KiB (num_objs x objsize); {} when /proc/slabinfo is not readable."""
    out = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f.readlines()[2:]:
                fields = line.split()
                out[fields[0]] = int(fields[2]) * int(fields[3]) / 1024.0
    except OSError:
        pass
    return out


def sandbox_processes(skip_pid):
    """Per command name of every sandbox process (asb-init, asb-agent, runsc's): processes,
    tasks, and KiB of smaps_rollup's Rss/Pss/Pss_Anon/Pss_File/Pss_Shmem and status's VmPTE."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == skip_pid:
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
            if comm not in SANDBOX_COMMS:
                continue
            row = out.setdefault(comm, {"processes": 0, "tasks": 0, "Rss": 0, "Pss": 0,
                                        "Pss_Anon": 0, "Pss_File": 0, "Pss_Shmem": 0, "VmPTE": 0})
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        row["tasks"] += int(line.split()[1])
                    elif line.startswith("VmPTE:"):
                        row["VmPTE"] += int(line.split()[1])
            with open("/proc/%s/smaps_rollup" % pid) as f:
                for line in f:
                    k = line.split(":", 1)[0]
                    if k in row:
                        row[k] += int(line.split()[1])
            row["processes"] += 1
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return out


def sandbox_cgroups_kib():
    """The memory charged to every sandbox cgroup (v1 memory.usage_in_bytes below asb and
    asb-besteffort, asb-burstable-*), in KiB, and how many cgroups."""
    total, n = 0, 0
    root = "/sys/fs/cgroup/memory"
    parents = [os.path.join(root, "asb"), os.path.join(root, "asb-besteffort")]
    dirs = []
    for parent in parents:
        if os.path.isdir(parent):
            dirs += [os.path.join(parent, d) for d in os.listdir(parent)]
    if os.path.isdir(root):
        dirs += [os.path.join(root, d) for d in os.listdir(root) if d.startswith("asb-burstable-")]
    for d in dirs:
        try:
            with open(os.path.join(d, "memory.usage_in_bytes")) as f:
                total += int(f.read()) // 1024
            n += 1
        except OSError:
            pass
    return total, n


def host_cpu_s():
    """Every core's busy seconds so far (user+nice+system+irq+softirq) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


POD_PREFIX = "10.244."  # asbd's default podCIDR 10.244.0.0/16
POD_HEX_SUFFIX = "F40A"


def host_counters():
    """The host-wide counts a node of many sandboxes runs into (docs/density.md): tasks against
    kernel.pid_max, neighbour entries against gc_thresh3, conntrack entries against its max, and
    TCP sockets in TIME_WAIT."""
    with open("/proc/loadavg") as f:
        tasks = int(f.read().split()[3].split("/")[1])
    with open("/proc/net/arp") as f:
        neigh = sum(1 for _ in f) - 1
    tw = pod_tw = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    if fields[3:4] == ["06"]:
                        tw += 1
                        # rem_address, little-endian hex: 10.244.x.y ends in "F40A".
                        pod_tw += fields[2].split(":")[0].endswith(POD_HEX_SUFFIX)
        except OSError:
            pass
    # The pod network's share of conntrack (other work on the host has entries too): entries
    # whose original destination is a pod address, by state.
    pod_ct = {}
    try:
        with open("/proc/net/nf_conntrack") as f:
            for line in f:
                m = re.search(r" dst=(\S+)", line)  # the first: the original direction
                if m and m.group(1).startswith(POD_PREFIX):
                    fields = line.split()
                    state = fields[5] if fields[2] == "tcp" else fields[2]
                    pod_ct[state] = pod_ct.get(state, 0) + 1
    except (OSError, IndexError):
        pass
    return {"tasks": tasks, "pid_max": read_int("/proc/sys/kernel/pid_max"),
            "pod_conntrack": pod_ct, "pod_time_wait": pod_tw,
            "neighbours": neigh,
            "gc_thresh3": read_int("/proc/sys/net/ipv4/neigh/default/gc_thresh3"),
            "conntrack": read_int("/proc/sys/net/netfilter/nf_conntrack_count"),
            "conntrack_max": read_int("/proc/sys/net/netfilter/nf_conntrack_max"),
            "time_wait": tw}


def fd_kinds(pid):
    """asbd's open fds by what they are: "socket", "anon_inode:[pidfd]", a file's directory."""
    kinds = {}
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        kind = (target.split(":", 1)[0] if target.startswith(("socket:", "pipe:")) else
                target if target.startswith("anon_inode:") else
                re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", os.path.dirname(target)))
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:8])


def measure_idle(asbd, n, idle_s):
    """What n idle Ready sandboxes cost: meminfo and slab deltas against the snapshot taken
    before the fill (asbd.before), the sandbox processes, their cgroups, and the CPU the node
    burns over idle_s seconds of nothing happening."""
    mem, slab = meminfo(), slabinfo()
    b_mem, b_slab = asbd.before
    per = {k: (mem[k] - b_mem[k]) / n for k in MEMINFO + ("Used",)}
    per["MemAvailable"] = -per["MemAvailable"]  # what became unavailable
    per["MemFree"] = -per["MemFree"]
    slabs = sorted(((k, (v - b_slab.get(k, 0)) / n) for k, v in slab.items()),
                   key=lambda kv: -kv[1])[:10]
    procs = sandbox_processes(asbd.daemon.pid)
    cg_kib, cg_n = sandbox_cgroups_kib()
    cpu0, host0, t0 = cpu_seconds(asbd.daemon.pid), host_cpu_s(), time.monotonic()
    time.sleep(idle_s)
    wall = time.monotonic() - t0
    return {
        "per_sandbox_kib": {k: round(v, 1) for k, v in per.items()},
        "slab_per_sandbox_kib": [(k, round(v, 2)) for k, v in slabs if v > 0.05],
        "processes": {c: dict(r, per_sandbox_pss_kib=round(r["Pss"] / n, 1),
                              per_sandbox_tasks=round(r["tasks"] / n, 2))
                      for c, r in procs.items()},
        "tasks_per_sandbox": sum(r["tasks"] for r in procs.values()) / n,
        "cgroups": cg_n, "cgroup_kib_per_sandbox": cg_kib / max(1, cg_n),
        "asbd_rss_mib": rss_mib(asbd.daemon.pid),
        "asbd_rss_kib_per_sandbox": (rss_mib(asbd.daemon.pid) - asbd.before_rss) * 1024 / n,
        "asbd_threads": len(os.listdir("/proc/%d/task" % asbd.daemon.pid)),
        "asbd_fds": len(os.listdir("/proc/%d/fd" % asbd.daemon.pid)),
        "asbd_fds_by_kind": fd_kinds(asbd.daemon.pid),
        "asbd_maps": sum(1 for _ in open("/proc/%d/maps" % asbd.daemon.pid)),
        "host": host_counters(),
        "idle_s": wall,
        "idle_asbd_cpu_pct": (cpu_seconds(asbd.daemon.pid) - cpu0) / wall * 100,
        "idle_host_cpu_pct": (host_cpu_s() - host0) / wall * 100,
    }


def run_real(bin_dir, runtime, pools, members, claims, clients, fill_timeout, idle_s,
             perf_out=None):
    """A real node: `asbd serve` (root) fills POOLS x MEMBERS native or gVisor members of the
    seed's template, measures what the idle members cost, claims CLAIMS back to back, and
    deletes everything before asbd stops."""
    asbd = Asbd(bin_dir, separate=False, simulate=False)
    n = pools * members
    try:
        asbd.before = (meminfo(), slabinfo())
        asbd.before_rss = rss_mib(asbd.daemon.pid)
        t_start = time.monotonic()

        def progress(t, ready):
            if int(t) % 10 == 0:
                print("  filling: %d/%d Ready after %.0f s" % (ready, n, t))
        fill_s = fill(asbd, pools, members, fill_timeout, runtime, progress)
        res = {"runtime": runtime, "pools": pools, "members": members, "sandboxes": n,
               "fill_s": fill_s, "fill_per_s": n / fill_s}
        res["idle"] = measure_idle(asbd, n, idle_s)
        if perf_out:  # where the idle node's CPU goes: `perf report -i FILE`
            subprocess.run(["perf", "record", "-q", "-g", "-o", perf_out, "-p",
                            str(asbd.daemon.pid), "--", "sleep", "5"], check=False)
        res["max"] = run_phase(asbd, clients, claims, pools, None)
        t0 = time.monotonic()
        while pool_ready(asbd) < n and time.monotonic() - t0 < 300:
            time.sleep(0.5)
        res["refill_s"] = time.monotonic() - t0
        res["pool_ready_after"] = pool_ready(asbd)
        res["teardown_s"] = asbd.delete_everything(max(300, n // 5))
        res["total_s"] = time.monotonic() - t_start
        return res
    finally:
        try:
            if asbd.daemon.poll() is None:
                asbd.delete_everything(max(300, n // 5))
        except BaseException as e:  # still stop asbd; the leftovers are reported
            print("teardown: %s" % e)
        asbd.close()


def show_real(res):
    i = res["idle"]
    print("%d %s sandboxes (%d pools x %d): Ready in %.1f s (%.0f/s)" % (
        res["sandboxes"], res["runtime"], res["pools"], res["members"], res["fill_s"],
        res["fill_per_s"]))
    p = i["per_sandbox_kib"]
    print("  per sandbox (meminfo deltas / N, KiB): used %.0f  anon %.0f  shmem %.0f  slab %.0f "
          "(unreclaimable %.0f)  kernel stack %.0f  page tables %.0f  percpu %.0f  cached %.0f" % (
              p["Used"], p["AnonPages"], p["Shmem"], p["Slab"], p["SUnreclaim"],
              p["KernelStack"], p["PageTables"], p["Percpu"], p["Cached"]))
    print("  tasks per sandbox %.1f; cgroup charge %.0f KiB each (%d cgroups); asbd RSS %.0f MiB "
          "(+%.1f KiB per sandbox), %d threads" % (
              i["tasks_per_sandbox"], i["cgroup_kib_per_sandbox"], i["cgroups"],
              i["asbd_rss_mib"], i["asbd_rss_kib_per_sandbox"], i["asbd_threads"]))
    for comm, r in sorted(i["processes"].items()):
        n = max(1, r["processes"])
        print("  %-14s %6d processes  %.1f tasks each  per process KiB: Rss %.0f Pss %.0f "
              "(anon %.0f file %.0f shmem %.0f) page tables %.0f" % (
                  comm, r["processes"], r["tasks"] / n, r["Rss"] / n, r["Pss"] / n,
                  r["Pss_Anon"] / n, r["Pss_File"] / n, r["Pss_Shmem"] / n, r["VmPTE"] / n))
    h = i["host"]
    print("  asbd fds %d, maps %d; host: tasks %d (pid_max %s), neighbours %d (gc_thresh3 %s), "
          "conntrack %s (max %s), TIME_WAIT sockets %d" % (
              i["asbd_fds"], i["asbd_maps"], h["tasks"], h["pid_max"], h["neighbours"],
              h["gc_thresh3"], h["conntrack"], h["conntrack_max"], h["time_wait"]))
    print("  toward pod addresses: conntrack %s, TIME_WAIT sockets %d" % (
        ", ".join("%s %d" % kv for kv in sorted(h["pod_conntrack"].items())) or "0",
        h["pod_time_wait"]))
    print("  asbd fds by kind: " + ", ".join("%s %d" % kv for kv in i["asbd_fds_by_kind"].items()))
    print("  slab per sandbox (KiB): " + ", ".join("%s %.1f" % kv
                                                   for kv in i["slab_per_sandbox_kib"]))
    print("  idle %.0f s: asbd %.1f%% of a core, host %.1f%% (of %d cores)" % (
        i["idle_s"], i["idle_asbd_cpu_pct"], i["idle_host_cpu_pct"], os.cpu_count()))
    m = res["max"]
    print("  %5d claims back to back: %.1f claims/s  p50 %.1f ms  p99 %.1f ms  warm %d  errors %d"
          % (m["claims"], m["claims_per_s"], m["p50_ms"], m["p99_ms"], m["warm"], m["errors"]))
    for e in m["error_examples"]:
        print("  error: %s" % e)
    print("  refilled to %d in %.1f s; deleted in %.1f s; %.0f s in all" % (
        res["pool_ready_after"], res["refill_s"], res["teardown_s"], res["total_s"]))


def run(bin_dir, pools, members, claims, rate, clients, separate, fill_timeout):
    asbd = Asbd(bin_dir, separate)
    try:
        fill_s = fill(asbd, pools, members, fill_timeout)
        res = {"pools": pools, "members": members, "sandboxes": pools * members,
               "controller": "separate" if separate else "embedded",
               "fill_s": fill_s, "fill_per_s": pools * members / fill_s,
               "rss_after_fill_mib": rss_mib(asbd.daemon.pid),
               "store_mib": dir_mib(asbd.state),
               "controller_rss_after_fill_mib":
                   rss_mib(asbd.controller.pid) if asbd.controller else None}
        res["fixed"] = run_phase(asbd, clients, claims, pools, rate)
        res["fixed"]["offered_per_s"] = rate
        res["max"] = run_phase(asbd, clients, claims, pools, None)
        # Every claim was deleted: the pools refill to their size (bounded wait).
        t0 = time.monotonic()
        while pool_ready(asbd) < pools * members and time.monotonic() - t0 < 120:
            time.sleep(0.2)
        res["refill_s"] = time.monotonic() - t0
        res["pool_ready_after"] = pool_ready(asbd)
        return res
    finally:
        asbd.close()


def show(res):
    print("%d pools x %d members = %d sandboxes (controller %s): filled in %.1f s (%.0f/s), "
          "asbd RSS %.0f MiB, store %.0f MiB%s" % (
              res["pools"], res["members"], res["sandboxes"], res["controller"], res["fill_s"],
              res["fill_per_s"], res["rss_after_fill_mib"], res["store_mib"],
              "" if res["controller_rss_after_fill_mib"] is None else
              ", controller RSS %.0f MiB" % res["controller_rss_after_fill_mib"]))
    for name in ("fixed", "max"):
        p = res[name]
        label = ("offered %g/s" % p["offered_per_s"]) if name == "fixed" else "as fast as possible"
        print("  %-20s %5d claims %6.1f claims/s  p50 %6.1f ms  p99 %7.1f ms  warm %d/%d  "
              "errors %d  late %d" % (label, p["claims"], p["claims_per_s"], p["p50_ms"],
                                      p["p99_ms"], p["warm"], p["claims"], p["errors"],
                                      p["late_starts"]))
        print("  %-20s API requests/claim %.1f  CPU s: asbd %.1f%s clients %.1f  RSS asbd %.0f "
              "MiB%s" % ("", p["api_requests_per_claim"], p["asbd_cpu_s"],
                         "" if p["controller_cpu_s"] is None else
                         " controller %.1f" % p["controller_cpu_s"],
                         p["client_cpu_s"], p["asbd_rss_mib"],
                         "" if p["controller_rss_mib"] is None else
                         " controller %.0f MiB" % p["controller_rss_mib"]))
        print("  %-20s %s" % ("", ", ".join("%s %.2f" % kv
                                            for kv in p["api_requests_by_kind"].items())))
        if p["controller_reads_per_claim"]:
            print("  %-20s controller reads/claim: %s" % ("", ", ".join(
                "%s %.2f" % kv for kv in p["controller_reads_per_claim"].items())))
        for e in p["error_examples"]:
            print("  error: %s" % e)
    print("  pools back to %d Ready members %.1f s after the last claim" % (
        res["pool_ready_after"], res["refill_s"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--pools", type=int, default=100)
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--claims", type=int, default=2000, help="claims per phase")
    ap.add_argument("--rate", type=float, default=45, help="offered claims/s (fixed phase)")
    ap.add_argument("--clients", type=int, default=8, help="client processes")
    ap.add_argument("--controller", choices=("embedded", "separate"), default="embedded")
    ap.add_argument("--baseline", action="store_true", help="first run 10 pools x 10 members")
    ap.add_argument("--ci", action="store_true",
                    help="short: 10 pools x 100, 300 claims per phase, 4 clients")
    ap.add_argument("--fill-timeout", type=int, default=900)
    ap.add_argument("--runtime", choices=("simulated", "native", "gvisor"), default="simulated",
                    help="native/gvisor: a real node (root) and what each idle member costs")
    ap.add_argument("--idle", type=float, default=10,
                    help="real node: seconds of idle CPU measured after the fill")
    ap.add_argument("--perf-idle", metavar="FILE",
                    help="real node: perf record asbd for 5 s after the idle measurement")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each run's figures as soon as they exist
    if a.ci:
        a.pools, a.members, a.claims, a.clients, a.fill_timeout = 10, 100, 300, 4, 90
    if a.pools < 1 or a.members < 1 or a.claims < 1 or a.clients < 1 or a.rate <= 0:
        ap.error("pools, members, claims, clients and rate must be positive")
    separate = a.controller == "separate"
    out = {}
    if a.runtime != "simulated":
        if os.geteuid() != 0:
            ap.error("--runtime %s runs real sandboxes: run it as root" % a.runtime)
        out["real"] = run_real(a.bin, a.runtime, a.pools, a.members, a.claims, a.clients,
                               a.fill_timeout, a.idle, a.perf_idle)
        show_real(out["real"])
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
        return 1 if out["real"]["max"]["errors"] else 0
    if a.baseline:
        out["baseline"] = run(a.bin, 10, 10, a.claims, a.rate, a.clients, separate, 120)
        show(out["baseline"])
    out["scale"] = run(a.bin, a.pools, a.members, a.claims, a.rate, a.clients, separate,
                       a.fill_timeout)
    show(out["scale"])
    if a.baseline:
        b, s = out["baseline"], out["scale"]
        ratios = {}
        for phase in ("fixed", "max"):
            for k in ("claims_per_s", "p50_ms", "p99_ms", "api_requests_per_claim"):
                ratios["%s.%s" % (phase, k)] = s[phase][k] / b[phase][k] if b[phase][k] else None
        ratios["rss_after_fill"] = s["rss_after_fill_mib"] / b["rss_after_fill_mib"]
        out["ratio_scale_over_baseline"] = ratios
        print("scale / baseline: " + ", ".join("%s %.2f" % (k, v) for k, v in ratios.items()
                                               if v is not None))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    bad = [r for r in out.values() if isinstance(r, dict) and "fixed" in r and
           any(r[p]["errors"] for p in ("fixed", "max"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
