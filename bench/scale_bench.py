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

from agentic_sandbox import SandboxClient  # noqa: E402
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

    def __init__(self, bin_dir, separate):
        self.tmp = tempfile.mkdtemp(prefix="asb-scale-")
        self.state = os.path.join(self.tmp, "state")
        self.kubeconfig = os.path.join(self.state, "kubeconfig")
        self.log = open(os.path.join(self.tmp, "asbd.log"), "wb")
        asbd = os.path.join(bin_dir, "asbd")
        argv = [asbd, "serve", "--simulate", "--state-dir", self.state,
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
    """The two series the bench reads, summed:
    ("api", verb, resource) -> apiserver_request_total (WATCH counts the watches opened), and
    ("claims", launch_type) -> agent_sandbox_claim_startup_latency_ms_count (warm or cold)."""
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
        else:
            continue
        out[key] = out.get(key, 0) + float(m.group(3))
    return out


# ---- setup --------------------------------------------------------------------------------------

def template_body():
    # The seed's template (examples/seed/sandbox-template-and-pool.yaml) as a user applies it.
    return {
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


def fill(asbd, pools, members, timeout):
    """Creates the template and the pools; returns seconds until every member is Ready."""
    asbd.request("POST", EXT + "/sandboxtemplates", template_body())
    t0 = time.monotonic()
    for i in range(pools):
        asbd.request("POST", EXT + "/sandboxwarmpools", {
            "apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxWarmPool",
            "metadata": {"name": "pool-%d" % i, "namespace": NS},
            "spec": {"replicas": members, "sandboxTemplateRef": {"name": TEMPLATE}}})
    want = pools * members
    while True:
        ready = pool_ready(asbd)
        if ready >= want:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise SystemExit("fill: %d of %d pool members Ready after %ds; see %s"
                             % (ready, want, timeout, asbd.log.name))
        time.sleep(0.2)


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
    }
    return out


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


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
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each run's figures as soon as they exist
    if a.ci:
        a.pools, a.members, a.claims, a.clients, a.fill_timeout = 10, 100, 300, 4, 90
    if a.pools < 1 or a.members < 1 or a.claims < 1 or a.clients < 1 or a.rate <= 0:
        ap.error("pools, members, claims, clients and rate must be positive")
    separate = a.controller == "separate"
    out = {}
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
