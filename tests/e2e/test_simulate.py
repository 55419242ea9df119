"""`asbd serve --simulate` (docs/scale.md): a node for scale tests only. Its pods are records
that become Ready at once; it says so everywhere (log, pod annotation, containerID), starts no
process, mount or cgroup, reaches nothing inside a "sandbox", and never shares a state dir with
real sandboxes. The scale benchmark's short mode runs end to end and produces sane figures."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN_DIR, REPO, AsbdProcess, _sandbox_cgroups
from waiting import wait_for

EXT = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default"
SIMULATE = pytest.mark.parametrize("asbd", [["--simulate"]], indirect=True)


def _apply_seed_pool(asbd, replicas):
    seed = os.path.join(REPO, "examples", "seed", "sandbox-template-and-pool.yaml")
    pool = subprocess.run(["kubectl", "--kubeconfig", asbd.kubeconfig, "apply", "-f", seed],
                          capture_output=True, text=True, timeout=60)
    assert pool.returncode == 0, pool.stderr
    status, body = asbd.request(
        "PATCH", EXT + "/sandboxwarmpools/python-sandbox-warmpool",
        {"spec": {"replicas": replicas}}, content_type="application/merge-patch+json")
    assert status == 200, body


def _pods(asbd):
    status, body = asbd.request("GET", "/api/v1/namespaces/default/pods")
    assert status == 200, body
    return body["items"]


def _children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(p)
        except (OSError, ValueError, IndexError):
            pass
    return out


@SIMULATE
def test_simulated_pods_are_ready_marked_and_run_nothing(asbd):
    assert "SIMULATED node" in asbd.log()
    cgroups_before = _sandbox_cgroups()  # other engineers' sandboxes may come and go meanwhile
    _apply_seed_pool(asbd, 3)  # the seed's gVisor template: simulated like every class
    wait_for(lambda: sum(1 for p in _pods(asbd) if _ready(p)) == 3, timeout=30,
               what="3 simulated pool members Ready")
    for pod in _pods(asbd):
        assert pod["metadata"]["annotations"].get("asb.dev/simulated") == "true", pod["metadata"]
        cs = pod["status"]["containerStatuses"][0]
        assert cs["containerID"].startswith("simulated://"), cs
        assert cs["ready"] is True and pod["status"]["phase"] == "Running"
    # Nothing runs: no asb-init or runsc under asbd, no mount, cgroup or veth of a sandbox.
    assert _children(asbd.proc.pid) == []
    assert asbd.leftovers(cgroups_before) == []
    # Nothing can be reached inside: the router answers that it could not connect (upstream's
    # words), never with another process's reply.
    name = _pods(asbd)[0]["metadata"]["name"]
    req = urllib.request.Request(asbd.router_url + "/", headers={
        "Authorization": "Bearer " + asbd.token, "X-Sandbox-ID": name,
        "X-Sandbox-Namespace": "default", "X-Sandbox-Port": "8888"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    body = err.value.read().decode(errors="replace")
    assert err.value.code == 502 and "Could not connect" in body, (err.value.code, body)

def _ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


@SIMULATE
def test_real_node_refuses_a_simulated_state_dir(asbd):
    _apply_seed_pool(asbd, 1)
    wait_for(lambda: any(_ready(p) for p in _pods(asbd)), timeout=30,
               what="a simulated pod Ready")
    asbd.stop()
    real = AsbdProcess(asbd.state_dir)
    real.log_path = asbd.log_path + ".real"
    with pytest.raises(AssertionError) as err:
        real.start()
    real.stop()
    assert "was only simulated" in str(err.value), str(err.value)
    asbd.start()  # the simulation again, so the fixture's teardown deletes its pods


def test_scale_bench_ci_mode_produces_sane_figures(tmp_path):
    out = tmp_path / "scale.json"
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, os.path.join(REPO, "bench", "scale_bench.py"), "--ci",
                          "--bin", BIN_DIR, "--json", str(out)],
                         capture_output=True, text=True, timeout=240)
    took = time.monotonic() - t0
    assert run.returncode == 0, run.stdout + run.stderr
    res = json.loads(out.read_text())["scale"]
    assert res["sandboxes"] == 1000 and res["fill_s"] > 0
    assert res["pool_ready_after"] == 1000, res  # the pools refilled after the claims went
    for phase in ("fixed", "max"):
        p = res[phase]
        assert p["errors"] == 0, p["error_examples"]
        assert p["claims"] == 300 and p["warm"] == 300, p  # every claim Ready, from the pool
        assert 0 < p["p50_ms"] <= p["p99_ms"], p
        assert p["claims_per_s"] > 0 and p["asbd_rss_mib"] > 0, p
        # The client's own requests per claim: create, watch, delete (the embedded controller
        # works on the store in-process).
        assert p["api_requests_by_kind"].get("POST sandboxclaims") == 1.0, p
        assert p["api_requests_by_kind"].get("DELETE sandboxclaims") == 1.0, p
        # A watch is counted when it ends: the last claims' may still be closing.
        assert p["api_requests_by_kind"].get("WATCH sandboxclaims", 0) >= 0.98, p
    print("scale bench --ci took %.0f s:\n%s" % (took, run.stdout))
