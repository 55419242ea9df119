#!/usr/bin/env python3
"""kubectl exec round trip vs the same exec through the router, in one run.

Starts its own `asbd serve` (temp state dir), one Sandbox per runtime, and measures, per runtime:
  kubectl exec POD -- true           the real command (includes kubectl's own ~start-up)
  kubectl get pod POD                what any kubectl command costs here (process, TLS, GET)
  pods/exec WebSocket, no kubectl    the API server path: TLS -> API server -> node -> agent
  router WebSocket /v1/remotecommand the same agent session through the router (X-Sandbox-ID)
  router POST /execute {"command":"true"}  the seed's exec API, for reference

    python3 bench/kubectl_exec_bench.py [--runs 30] [--runtimes native,gvisor] [--bin build/bin]

Needs root (sandboxes) and kubectl on PATH; run under the shared sandbox lock.
"""

import argparse
import base64
import http.client
import json
import os
import socket
import ssl
import statistics
import struct
import subprocess
import time

from bench_asbd import BenchAsbd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def ws_exec(sock, host, target, headers):
    """One remote command session over a connected socket; returns (stdout, status JSON)."""
    key = base64.b64encode(os.urandom(16)).decode()
    req = ["GET %s HTTP/1.1" % target, "Host: " + host, "Connection: Upgrade",
           "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + key,
           "Sec-WebSocket-Protocol: v5.channel.k8s.io"] + headers
    sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError("upgrade refused: %r" % head[:200])
    out, status = b"", None
    while True:
        while len(buf) < 2:
            buf += sock.recv(65536)
        b0, b1 = buf[0], buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            n, off = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack(">Q", buf[2:10])[0], 10
        while len(buf) < off + n:
            buf += sock.recv(65536)
        payload, buf = buf[off:off + n], buf[off + n:]
        op = b0 & 0x0F
        if op == 8:
            sock.sendall(bytes([0x88, 0x82]) + b"\0\0\0\0" + payload[:2])  # masked close reply
            return out, status
        if op == 2 and payload:
            if payload[0] == 1:
                out += payload[1:]
            elif payload[0] == 3:
                status = json.loads(payload[1:])


def percentiles(samples):
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.95))]


def measure(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return percentiles(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--runtimes", default="native,gvisor")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    args = ap.parse_args()
    with BenchAsbd(args.bin, "asb-exec-bench-") as d:
        api, router, token, kube = d.api, d.router, d.token, d.kube
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE  # loopback to our own self-signed server
        auth = "Authorization: Bearer " + token
        print("%-8s %-44s %10s %10s" % ("runtime", "operation", "p50 ms", "p95 ms"))
        for runtime in args.runtimes.split(","):
            name = "bench-" + runtime
            d.create_sandbox(name, runtime)

            def kubectl_exec():
                subprocess.run(kube + ["exec", name, "--", "true"], check=True,
                               capture_output=True)

            def kubectl_get():
                subprocess.run(kube + ["get", "pod", name, "-o", "name"], check=True,
                               capture_output=True)

            def api_ws():
                raw = socket.create_connection((api.hostname, api.port))
                with tls.wrap_socket(raw, server_hostname=api.hostname) as s:
                    _, st = ws_exec(s, api.netloc, "/api/v1/namespaces/default/pods/%s/exec?"
                                    "command=true&stdout=true&stderr=true" % name, [auth])
                    assert st["status"] == "Success", st

            def router_ws():
                with socket.create_connection((router.hostname, router.port)) as s:
                    _, st = ws_exec(s, router.netloc,
                                    "/v1/remotecommand?command=true&stdout=true&stderr=true",
                                    [auth, "X-Sandbox-ID: " + name,
                                     "X-Sandbox-Namespace: default", "X-Sandbox-Port: 8888"])
                    assert st["status"] == "Success", st

            conn = http.client.HTTPConnection(router.hostname, router.port)

            def router_execute():
                conn.request("POST", "/execute", body=json.dumps({"command": "true"}),
                             headers={"Authorization": "Bearer " + token,
                                      "X-Sandbox-ID": name, "X-Sandbox-Namespace": "default",
                                      "X-Sandbox-Port": "8888",
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
                assert r.status == 200 and body["exit_code"] == 0, body

            for label, fn in [("kubectl exec POD -- true", kubectl_exec),
                              ("kubectl get pod POD (kubectl's own cost)", kubectl_get),
                              ("pods/exec WebSocket (no kubectl process)", api_ws),
                              ("router WebSocket /v1/remotecommand", router_ws),
                              ("router POST /execute (keep-alive)", router_execute)]:
                p50, p95 = measure(fn, args.runs)
                print("%-8s %-44s %10.2f %10.2f" % (runtime, label, p50, p95), flush=True)
            conn.close()
            d.delete_sandbox(name)


if __name__ == "__main__":
    main()
