"""E2E hostile suite, CPU spin: a sandbox with no CPU limit spinning 4 threads on the node must
not slow the API server or a neighbour sandbox (issue 9: "API and another sandbox's exec p99 stay
within 3x their idle figures"), on both runtimes, whatever its CPU class:
  - BestEffort (no resources: no quota to lean on, no request to honour);
  - Burstable (the seed's shape: requests.cpu 250m, no limit): it must still get its request's
    worth of CPU next to the measuring loop, and more than that when nothing else wants it.
The node's cgroup layout is what protects the rest (docs/cpu.md). The neighbour comes from a
template with the seed's cpu request (250m). Measured idle, then with the spinner running:
  - the API: GETs of the neighbour's claim over TLS on one kept-alive connection (what the
    Python client and kubectl do);
  - the neighbour: `true` executed through the router (client -> router -> asb-agent -> process).
Then the spinner is deleted: its cgroups and processes go (and the asbd fixture's teardown checks
the whole host for leftovers).

And the other side of it: while host processes keep both cores busy, a BestEffort sandbox that
only runs an exec now and then is still served (a permanently idle-class BestEffort group, tried
first, left native execs at 612 ms p99 and gVisor's `true` timing out after 30 s).
"""

import multiprocessing
import os
import shutil
import sys
import threading
import time

import pytest
from waiting import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python", "src"))
from agentic_sandbox import SandboxClient  # noqa: E402

RUNTIMES = ["native", "gvisor"]
TEMPLATES = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxtemplates"
# A 1% tail only shows with enough samples: p99 of 100 is the second-worst sample, and on today's
# kernel (EEVDF, 250 Hz tick) a wakeup that cannot preempt the spinner waits for the next tick, a
# few times per thousand requests. 2,000 GETs take ~0.5 s, 300 execs ~0.5 s (native) to ~8 s
# (gVisor) idle.
API_SAMPLES = 2000
EXEC_SAMPLES = 300
# p99 under the spin may be up to 3x the idle p99 plus this much: an idle p99 of 0.3 ms would
# otherwise demand 0.9 ms, below one scheduler tick (1 ms at HZ=1000) and below what one more
# context switch onto a busy core costs, so it would measure the clock, not the isolation.
FLOOR_MS = 2.0
# The spinner must really run, or the test would pass by starving it. A BestEffort one gets what
# the measuring loop (client and asbd keep about one core busy) and the rest of the host leave of
# the two cores, so the bar is a fifth of a core on average while we measure; a Burstable one must
# get at least its request.
MIN_SPINNER_CORES = {"besteffort": 0.2, "burstable": 0.25}
BURSTABLE_REQUEST_CORES = 0.25
# With nothing measuring, a Burstable spinner gets more than its request (it is Burstable: the
# idle CPU is its to use): at least twice it, over this long.
ALONE_SECONDS = 1.5
SPINNER_RESOURCES = {"besteffort": None,
                     "burstable": {"requests": {"cpu": "%dm" % (BURSTABLE_REQUEST_CORES * 1000)}}}

# Host work may slow a light BestEffort sandbox's exec (it competes at full weight), but must not
# starve it: a quarter of a second over 3x its idle p99 is far below what starving did.
STARVED_MS = 250
HOST_BUSY_EXECS = 100

SPIN = "sh -c 'for i in 1 2 3 4; do (while :; do :; done) </dev/null >/dev/null 2>&1 & done'"


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    if request.param == "gvisor" and not shutil.which("runsc"):
        pytest.skip("SKIPPED LOUDLY: runsc is not installed")
    return request.param


def _template(name, runtime, resources=None):
    spec = {
        "containers": [{
            "name": "python-runtime",
            "image": "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0",
            "ports": [{"containerPort": 8888}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1},
            "resources": resources or {},
        }],
        "runtimeClassName": runtime,
    }
    return {"apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxTemplate",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"podTemplate": {"spec": spec}}}


def _p99(samples):
    s = sorted(samples)
    k = (len(s) - 1) * 0.99
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _measure_api(sb, n):
    """Milliseconds of each GET of sb's claim, on the client's kept-alive TLS connection."""
    path = sb._claims_path(sb.claim_name)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _, body = sb._api.request("GET", path)
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200, body[:300]
    return out


def _measure_exec(sb, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = sb.run("true", timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.exit_code == 0, r
    return out


def _pod_uid(asbd, sandbox_name):
    status, body = asbd.request("GET", "/api/v1/namespaces/default/pods")
    assert status == 200, body
    for pod in body["items"]:
        meta = pod["metadata"]
        owners = [o.get("name") for o in meta.get("ownerReferences") or []]
        if meta["name"] == sandbox_name or sandbox_name in owners:
            return meta["uid"]
    raise AssertionError("no pod for sandbox %s in %s"
                         % (sandbox_name, [p["metadata"]["name"] for p in body["items"]]))


def _cgroup_dirs(uid):
    """Every cgroup directory of the sandbox whose pod has `uid` (native: <uid>, gVisor:
    runsc-<uid>; below asb, below asb-besteffort for BestEffort, or next to asb prefixed
    asb-burstable- for Burstable), in every hierarchy."""
    root = "/sys/fs/cgroup"
    found = []
    for top in [root] + [os.path.join(root, d) for d in os.listdir(root)]:
        for name in (uid, "runsc-" + uid):
            for d in (os.path.join(top, "asb", name), os.path.join(top, "asb-besteffort", name),
                      os.path.join(top, "asb-burstable-" + name)):
                if os.path.isdir(d):
                    found.append(d)
    return found


def _cpu_idle(uid):
    """"<group>/<its parent>" cpu.idle of the sandbox's cpu group (a Burstable one's own group
    is the idle-class one, a BestEffort one's parent), for the report."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    for d in _cgroup_dirs(uid):
        if v2 or d.startswith("/sys/fs/cgroup/cpu/"):
            values = []
            for f in (os.path.join(d, "cpu.idle"), os.path.join(os.path.dirname(d), "cpu.idle")):
                if os.path.exists(f):
                    with open(f) as fh:
                        values.append(fh.read().strip())
                else:
                    values.append("-")
            return "/".join(values)
    return "?"


def _cpu_usage_seconds(uid):
    """CPU time the sandbox's cgroup has used (v1 cpuacct.usage, v2 cpu.stat usage_usec)."""
    for d in _cgroup_dirs(uid):
        if os.path.exists(os.path.join(d, "cpuacct.usage")):
            with open(os.path.join(d, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        if os.path.exists(os.path.join(d, "cpu.stat")):
            with open(os.path.join(d, "cpu.stat")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
    raise AssertionError("no CPU accounting for sandbox %s in %s" % (uid, _cgroup_dirs(uid)))


def _within(what, idle, busy):
    bound = 3 * _p99(idle) + FLOOR_MS
    return (_p99(busy) <= bound,
            "%s p99 %.2f ms with the spinner vs %.2f ms idle (bound %.2f ms; busy p50 %.2f)"
            % (what, _p99(busy), _p99(idle), bound, sorted(busy)[len(busy) // 2]))


@pytest.mark.parametrize("cpu_class", ["besteffort", "burstable"])
def test_cpu_spinner_does_not_slow_the_api_or_a_neighbour(asbd, runtime, cpu_class):
    spin, neighbourly = "spin-%s-%s" % (cpu_class, runtime), "neighbour-%s-%s" % (cpu_class, runtime)
    for name, resources in ((spin, SPINNER_RESOURCES[cpu_class]),
                            (neighbourly, {"requests": {"cpu": "250m"}})):
        status, body = asbd.request("POST", TEMPLATES, _template(name, runtime, resources))
        assert status == 201, body
    with SandboxClient(neighbourly, kubeconfig=asbd.kubeconfig) as neighbour:
        spinner = SandboxClient(spin, kubeconfig=asbd.kubeconfig)
        spinner.__enter__()
        try:
            spin_uid = _pod_uid(asbd, spinner.sandbox_name)
            # Warm both paths (first TLS handshake, first exec's page faults) outside the samples.
            _measure_api(neighbour, 5)
            _measure_exec(neighbour, 5)
            idle_api = _measure_api(neighbour, API_SAMPLES)
            idle_exec = _measure_exec(neighbour, EXEC_SAMPLES)

            r = spinner.run(SPIN, timeout=30)
            assert r.exit_code == 0, r
            start = _cpu_usage_seconds(spin_uid)
            # Running for real: the cgroup gained 0.2 s of CPU (not a sleep standing in for it).
            wait_for(lambda: (_cpu_usage_seconds(spin_uid) - start > 0.2,
                              _cpu_usage_seconds(spin_uid) - start),
                     "the spinner's cgroup to use CPU", timeout=10)
            t0, used0 = time.monotonic(), _cpu_usage_seconds(spin_uid)
            busy_api = _measure_api(neighbour, API_SAMPLES)
            busy_exec = _measure_exec(neighbour, EXEC_SAMPLES)
            cores = (_cpu_usage_seconds(spin_uid) - used0) / (time.monotonic() - t0)
            idle_class = _cpu_idle(spin_uid)
            # Alone: nothing measures, the spinner may take what the host leaves.
            t0, used0 = time.monotonic(), _cpu_usage_seconds(spin_uid)
            time.sleep(ALONE_SECONDS)
            alone = (_cpu_usage_seconds(spin_uid) - used0) / (time.monotonic() - t0)
            report = [_within("API GET", idle_api, busy_api),
                      _within("neighbour exec", idle_exec, busy_exec)]
            print("\n[%s %s] spinner used %.2f cores while measured, %.2f alone (cpu.idle %s); %s"
                  % (cpu_class, runtime, cores, alone, idle_class,
                     "; ".join(m for _, m in report)))
            assert cores >= MIN_SPINNER_CORES[cpu_class], "the spinner got only %.2f cores" % cores
            if cpu_class == "burstable":
                assert alone >= 2 * BURSTABLE_REQUEST_CORES, (
                    "a Burstable spinner got only %.2f cores with nothing else measuring" % alone)
            for ok, message in report:
                assert ok, message
        finally:
            spinner.__exit__(None, None, None)
        # The spinner's sandbox goes whole: its cgroups (with the spinning processes) are removed.
        wait_for(lambda: (not _cgroup_dirs(spin_uid), _cgroup_dirs(spin_uid)),
                 "the deleted spinner's cgroups to be removed", timeout=30)
        assert neighbour.run("true").exit_code == 0


def _burn():
    while True:
        pass


def test_busy_host_does_not_starve_a_light_besteffort_sandbox(asbd, runtime):
    name = "light-" + runtime
    status, body = asbd.request("POST", TEMPLATES, _template(name, runtime))
    assert status == 201, body
    with SandboxClient(name, kubeconfig=asbd.kubeconfig) as light:
        _measure_exec(light, 5)
        idle = _measure_exec(light, HOST_BUSY_EXECS)
        # Four busy host processes (like a build) on the two cores, in the test's own cgroup.
        burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(4)]
        for p in burners:
            p.start()
        try:
            busy = _measure_exec(light, HOST_BUSY_EXECS)
        finally:
            for p in burners:
                p.kill()
                p.join()
        bound = 3 * _p99(idle) + STARVED_MS
        print("\n[%s] light BestEffort exec p99 %.2f ms on a busy host vs %.2f ms idle (bound "
              "%.0f ms; busy p50 %.2f)" % (runtime, _p99(busy), _p99(idle), bound,
                                            sorted(busy)[len(busy) // 2]))
        assert _p99(busy) <= bound, "a light BestEffort sandbox starves behind host work"
