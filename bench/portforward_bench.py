#!/usr/bin/env python3
"""kubectl port-forward throughput vs the same download through the router, in one run.

Starts its own `asbd serve` (temp state dir), one Sandbox per runtime, uploads a file of
--mib MiB into it, and downloads it (GET /download/FILE from asb-agent on 8888), per runtime:
  router (bearer token, X-Sandbox-ID)        the seed's data path: router -> node -> agent
  kubectl port-forward pod (WebSocket)       kubectl 1.32's default: SPDY tunnelled in WebSocket
  kubectl port-forward pod (SPDY upgrade)    KUBECTL_PORT_FORWARD_WEBSOCKETS=false
  kubectl port-forward svc/sandbox-router-svc  tunnel to the embedded router, then the router
Each download is verified (SHA-256). Prints MiB/s (median and best of --runs) and the median
time to first byte of a tiny request through the same path.

    python3 bench/portforward_bench.py [--runs 5] [--mib 64] [--runtimes native,gvisor]

Needs root (sandboxes) and kubectl on PATH; run under the shared sandbox lock.
"""

import argparse
import hashlib
import http.client
import os
import re
import statistics
import subprocess
import time

from bench_asbd import BenchAsbd
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def port_forward(kube, target, remote, websocket=True):
    env = dict(os.environ, KUBECTL_PORT_FORWARD_WEBSOCKETS="true" if websocket else "false")
    p = subprocess.Popen(kube + ["port-forward", target, ":%d" % remote], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"127\.0\.0\.1:(\d+)", p.stdout.readline())
    if not m:
        p.kill()
        raise SystemExit("port-forward %s did not start" % target)
    return p, int(m.group(1))


def download(host, port, path, headers, want_sha):
    conn = http.client.HTTPConnection(host, port, timeout=120)
    t0 = time.monotonic()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    dt = time.monotonic() - t0
    conn.close()
    assert r.status == 200 and h.digest() == want_sha, (r.status, n)
    return n / dt / (1 << 20)


def first_byte_ms(host, port, headers):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    t0 = time.monotonic()
    conn.request("GET", "/", headers=headers)
    r = conn.getresponse()
    r.read()
    conn.close()
    return (time.monotonic() - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--runtimes", default="native,gvisor")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    args = ap.parse_args()
    with BenchAsbd(args.bin, "asb-pf-bench-") as d:
        forwards = []
        try:
            router, token, kube = d.router, d.token, d.kube
            data = os.urandom(args.mib << 20)
            sha = hashlib.sha256(data).digest()
            print("%-8s %-44s %10s %10s %10s" % ("runtime", "path (%d MiB download)" % args.mib,
                                                 "MiB/s p50", "MiB/s max", "GET / ms"))
            for runtime in args.runtimes.split(","):
                name = "pfbench-" + runtime
                d.create_sandbox(name, runtime)
                sandbox = {"X-Sandbox-ID": name, "X-Sandbox-Namespace": "default"}
                boundary = uuid.uuid4().hex
                body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\""
                         "\r\nContent-Type: application/octet-stream\r\n\r\n" % boundary).encode()
                        + data + ("\r\n--%s--\r\n" % boundary).encode())
                conn = http.client.HTTPConnection(router.hostname, router.port, timeout=120)
                conn.request("POST", "/upload", body=body, headers=dict(
                    sandbox, **{"Authorization": "Bearer " + token,
                                "Content-Type": "multipart/form-data; boundary=" + boundary}))
                assert conn.getresponse().status == 200
                conn.close()

                pf_ws = port_forward(kube, "pod/" + name, 8888, websocket=True)
                pf_spdy = port_forward(kube, "pod/" + name, 8888, websocket=False)
                pf_svc = port_forward(kube + ["-n", "agent-sandbox-system"],
                                      "svc/sandbox-router-svc", 8080)
                forwards += [pf_ws[0], pf_spdy[0], pf_svc[0]]
                paths = [
                    ("router (bearer token, X-Sandbox-ID)", router.hostname, router.port,
                     dict(sandbox, Authorization="Bearer " + token)),
                    ("kubectl port-forward pod (WebSocket)", "127.0.0.1", pf_ws[1], {}),
                    ("kubectl port-forward pod (SPDY upgrade)", "127.0.0.1", pf_spdy[1], {}),
                    ("kubectl port-forward svc/sandbox-router-svc", "127.0.0.1", pf_svc[1], sandbox),
                ]
                for label, host, port, headers in paths:
                    download(host, port, "/download/big.bin", headers, sha)  # warm-up
                    rates = [download(host, port, "/download/big.bin", headers, sha)
                             for _ in range(args.runs)]
                    ttfb = statistics.median(first_byte_ms(host, port, headers) for _ in range(20))
                    print("%-8s %-44s %10.0f %10.0f %10.2f" % (
                        runtime, label, statistics.median(rates), max(rates), ttfb), flush=True)
                for p in forwards:
                    p.terminate()
                    p.wait(timeout=10)
                forwards = []
                d.delete_sandbox(name)
        finally:
            for p in forwards:
                p.kill()


if __name__ == "__main__":
    main()
