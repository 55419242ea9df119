"""E2E: pod networking (net/pod_network.h) on both runtimes against a real asbd: pod IPs on the
host bridge, reported on the pod and the Sandbox and released on delete, the router and probes
reaching sandboxes over them, and nothing left on the host once asbd stops (veths, addresses,
the bridge).

Only this machine's addresses are used: the remote hosts the tests reach are network namespaces
the test makes itself (RemoteHost), removed even when a test fails."""

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from waiting import wait_for

RUNTIMES = ["native", "gvisor"]
IMAGE = "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")  # asbd's default podCIDR
GATEWAY = "10.244.0.1"

SANDBOX = """apiVersion: agents.x-k8s.io/v1alpha1
kind: Sandbox
metadata:
  name: {name}
  namespace: default
spec:
  podTemplate:
    spec:
      runtimeClassName: {runtime}
      containers:
      - name: main
        image: %s
        ports:
        - containerPort: 8888
        readinessProbe:
          httpGet: {{path: "/", port: 8888}}
          periodSeconds: 1
""" % IMAGE


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    if request.param == "gvisor" and not shutil.which("runsc"):
        pytest.skip("SKIPPED LOUDLY: runsc is not installed")
    return request.param


def host_links():
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True)
    return [l["ifname"] for l in json.loads(out.stdout)]


def pod_addresses_on_host():
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                         check=True)
    found = []
    for link in json.loads(out.stdout):
        for a in link.get("addr_info", []):
            if ipaddress.ip_address(a["local"]) in POD_CIDR:
                found.append("%s %s" % (link["ifname"], a["local"]))
    return found


def network_leftovers():
    """What asbd's pod network leaves on the host once it stopped: veths, the bridge, pod
    addresses, and its nft table."""
    found = ["link " + l for l in host_links() if l == "asb0" or l.startswith("asbv")]
    found += ["address " + a for a in pod_addresses_on_host()]
    if shutil.which("nft"):
        r = subprocess.run(["nft", "list", "table", "ip", "asb"], capture_output=True, text=True)
        if r.returncode == 0:
            found.append("nft table ip asb")
    return found


def make_sandbox(kubectl, runtime, name):
    kubectl("apply", "-f", "-", input=SANDBOX.format(name=name, runtime=runtime))
    kubectl("wait", "--for=condition=Ready", "sandbox/" + name, "--timeout=90s")
    sb = json.loads(kubectl("get", "sandbox", name, "-o", "json").stdout)
    pod = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)
    return sb, pod


def router_execute(asbd, sandbox, command, timeout=30):
    req = urllib.request.Request(
        asbd.router_url + "/execute", method="POST",
        data=json.dumps({"command": command}).encode(),
        headers={"Authorization": "Bearer " + asbd.token, "X-Sandbox-ID": sandbox,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


SOURCE_FOR = ("python3 -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              "s.connect(('%s', 9)); print(s.getsockname()[0])\"")


def peers_of_port(tcp_table, port):
    """Remote IPv4 addresses of established connections to local `port` in /proc/net/tcp text."""
    peers = []
    for line in tcp_table.splitlines()[1:]:
        f = line.split()
        local, remote, state = f[1], f[2], f[3]
        if state != "01" or int(local.split(":")[1], 16) != port:
            continue
        raw = bytes.fromhex(remote.split(":")[0])[::-1]
        peers.append(str(ipaddress.ip_address(raw)))
    return peers


@pytest.fixture
def netcheck(asbd):
    """Checks, after the test, that deleting every sandbox released their addresses and veths,
    and that stopping asbd removed the bridge (and its firewall)."""
    yield
    asbd.delete_all_sandboxes()
    wait_for(lambda: (not [l for l in host_links() if l.startswith("asbv")],
                      [l for l in host_links() if l.startswith("asbv")]),
             "no sandbox veth left after deleting every sandbox", timeout=30)
    asbd.stop()
    assert network_leftovers() == []


def test_pod_ip_reported_reachable_and_used_by_router(asbd, kubectl, runtime, netcheck):
    sb, pod = make_sandbox(kubectl, runtime, "net-" + runtime)
    ip = pod["status"].get("podIP")
    assert ip and ipaddress.ip_address(ip) in POD_CIDR, pod["status"]
    assert pod["status"]["podIPs"] == [{"ip": ip}]
    wait_for(lambda: (json.loads(kubectl("get", "sandbox", "net-" + runtime, "-o", "json").stdout)
                      ["status"].get("podIPs") == [ip], None),
             "the Sandbox reports the pod's address", timeout=15)
    # Reachable from the host at that address (the agent listens on all addresses).
    with urllib.request.urlopen("http://%s:8888/" % ip, timeout=5) as r:
        assert r.status == 200
    # Inside: the route to a remote address leaves from the pod address (UDP connect sends
    # nothing).
    out = router_execute(asbd, "net-" + runtime, SOURCE_FOR % "198.51.100.2")
    assert out["stdout"].strip() == ip, out
    # The router's connection arrives over the pod IP, from the bridge's address (not through
    # the sandbox's loopback).
    tcp = router_execute(asbd, "net-" + runtime, "cat /proc/net/tcp")["stdout"]
    assert GATEWAY in peers_of_port(tcp, 8888), tcp
    # A second sandbox gets another address.
    _, pod2 = make_sandbox(kubectl, runtime, "net2-" + runtime)
    assert pod2["status"]["podIP"] != ip
    # Deleting a sandbox releases its address and veth.
    kubectl("delete", "sandbox", "net2-" + runtime, "--wait=true", "--timeout=60s")
    veths = [l for l in host_links() if l.startswith("asbv")]
    wait_for(lambda: len([l for l in host_links() if l.startswith("asbv")]) == 1,
             "one veth left after deleting one of two sandboxes (had %s)" % veths, timeout=30)


def test_address_survives_an_asbd_restart(asbd, kubectl, netcheck):
    _, pod = make_sandbox(kubectl, "native", "keep")
    ip = pod["status"]["podIP"]
    asbd.stop()
    assert "asb0" in host_links(), "the bridge went while a sandbox still uses it"
    asbd.start()
    kubectl("wait", "--for=condition=Ready", "sandbox/keep", "--timeout=60s")
    pod = json.loads(kubectl("get", "pod", "keep", "-o", "json").stdout)
    assert pod["status"]["podIP"] == ip
    assert router_execute(asbd, "keep", "echo hi")["stdout"].strip() == "hi"
