"""A private `asbd serve` for the Python benchmarks, and a Sandbox in it per runtime.

    with BenchAsbd(bin_dir, "asb-exec-bench-") as d:
        d.create_sandbox("bench-native", "native")
        subprocess.run(d.kube + ["exec", "bench-native", "--", "true"])
        d.delete_sandbox("bench-native")

The daemon gets a temp state dir and kernel-chosen ports; everything it learns about itself
comes from the kubeconfig it writes, as for a user (API URL, token, the router's URL in the
asb.dev/router extension).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

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
        image: registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0
        readinessProbe:
          httpGet: {{path: "/", port: 8888}}
"""


class BenchAsbd:
    def __init__(self, bin_dir, prefix):
        self.kubectl = shutil.which("kubectl")
        if not self.kubectl:
            raise SystemExit("kubectl not found on PATH")
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.state = os.path.join(self.tmp, "state")
        self.kubeconfig = os.path.join(self.state, "kubeconfig")
        self._log = open(os.path.join(self.tmp, "asbd.log"), "wb")
        self.daemon = subprocess.Popen(
            [os.path.join(bin_dir, "asbd"), "serve", "--state-dir", self.state,
             "--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"]
            # For an A/B of one daemon setting in the same command, e.g.
            # ASB_BENCH_SERVE_ARGS="--config /tmp/refill0.json".
            + os.environ.get("ASB_BENCH_SERVE_ARGS", "").split(),
            stdout=self._log, stderr=self._log)

    def __enter__(self):
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(self.kubeconfig):
                if time.monotonic() > deadline or self.daemon.poll() is not None:
                    raise SystemExit("asbd did not write its kubeconfig; see %s/asbd.log"
                                     % self.tmp)
                time.sleep(0.02)
            kc = json.load(open(self.kubeconfig))
            cluster = kc["clusters"][0]["cluster"]
            self.api = urllib.parse.urlparse(cluster["server"])
            self.router = urllib.parse.urlparse(next(e["extension"]["server"]
                                                     for e in cluster["extensions"]
                                                     if e["name"] == "asb.dev/router"))
            self.token = kc["users"][0]["user"]["token"]
            self.kube = [self.kubectl, "--kubeconfig", self.kubeconfig,
                         "--cache-dir", os.path.join(self.tmp, "cache")]
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.daemon.wait(timeout=20)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def create_sandbox(self, name, runtime):
        """Applies Sandbox `name` of `runtime` and waits until its pod is Ready."""
        subprocess.run(self.kube + ["apply", "-f", "-"], input=SANDBOX.format(
            name=name, runtime=runtime), text=True, check=True, capture_output=True)
        subprocess.run(self.kube + ["wait", "--for=condition=Ready", "pod/" + name,
                                    "--timeout=60s"], check=True, capture_output=True)

    def delete_sandbox(self, name):
        subprocess.run(self.kube + ["delete", "sandbox", name, "--wait=true"], check=True,
                       capture_output=True)
