"""E2E soak: kill -9 asbd in the middle of 50 concurrent claims, restart it on the same state
dir, five times. Every claim the API acknowledged (201) still exists afterwards and ends Ready or
with a clear Ready=False reason; no sandbox is leaked (each round deletes everything and checks
the host for processes, mounts, cgroups and loop devices). Bounded: about a minute per round on
two cores, under 4 minutes in all.
"""

import concurrent.futures
import json
import os
import threading
import time

import pytest
from conftest import _sandbox_cgroups
from waiting import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLAIMS = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxclaims"
ROUNDS = 5
PER_ROUND = 50


def _template(asbd):
    with open(os.path.join(REPO, "examples", "seed", "sandbox-template-and-pool.yaml")) as f:
        docs = f.read().split("\n---\n")
    # The seed's template document only (native: without runtimeClassName), no pool: every
    # claim is a cold start, the path with the most writes in flight at the kill.
    return docs[0].replace("      runtimeClassName: gvisor\n", "")


def _ready_reason(claim):
    for c in (claim.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status"), c.get("reason", "")
    return None, ""


def _loop_devices_of(state_dir):
    found = []
    for dev in os.listdir("/sys/block"):
        try:
            with open("/sys/block/%s/loop/backing_file" % dev) as f:
                if state_dir in f.read():
                    found.append(dev)
        except OSError:
            pass
    return found


def test_kill9_during_concurrent_claims(asbd, kubectl):
    cgroups_before = _sandbox_cgroups()  # another suite's leftovers are not this test's
    kubectl("apply", "-f", "-", input=_template(asbd))
    deadline_all = time.monotonic() + 240
    for rnd in range(ROUNDS):
        acked, lock = [], threading.Lock()

        def create(i):
            name = "soak-%d-%d" % (rnd, i)
            body = {"apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxClaim",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {"sandboxTemplateRef": {"name": "python-runtime-template"}}}
            try:
                status, _ = asbd.request("POST", CLAIMS, body)
            except OSError:
                return  # asbd died under us: not acknowledged
            if status == 201:
                with lock:
                    acked.append(name)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(create, i) for i in range(PER_ROUND)]
            # Kill once about half were acknowledged (or after 2 s), mid-stream.
            t0 = time.monotonic()
            while len(acked) < PER_ROUND // 2 and time.monotonic() - t0 < 2:
                time.sleep(0.005)
            asbd.kill9()
            for f in futures:
                f.result()
        acked_before = list(acked)
        t_round = time.monotonic()
        asbd.start()
        # Claims not sent before the kill go in now, so every round has 50.
        missing = [i for i in range(PER_ROUND) if "soak-%d-%d" % (rnd, i) not in acked]
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(create, missing))
        # No acknowledged object is lost.
        status, body = asbd.request("GET", CLAIMS)
        assert status == 200, body
        names = {i["metadata"]["name"] for i in body["items"]}
        lost = sorted(set(acked) - names)
        assert not lost, "round %d: acknowledged claims lost after kill -9: %s" % (rnd, lost)
        # Every claim ends Ready, or says why not.
        while True:
            status, body = asbd.request("GET", CLAIMS)
            mine = [c for c in body["items"] if c["metadata"]["name"].startswith("soak-%d-" % rnd)]
            states = [_ready_reason(c) for c in mine]
            if len(mine) == PER_ROUND and all(s == "True" for s, _ in states):
                break
            if time.monotonic() > deadline_all:
                unclear = [(c["metadata"]["name"], s) for c, s in zip(mine, states)
                           if s[0] != "True" and not s[1]]
                assert not unclear, "claims neither Ready nor with a reason: %s" % unclear
                pytest.fail("round %d: claims not Ready in time: %s" % (
                    rnd, [s for s in states if s[0] != "True"][:5]))
            time.sleep(0.2)
        # Ready means a real sandbox runs for each claim.
        status, pods = asbd.request("GET", "/api/v1/namespaces/default/pods")
        running = [p for p in pods["items"] if (p.get("status") or {}).get("phase") == "Running"]
        assert len(running) == PER_ROUND, "round %d: %d running pods for %d Ready claims" % (
            rnd, len(running), PER_ROUND)
        native = os.listdir(os.path.join(asbd.state_dir, "native"))
        assert len(native) >= PER_ROUND, native
        print("round %d: %d acknowledged before kill -9, all %d Ready after %.1fs" % (
            rnd, len(acked_before), PER_ROUND, time.monotonic() - t_round))
        # Nothing leaks: delete everything, then the host has no trace of this round.
        asbd.delete_all_sandboxes()
        kubectl("apply", "-f", "-", input=_template(asbd))
        wait_for(lambda: (not asbd.leftovers(cgroups_before), asbd.leftovers(cgroups_before)),
                 "round %d: no process, mount or cgroup left" % rnd, timeout=20)
        # A running asbd keeps fresh, unused writable layers ready (its layer pool): they are
        # only fds of asbd, so a kill -9 must take them all, with every used one already gone.
        asbd.kill9()
        wait_for(lambda: (not _loop_devices_of(asbd.state_dir), _loop_devices_of(asbd.state_dir)),
                 "round %d: no loop device left after kill -9" % rnd, timeout=20)
        asbd.start()
