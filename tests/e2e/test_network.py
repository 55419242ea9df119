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
import socket
import subprocess
import threading
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


PUBLIC = ("198.51.100.1", "198.51.100.2")    # TEST-NET-2: (host side, remote host)
PRIVATE = ("172.31.254.1", "172.31.254.2")   # a private address (172.16.0.0/12)
HTTP_PORT = 8000


class RemoteHost:
    """A "remote" host on this machine: a network namespace of its own reached over a veth with
    a route from the host, running an HTTP server on its address. close() removes everything,
    and is safe to call after a partial start."""

    def __init__(self, tag, host_addr, addr):
        self.ns = "asbt-%s-%d" % (tag, os.getpid())
        self.veth = "asbt%s%d" % (tag[:2], os.getpid() % 100000)
        self.host_addr, self.addr = host_addr, addr
        self.server = None

    def start(self):
        ip = lambda *a: subprocess.run(["ip"] + list(a), check=True, capture_output=True)
        ip("netns", "add", self.ns)
        ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        ip("addr", "add", self.host_addr + "/24", "dev", self.veth)
        ip("link", "set", self.veth, "up")
        ip("-n", self.ns, "addr", "add", self.addr + "/24", "dev", "eth0")
        ip("-n", self.ns, "link", "set", "eth0", "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "route", "add", "default", "via", self.host_addr)
        self.log = open(os.path.join("/tmp", self.ns + ".log"), "w+")
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "python3", "-m", "http.server", str(HTTP_PORT),
             "--bind", self.addr], stdout=self.log, stderr=self.log)

        def answers():
            try:
                with urllib.request.urlopen("http://%s:%d/" % (self.addr, HTTP_PORT),
                                            timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(answers, "test host %s answers from the host" % self.addr, timeout=15)
        return self

    def requests_from(self):
        """Client addresses in the server's access log."""
        self.log.flush()
        with open(self.log.name) as f:
            return [l.split()[0] for l in f if '"GET ' in l]

    def close(self):
        if self.server:
            self.server.kill()
            self.server.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        if getattr(self, "log", None):
            self.log.close()
            os.unlink(self.log.name)


@pytest.fixture
def remote_hosts():
    hosts = []
    try:
        for tag, (host_addr, addr) in (("pub", PUBLIC), ("priv", PRIVATE)):
            hosts.append(RemoteHost(tag, host_addr, addr))
            hosts[-1].start()
        yield hosts[0], hosts[1]
    finally:
        for h in hosts:
            h.close()


@pytest.fixture
def host_service():
    """A TCP service of the host's on all its addresses (what a sandbox must never reach)."""
    srv = socket.socket()
    srv.bind(("0.0.0.0", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                c.sendall(b"host\n")
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def host_addresses():
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True,
                         check=True)
    return [a["local"] for l in json.loads(out.stdout) for a in l.get("addr_info", [])
            if not l["ifname"].startswith("asbt")]


# Run inside a sandbox: one line per target, "ok" or the error's name.
PROBE = r"""python3 -c "
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(':', 1)
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        if port == '%d':
            s.sendall(b'GET / HTTP/1.0\r\n\r\n')
            print(target, 'ok' if s.recv(12).startswith(b'HTTP/1.0 200') else 'bad-answer')
        else:
            print(target, 'ok')
    except OSError as e:
        print(target, type(e).__name__)
" """ % HTTP_PORT


def reach(asbd, sandbox, targets):
    out = router_execute(asbd, sandbox, PROBE + " ".join(targets), timeout=60)
    return dict(line.split() for line in out["stdout"].splitlines())


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


def veth_of(ip):
    """The host end of the veth of pod address `ip` (net::PodNetwork::VethName)."""
    return "asbv%08x" % int(ipaddress.ip_address(ip))


def sandbox_veths(asbd):
    """The host's veths that belong to sandboxes (not to asbd's pre-wired namespaces, whose
    addresses its IPAM file holds as "pool:<n>")."""
    with open(os.path.join(asbd.state_dir, "net", "ipam.json")) as f:
        allocations = json.load(f).get("allocations", {})
    pool = {veth_of(ip) for key, ip in allocations.items() if key.startswith("pool:")}
    return [l for l in host_links() if l.startswith("asbv") and l not in pool]


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
    wait_for(lambda: (not sandbox_veths(asbd), sandbox_veths(asbd)),
             "no sandbox veth left after deleting every sandbox", timeout=30)
    asbd.stop()
    # The pre-wired namespaces go with asbd (the kernel removes their veths asynchronously).
    wait_for(lambda: (network_leftovers() == [], network_leftovers()),
             "nothing of the pod network left once asbd stopped", timeout=30)


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
    assert veth_of(pod2["status"]["podIP"]) in sandbox_veths(asbd)
    kubectl("delete", "sandbox", "net2-" + runtime, "--wait=true", "--timeout=60s")
    wait_for(lambda: (sandbox_veths(asbd) == [veth_of(ip)], sandbox_veths(asbd)),
             "only the first sandbox's veth left after deleting the second", timeout=30)


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


def test_default_policy(asbd, kubectl, runtime, remote_hosts, host_service, netcheck):
    public, private = remote_hosts
    make_sandbox(kubectl, runtime, "a-" + runtime)
    _, other = make_sandbox(kubectl, runtime, "b-" + runtime)
    targets = {
        "public": "%s:%d" % (public.addr, HTTP_PORT),
        "private": "%s:%d" % (private.addr, HTTP_PORT),
        "other sandbox": "%s:8888" % other["status"]["podIP"],
        "host via the bridge": "%s:%d" % (GATEWAY, host_service),
    }
    for i, addr in enumerate(host_addresses()):
        targets["host address %s" % addr] = "%s:%d" % (addr, host_service)
    seen = len(public.requests_from())  # start() checked it from the host
    got = reach(asbd, "a-" + runtime, list(targets.values()))
    assert got[targets["public"]] == "ok", got
    # Masqueraded: the remote host saw the host's address, not the pod's.
    assert public.requests_from()[seen:] == [PUBLIC[0]], public.requests_from()
    refused = {name: got[t] for name, t in targets.items() if name != "public"}
    assert all(v != "ok" for v in refused.values()), refused
    assert len(private.requests_from()) == 1  # only start()'s own check
    # Ingress: the remote hosts cannot open a connection to a sandbox; the node can.
    r = subprocess.run(["ip", "netns", "exec", public.ns, "python3", "-c",
                        "import socket; socket.create_connection(('%s', 8888), timeout=2)"
                        % other["status"]["podIP"]], capture_output=True, text=True)
    assert r.returncode != 0, "a remote host reached a sandbox"
    socket.create_connection((other["status"]["podIP"], 8888), timeout=2).close()
    # The drops were counted.
    table = subprocess.run(["nft", "list", "table", "ip", "asb"], capture_output=True,
                           text=True, check=True).stdout
    assert "egress to a blocked range" in table and "sandbox to a host service" in table


@pytest.fixture
def deny_all(asbd):
    asbd.stop()
    asbd.extra_args += ["--pod-egress", "deny-all"]
    asbd.start()
    return asbd


def test_deny_all_lets_nothing_out(deny_all, kubectl, runtime, remote_hosts, host_service,
                                   netcheck):
    public, private = remote_hosts
    make_sandbox(kubectl, runtime, "d-" + runtime)
    targets = ["%s:%d" % (public.addr, HTTP_PORT), "%s:%d" % (private.addr, HTTP_PORT),
               "%s:%d" % (GATEWAY, host_service)]
    seen = len(public.requests_from())
    got = reach(deny_all, "d-" + runtime, targets)
    assert all(v != "ok" for v in got.values()), got
    assert len(public.requests_from()) == seen
    # The router still reaches it (that is how the probe ran).
    assert router_execute(deny_all, "d-" + runtime, "echo in")["stdout"].strip() == "in"


TEMPLATE = """apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxTemplate
metadata:
  name: {name}
  namespace: default
spec:
  podTemplate:
    spec:
      runtimeClassName: {runtime}
{dns}      containers:
      - name: main
        image: %s
        ports:
        - containerPort: 8888
        readinessProbe:
          httpGet: {{path: "/", port: 8888}}
          periodSeconds: 1
{policy}""" % IMAGE


def template(name, runtime, policy=None, dns=""):
    """A SandboxTemplate of IMAGE: `policy` (JSON text) as its networkPolicy, none when None;
    `dns` pod-spec lines (dnsPolicy, dnsConfig) indented under `spec:`."""
    return TEMPLATE.format(name=name, runtime=runtime, dns=dns,
                           policy="" if policy is None else "  networkPolicy: %s\n" % policy)


CLAIM = """apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxClaim
metadata:
  name: {name}
  namespace: default
spec:
  sandboxTemplateRef:
    name: {template}
"""


def claim_sandbox(kubectl, name, template):
    kubectl("apply", "-f", "-", input=CLAIM.format(name=name, template=template))
    kubectl("wait", "--for=condition=Ready", "sandboxclaims.extensions.agents.x-k8s.io/" + name,
            "--timeout=120s")


def allow_to(cidr, port=HTTP_PORT):
    return json.dumps({"egress": [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": port}]}]})


def policy_elements():
    """The pod addresses in the firewall's policy maps (nft_ruleset.h)."""
    out = []
    for m in ("egress_policy", "ingress_policy"):
        text = subprocess.run(["nft", "list", "map", "ip", "asb", m], capture_output=True,
                              text=True, check=True).stdout
        out += [l.strip() for l in text.splitlines() if "goto" in l]
    return out


def test_template_policy_is_enforced_exactly_and_updates_running_sandboxes(
        asbd, kubectl, runtime, remote_hosts, host_service, netcheck):
    public, private = remote_hosts
    pub = "%s:%d" % (public.addr, HTTP_PORT)
    priv = "%s:%d" % (private.addr, HTTP_PORT)
    host = "%s:%d" % (GATEWAY, host_service)
    # An allowlist naming only the private test host, which the default would refuse.
    kubectl("apply", "-f", "-", input=template(
        "allow-" + runtime, runtime, policy=allow_to(private.addr + "/32")))
    claim_sandbox(kubectl, "c-" + runtime, "allow-" + runtime)
    got = reach(asbd, "c-" + runtime, [pub, priv, host])
    assert got[priv] == "ok" and got[pub] != "ok", got
    assert got[host] != "ok", got  # the host's services stay closed whatever a policy says
    # The router still reaches it (the node is never filtered), and the drop was counted.
    table = subprocess.run(["nft", "list", "table", "ip", "asb"], capture_output=True,
                           text=True, check=True).stdout
    assert "egress not allowed by the template's networkPolicy" in table, table

    # An update reaches the running sandbox: now only the public host.
    kubectl("patch", "sandboxtemplates.extensions.agents.x-k8s.io", "allow-" + runtime,
            "--type=merge", "-p", json.dumps({"spec": {"networkPolicy": json.loads(
                allow_to("198.51.100.0/24"))}}))
    def only_public():
        got = reach(asbd, "c-" + runtime, [pub, priv])
        return got[pub] == "ok" and got[priv] != "ok", got
    wait_for(only_public, "the updated policy in force on the running sandbox", timeout=30)

    # Unmanaged: the template's policy no longer applies; the node's default does.
    kubectl("patch", "sandboxtemplates.extensions.agents.x-k8s.io", "allow-" + runtime,
            "--type=merge", "-p", '{"spec": {"networkPolicyManagement": "Unmanaged"}}')
    wait_for(lambda: (policy_elements() == [], policy_elements()),
             "the sandbox's address out of the policy maps", timeout=20)
    got = reach(asbd, "c-" + runtime, [pub, priv])
    assert got[pub] == "ok" and got[priv] != "ok", got


def test_template_deny_all_and_nothing_left(asbd, kubectl, runtime, remote_hosts, netcheck):
    public, private = remote_hosts
    pub = "%s:%d" % (public.addr, HTTP_PORT)
    priv = "%s:%d" % (private.addr, HTTP_PORT)
    # Upstream: an empty egress list is "Default Deny".
    kubectl("apply", "-f", "-", input=template(
        "deny-" + runtime, runtime, policy='{"egress": [], "ingress": []}'))
    claim_sandbox(kubectl, "d-" + runtime, "deny-" + runtime)
    seen = len(public.requests_from())
    got = reach(asbd, "d-" + runtime, [pub, priv])
    assert all(v != "ok" for v in got.values()), got
    assert len(public.requests_from()) == seen
    assert len(policy_elements()) == 2, policy_elements()  # one address, both directions
    kubectl("delete", "sandboxclaims.extensions.agents.x-k8s.io", "d-" + runtime,
            "--wait=true", "--timeout=60s")
    wait_for(lambda: (policy_elements() == [], policy_elements()),
             "the deleted sandbox's address out of the policy maps", timeout=30)
    kubectl("delete", "sandboxtemplates.extensions.agents.x-k8s.io", "deny-" + runtime)
    wait_for(lambda: ("chain pe_" not in subprocess.run(
        ["nft", "list", "table", "ip", "asb"], capture_output=True, text=True).stdout, None),
        "the deleted template's chains gone", timeout=20)


def blocked_metric(asbd, sandbox, direction):
    """asb_sandbox_network_blocked_total of `sandbox` on /metrics (0 when it has no series)."""
    req = urllib.request.Request(asbd.plain_url + "/metrics",
                                 headers={"Authorization": "Bearer " + asbd.token})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    want = 'sandbox="%s"' % sandbox
    for line in text.splitlines():
        if (line.startswith("asb_sandbox_network_blocked_total{") and want in line
                and 'direction="%s"' % direction in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def blocked_events(kubectl, sandbox):
    events = json.loads(kubectl("get", "events", "-o", "json").stdout)["items"]
    return [e for e in events if e.get("reason") == "NetworkBlocked"
            and e["involvedObject"].get("kind") == "Sandbox"
            and e["involvedObject"].get("name") == sandbox]


def test_blocked_connections_are_counted_and_named(asbd, kubectl, runtime, remote_hosts,
                                                   netcheck):
    """A connection the policy refuses (a private-range host) is counted per sandbox on /metrics
    and named in a NetworkBlocked event on the Sandbox, so a user learns why it hangs; an allowed
    one (the public-range host) counts nothing."""
    public, private = remote_hosts
    name = "blocked-" + runtime
    make_sandbox(kubectl, runtime, name)
    allowed = "%s:%d" % (public.addr, HTTP_PORT)
    assert reach(asbd, name, [allowed]) == {allowed: "ok"}
    assert blocked_metric(asbd, name, "egress") == 0
    assert blocked_events(kubectl, name) == []

    refused = "%s:%d" % (private.addr, HTTP_PORT)
    assert reach(asbd, name, [refused])[refused] != "ok"
    wait_for(lambda: (blocked_metric(asbd, name, "egress") >= 1,
                      blocked_metric(asbd, name, "egress")),
             "the refused connection counted on /metrics", timeout=15)
    wait_for(lambda: (len(blocked_events(kubectl, name)) == 1, blocked_events(kubectl, name)),
             "a NetworkBlocked event on the Sandbox", timeout=15)
    ev = blocked_events(kubectl, name)[0]
    assert ev["type"] == "Warning", ev
    assert "egress to %s/TCP" % refused in ev["message"], ev
    assert blocked_metric(asbd, name, "ingress") == 0
    # The allowed host still counts nothing: the counter is the refused connection's alone.
    before = blocked_metric(asbd, name, "egress")
    assert reach(asbd, name, [allowed]) == {allowed: "ok"}
    assert blocked_metric(asbd, name, "egress") == before


def bridge_link_local():
    """The bridge's IPv6 link-local addresses once usable (DAD done: not tentative)."""
    out = subprocess.run(["ip", "-j", "-6", "addr", "show", "dev", "asb0"], capture_output=True,
                         text=True, check=True)
    return [a["local"] for l in json.loads(out.stdout) for a in l.get("addr_info", [])
            if a.get("scope") == "link" and not a.get("tentative")]


def test_no_ipv6_reaches_the_host(asbd, kubectl, runtime, netcheck):
    """Sandboxes are IPv4-only: the firewall is `ip` family, so an IPv6 path from a sandbox (the
    link-local addresses a veth and the bridge get by default) would reach host services on [::]
    unfiltered. A host service on [::] is refused over the bridge's link-local address, and an
    IPv6 destination fails at once (clients fall back to IPv4 without waiting)."""
    srv = socket.socket(socket.AF_INET6)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    srv.bind(("::", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    try:
        name = "v6-" + runtime
        make_sandbox(kubectl, runtime, name)
        # The kernel gives the bridge its link-local address once a port is up and DAD is done.
        wait_for(lambda: (bridge_link_local() != [], None),
                 "the bridge's IPv6 link-local address", timeout=20)
        targets = ["%s%%eth0" % a for a in bridge_link_local()] + ["2001:db8::1"]
        script = ("python3 -c \"import socket, sys, time\n"
                  "for host in sys.argv[1:]:\n"
                  "    s = socket.socket(socket.AF_INET6); s.settimeout(3); t = time.monotonic()\n"
                  "    try:\n"
                  "        s.connect((host, %d)); print(host, 'ok', 0)\n"
                  "    except OSError as e:\n"
                  "        print(host, type(e).__name__, round(time.monotonic() - t, 3))\n"
                  "\" " % port) + " ".join(targets)
        out = router_execute(asbd, name, script, timeout=60)
        lines = [l.split() for l in out["stdout"].splitlines()]
        assert len(lines) == len(targets), out
        for host, result, seconds in lines:
            assert result != "ok", "%s reached the host's [::]:%d" % (host, port)
            assert float(seconds) < 0.5, lines  # refused locally, not a timeout
    finally:
        srv.close()
