#!/usr/bin/env python3
"""Image pulls and starts of a pulled image, against their yardsticks, in one run:

  cold pull    `asbctl image pull` of a ~100 MiB image (one incompressible layer, gzip) from a
               loopback docker-registry, vs `skopeo copy docker://... dir:` of the same image
               (download and digest check, no unpack): goal <= 1x;
  cached start a pod of the cached image (asb-agent injected) until Ready, vs a pod of the
               built-in image: goal <= 1.2x; per runtime.

Rounds alternate the two sides so drift on a shared machine hits both. Run under the sandbox
lock, at normal CPU share (COMMON rules), e.g.
    flock /tmp/asb-sandbox.lock /work/helpers/quiet python3 bench/image_bench.py build/bin
Needs docker-registry, umoci, skopeo, kubectl (scripts/install-deps.sh).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)

from bench_asbd import BenchAsbd  # noqa: E402
from oci_images import BUSYBOX_LINKS, Registry, build_image, pod, run  # noqa: E402

BUILTIN = "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"
ROUNDS = int(os.environ.get("ASB_IMAGE_BENCH_ROUNDS", "3"))


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def pod_ready_seconds(d, name, image, runtime):
    obj = pod(name, image, runtime,
              readinessProbe={"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1})
    obj["spec"]["restartPolicy"] = "Always"
    t = time.monotonic()
    subprocess.run(d.kube + ["apply", "-f", "-"], input=json.dumps(obj), text=True, check=True,
                   capture_output=True)
    subprocess.run(d.kube + ["wait", "--for=condition=Ready", "pod/" + name, "--timeout=120s"],
                   check=True, capture_output=True)
    took = time.monotonic() - t
    subprocess.run(d.kube + ["delete", "pod", name, "--wait=true"], check=True,
                   capture_output=True)
    return took


def main():
    bin_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bin")
    asbctl = os.path.join(bin_dir, "asbctl")
    root = tempfile.mkdtemp(prefix="asb-image-bench-")
    reg = Registry(root)
    try:
        layout = os.path.join(root, "layout")
        build_image(layout, "big", dict(BUSYBOX_LINKS, **{"/data/blob": os.urandom(100 << 20)}),
                    ["--config.cmd", "sh"])
        image = reg.push(layout, "big", "bench/big:1")
        shutil.rmtree(layout)
        with BenchAsbd(bin_dir, "asb-image-bench-asbd-") as d:
            ctl = [asbctl, "--kubeconfig", d.kubeconfig, "image"]
            skopeo, asb = [], []
            for i in range(ROUNDS):
                dest = os.path.join(root, "skopeo-%d" % i)

                def copy():
                    run("skopeo", "copy", "--src-tls-verify=false", "docker://" + image,
                        "dir:" + dest)

                def pull():
                    run(*ctl, "pull", image)

                order = [(skopeo, copy), (asb, pull)]
                for out, fn in (order if i % 2 == 0 else order[::-1]):
                    out.append(timed(fn))
                shutil.rmtree(dest)
                if i + 1 < ROUNDS:
                    run(*ctl, "rm", image)
            s, a = statistics.median(skopeo), statistics.median(asb)
            print("cold pull ~100 MiB: asb %.2fs vs skopeo copy to dir %.2fs: %.2fx "
                  "(rounds asb %s, skopeo %s)" % (a, s, a / s, fmt(asb), fmt(skopeo)))
            for runtime in ("native", "gvisor"):
                cached, builtin = [], []
                pod_ready_seconds(d, "warm-" + runtime, image, runtime)  # first start: setup
                for i in range(ROUNDS):
                    order = [(cached, image), (builtin, BUILTIN)]
                    for out, img in (order if i % 2 == 0 else order[::-1]):
                        out.append(pod_ready_seconds(d, "b-%s-%d" % (runtime, i), img, runtime))
                c, b = statistics.median(cached), statistics.median(builtin)
                print("[%s] pod Ready: cached pulled image %.3fs vs built-in image %.3fs: %.2fx "
                      "(rounds cached %s, built-in %s)" % (runtime, c, b, c / b, fmt(cached),
                                                           fmt(builtin)))
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


def fmt(xs):
    return "/".join("%.3f" % x for x in xs)


if __name__ == "__main__":
    main()
