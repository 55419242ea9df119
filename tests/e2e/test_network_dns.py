"""E2E: DNS for sandboxes and egress allowlists by DNS name (net/dns_config.h, net/dns_names.h),
on both runtimes against a real asbd.

A real name server (Debian's dnsmasq) runs on the public test host of test_network.py's
RemoteHost fixture, serving a name for each of its two test HTTP hosts; asbd resolves allowlisted
names through it (--pod-dns-resolver) and sandboxes through their own resolv.conf. Nothing is sent
off this machine: the secure-default test only reads the resolv.conf it was given."""

import json
import os
import signal
import subprocess
import tempfile

import pytest
from waiting import wait_for

from test_network import (HTTP_PORT, blocked_metric, claim_sandbox, netcheck, reach, remote_hosts,
                          router_execute, runtime, template)

__all__ = ["netcheck", "remote_hosts", "runtime"]  # fixtures used below

NAME_A, NAME_B = "a.dns-test.example", "b.dns-test.example"

class DnsServer:
    """dnsmasq in a test host's network namespace, answering from a hosts file with a 1 s TTL
    (asbd's floor is 5 s); point() rewrites the file and makes dnsmasq re-read it (SIGHUP)."""

    def __init__(self, host):
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="asbt-dns-")
        os.chmod(self.dir, 0o755)  # dnsmasq re-reads the file as nobody
        self.hosts = os.path.join(self.dir, "hosts")
        self.proc = None

    def point(self, names):
        with open(self.hosts + ".new", "w") as f:
            for name, addr in names.items():
                f.write("%s %s\n" % (addr, name))
        os.chmod(self.hosts + ".new", 0o644)
        os.rename(self.hosts + ".new", self.hosts)
        if self.proc:
            self.proc.send_signal(signal.SIGHUP)

    def start(self, names):
        self.point(names)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.host.ns, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--addn-hosts=" + self.hosts,
             "--listen-address=" + self.host.addr, "--bind-interfaces", "--local-ttl=1",
             "--pid-file=" + os.path.join(self.dir, "pid"), "--log-queries"],
            stdout=self.log, stderr=self.log)
        wait_for(lambda: (self.lookup(next(iter(names))) == names[next(iter(names))],
                          open(self.log.name).read()),
                 "dnsmasq answers on %s" % self.host.addr, timeout=15)
        return self

    def lookup(self, name):
        """The A record the server gives for `name` (asked from the host)."""
        import socket
        import struct
        q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        try:
            s.sendto(q, (self.host.addr, 53))
            r = s.recv(512)
        except OSError:
            return None
        finally:
            s.close()
        return socket.inet_ntoa(r[-4:]) if struct.unpack(">H", r[6:8])[0] else None

    def close(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        subprocess.run(["rm", "-rf", self.dir])


@pytest.fixture
def dns(asbd, remote_hosts):
    """The name server on the public test host, names A -> the public host and B -> the private
    one, and asbd restarted to resolve allowlisted names through it."""
    public, private = remote_hosts
    server = DnsServer(public)
    try:
        server.start({NAME_A: public.addr, NAME_B: private.addr})
        asbd.stop()
        asbd.extra_args += ["--pod-dns-resolver", public.addr]
        asbd.start()
        yield server, public, private
    finally:
        server.close()


def resolv_conf(asbd, sandbox):
    return router_execute(asbd, sandbox, "cat /etc/resolv.conf")["stdout"]


def resolve_in(asbd, sandbox, name):
    """What the sandbox's own resolver (glibc, through its resolv.conf) answers for `name`."""
    out = router_execute(asbd, sandbox, "python3 -c \"import socket; print(socket.gethostbyname("
                         "'%s'))\"" % name, timeout=30)
    return out["stdout"].strip() or out["stderr"].strip()


def dns_sets():
    """The dnsName sets of the pod firewall (pd_<n>_<i>) with their elements."""
    r = subprocess.run(["nft", "-j", "list", "sets", "ip"], capture_output=True, text=True)
    out = {}
    for item in json.loads(r.stdout or '{"nftables": []}')["nftables"]:
        s = item.get("set")
        if s and s["table"] == "asb" and s["name"].startswith("pd_"):
            out[s["name"]] = sorted(e if isinstance(e, str) else json.dumps(e)
                                    for e in s.get("elem", []))
    return out


def test_dns_name_allowlist_follows_the_record(asbd, kubectl, runtime, dns, netcheck):
    server, public, private = dns
    a = "%s:%d" % (public.addr, HTTP_PORT)
    b = "%s:%d" % (private.addr, HTTP_PORT)
    policy = {"egress": [
        {"to": [{"ipBlock": {"cidr": public.addr + "/32"}}],
         "ports": [{"protocol": "UDP", "port": 53}]},
        {"to": [{"dnsName": NAME_A}], "ports": [{"port": HTTP_PORT}]}]}
    name = "fqdn-" + runtime
    kubectl("apply", "-f", "-", input=template(
        name, runtime,
        dns="      dnsPolicy: None\n      dnsConfig:\n        nameservers: [%s]\n"
            "        searches: [dns-test.example]\n        options: [{name: ndots, value: \"1\"}]\n"
            % public.addr,
        policy=json.dumps(policy)))
    wait_for(lambda: (list(dns_sets().values()) == [[public.addr]], dns_sets()),
             "the node resolved %s into the policy's set" % NAME_A, timeout=20)
    claim_sandbox(kubectl, "c-" + name, name)
    sandbox = "c-" + name

    # The pod's dnsConfig is its resolv.conf, and its own resolver uses it.
    conf = resolv_conf(asbd, sandbox)
    assert "nameserver %s\n" % public.addr in conf, conf
    assert "search dns-test.example\n" in conf and "options ndots:1\n" in conf, conf
    assert resolve_in(asbd, sandbox, NAME_A) == public.addr
    assert resolve_in(asbd, sandbox, "b") == private.addr  # through the search domain

    # The allowlisted name's host is reachable; the other is refused and counted.
    got = reach(asbd, sandbox, [a, b])
    assert got[a] == "ok" and got[b] != "ok", got
    wait_for(lambda: (blocked_metric(asbd, sandbox, "egress") >= 1,
                      blocked_metric(asbd, sandbox, "egress")),
             "the refused connection counted", timeout=15)

    # The record moves to the other host: the allowance follows within the TTL floor (5 s) and
    # a lookup, on the running sandbox.
    server.point({NAME_A: private.addr, NAME_B: public.addr})
    wait_for(lambda: (server.lookup(NAME_A) == private.addr, server.lookup(NAME_A)),
             "dnsmasq re-read its hosts file", timeout=10)

    def moved():
        got = reach(asbd, sandbox, [a, b])
        return got[b] == "ok" and got[a] != "ok", (got, dns_sets())
    wait_for(moved, "the allowance moved with the record", timeout=30)
    assert list(dns_sets().values()) == [[private.addr]], dns_sets()

    # The server fails: the last good answer stays in force (and asbd says so in its log).
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    wait_for(lambda: ("its last addresses stay allowed" in asbd.log(), None),
             "asbd logged the failed lookup", timeout=30)
    assert reach(asbd, sandbox, [b])[b] == "ok"

    # Deleting the template takes its chains and sets away.
    kubectl("delete", "sandboxclaims.extensions.agents.x-k8s.io", sandbox, "--wait=true",
            "--timeout=60s")
    kubectl("delete", "sandboxtemplates.extensions.agents.x-k8s.io", name)
    wait_for(lambda: (dns_sets() == {}, dns_sets()), "the template's dnsName sets gone",
             timeout=20)
    dns_dir = os.path.join(asbd.state_dir, "net", "dns")
    wait_for(lambda: (not os.listdir(dns_dir), os.listdir(dns_dir)),
             "the stopped sandbox's resolv.conf removed", timeout=30)


def test_secure_default_resolv_conf_and_default_policy(asbd, kubectl, runtime, netcheck):
    """A Managed template without a networkPolicy (upstream's secure default) gets upstream's
    public resolvers; a pod asking for dnsPolicy Default gets the node's minus loopback servers.
    Nothing is resolved: no traffic leaves."""
    name = "sd-" + runtime
    kubectl("apply", "-f", "-", input=template(name, runtime))
    claim_sandbox(kubectl, "c-" + name, name)
    conf = resolv_conf(asbd, "c-" + name)
    assert [l for l in conf.splitlines() if not l.startswith("#")] == [
        "nameserver 8.8.8.8", "nameserver 1.1.1.1"], conf

    default = "def-" + runtime
    kubectl("apply", "-f", "-", input=template(
        default, runtime, dns="      dnsPolicy: Default\n"))
    claim_sandbox(kubectl, "c-" + default, default)
    conf = resolv_conf(asbd, "c-" + default)
    with open("/etc/resolv.conf") as f:
        host = [l.split()[1] for l in f if l.startswith("nameserver ") and len(l.split()) > 1]
    want = [s for s in host if ":" not in s and not s.startswith("127.")] or ["8.8.8.8",
                                                                              "1.1.1.1"]
    got = [l.split()[1] for l in conf.splitlines() if l.startswith("nameserver ")]
    assert got == want[:3], (conf, host)
    assert "dnsPolicy Default" in conf, conf
