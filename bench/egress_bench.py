#!/usr/bin/env python3
"""Egress throughput: a sandbox downloading from a "remote" host, beside the host doing the same.

Starts its own `asbd serve` (pod network on, the node's default egress policy), a test host in a
network namespace of its own on a TEST-NET-2 address (198.51.100.2, reached over a veth, as
tests/e2e/test_network.py makes them; no traffic leaves the machine) running a TCP server that
sends --mib MiB to each connection, and one sandbox per runtime. Then, alternating, --runs times:
  host       the same client on the host (root netns -> veth -> test host): the baseline
  <runtime>  the client inside the sandbox (`kubectl exec`): veth -> bridge asb0 -> nft
             (policy, masquerade) -> veth -> test host
and prints MiB/s (median and best) with the sandbox's ratio to the host.

    python3 bench/egress_bench.py [--bin build/bin] [--runtimes native,gvisor] [--mib 256]
                                  [--runs 3]

Needs root, `ip`, kubectl on PATH; run under the shared sandbox lock.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench_asbd import BenchAsbd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_SIDE, REMOTE = "198.51.100.1", "198.51.100.2"
PORT = 8100

# Sends MIB MiB to every connection, one connection at a time.
SERVER = r"""
import socket, sys
n = int(sys.argv[2]) << 20
buf = bytes(1 << 20)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], %d)); s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    left = n
    while left:
        k = min(left, len(buf)); c.sendall(buf[:k]); left -= k
    c.close()
""" % PORT

# Reads everything from the server; prints bytes and seconds.
CLIENT = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], %d), timeout=30)
buf = bytearray(1 << 20); got = 0; t0 = time.perf_counter()
while True:
    k = s.recv_into(buf)
    if not k: break
    got += k
print(got, time.perf_counter() - t0)
""" % PORT


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


class TestHost:
    def __init__(self, mib):
        self.ns = "asbb-egress-%d" % os.getpid()
        self.veth = "asbbe%d" % (os.getpid() % 100000)
        self.mib = mib
        self.server = None

    def __enter__(self):
        try:
            ip("netns", "add", self.ns)
            ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
            ip("addr", "add", HOST_SIDE + "/24", "dev", self.veth)
            ip("link", "set", self.veth, "up")
            ip("-n", self.ns, "addr", "add", REMOTE + "/24", "dev", "eth0")
            ip("-n", self.ns, "link", "set", "eth0", "up")
            ip("-n", self.ns, "link", "set", "lo", "up")
            ip("-n", self.ns, "route", "add", "default", "via", HOST_SIDE)
            self.server = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, sys.executable, "-c", SERVER, REMOTE,
                 str(self.mib)], stdout=subprocess.PIPE, text=True)
            if self.server.stdout.readline().strip() != "ready":
                raise SystemExit("the test host's server did not start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.server:
            self.server.kill()
            self.server.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)


def mib_per_s(out, mib):
    got, secs = out.split()
    if int(got) != mib << 20:
        raise SystemExit("short download: %s of %d bytes" % (got, mib << 20))
    return mib / float(secs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--runtimes", default="native,gvisor")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runtimes = args.runtimes.split(",")
    with TestHost(args.mib), BenchAsbd(args.bin, "asb-egress-bench-") as d:
        for rt in runtimes:
            d.create_sandbox("egress-" + rt, rt)
        figures = {name: [] for name in ["host"] + runtimes}
        for _ in range(args.runs):
            r = subprocess.run([sys.executable, "-c", CLIENT, REMOTE], check=True,
                               capture_output=True, text=True)
            figures["host"].append(mib_per_s(r.stdout, args.mib))
            for rt in runtimes:
                r = subprocess.run(d.kube + ["exec", "egress-" + rt, "--", "python3", "-c",
                                             CLIENT, REMOTE], capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit("download in the %s sandbox failed: %s" % (rt, r.stderr))
                figures[rt].append(mib_per_s(r.stdout, args.mib))
        for rt in runtimes:
            d.delete_sandbox("egress-" + rt)
    host = statistics.median(figures["host"])
    print("\negress throughput, %d MiB per download, %d runs each, alternating (%s)" %
          (args.mib, args.runs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    print("%-10s %12s %12s %10s" % ("client", "MiB/s p50", "MiB/s max", "vs host"))
    for name, xs in figures.items():
        print("%-10s %12.0f %12.0f %9.2fx" % (name, statistics.median(xs), max(xs),
                                              statistics.median(xs) / host))


if __name__ == "__main__":
    main()
