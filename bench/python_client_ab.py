#!/usr/bin/env python3
"""Two copies of the agentic_sandbox client against one asbd, alternating with-blocks, so a
client change is measured against the client before it in the same run (same daemon, same
pool, same noise), the seed script as a process with each copy (alternating; --seed-runs), and
the two packages' import times as processes beside `python3 -c pass`.

    python3 bench/python_client_ab.py --old OLD/python/src/agentic_sandbox \\
        [--new python/src/agentic_sandbox] [--runtime native|gvisor] [--runs 40] [--seed-runs 10]

OLD is a checkout of another commit's package directory (e.g. `git archive dc6cb00
python/src/agentic_sandbox | tar -x -C /tmp/old`). Needs root and kubectl; run under the shared
sandbox lock.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))

from bench_asbd import BenchAsbd  # noqa: E402
from python_client_bench import user_env, wait_pool_ready  # noqa: E402


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_times(package_dirs, runs):
    """p50 of `python3 -c 'import agentic_sandbox'` per copy, and of `python3 -c pass`, as
    alternating processes."""
    times = {label: [] for label in list(package_dirs) + ["pass"]}
    for i in range(runs + 1):  # the first round compiles and caches the bytecode
        for label in times:
            env = user_env()
            code = "pass"
            if label != "pass":
                env["PYTHONPATH"] = os.path.dirname(os.path.abspath(package_dirs[label]))
                code = "import agentic_sandbox"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            if i:
                times[label].append(time.perf_counter() - t0)
    for label, v in times.items():
        what = "python3 -c pass" if label == "pass" else "%s: import agentic_sandbox" % label
        print("%-32s p50 %.1f ms" % (what, statistics.median(v) * 1e3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", default=os.path.join(REPO, "python", "src", "agentic_sandbox"))
    ap.add_argument("--runtime", default="native", choices=["native", "gvisor"])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--import-runs", type=int, default=40)
    ap.add_argument("--seed-runs", type=int, default=0)
    args = ap.parse_args()
    import_times({"old": args.old, "new": args.new}, args.import_runs)
    clients = {"old": load("agentic_sandbox_old", args.old),
               "new": load("agentic_sandbox_new", args.new)}
    with BenchAsbd(args.bin, "asb-pyclient-ab-") as d:
        seed = open(os.path.join(REPO, "examples", "seed", "sandbox-template-and-pool.yaml")).read()
        if args.runtime == "native":
            seed = seed.replace("      runtimeClassName: gvisor\n", "")
        subprocess.run(d.kube + ["apply", "-f", "-"], input=seed, text=True, check=True,
                       capture_output=True)
        times = {"old": [], "new": []}
        for i in range(args.runs):
            order = ("old", "new") if i % 2 else ("new", "old")
            for label in order:
                wait_pool_ready(d, 2)  # every claim is warm, as in the seed's steady state
                t0 = time.perf_counter()
                with clients[label].SandboxClient("python-runtime-template",
                                                  kubeconfig=d.kubeconfig) as s:
                    assert s.run("echo hi").stdout == "hi\n"
                times[label].append(time.perf_counter() - t0)
        for label, v in times.items():
            v = sorted(v[2:])  # the first blocks of each pay the process's first handshakes
            print("%s with-block p50 %.2f p90 %.2f ms (%d)" % (
                label, statistics.median(v) * 1e3, v[int(len(v) * 0.9)] * 1e3, len(v)))
        seed_times = {"old": [], "new": []}
        for i in range(args.seed_runs):
            for label in (("old", "new") if i % 2 else ("new", "old")):
                wait_pool_ready(d, 2)
                env = user_env(ASB_KUBECONFIG=d.kubeconfig,
                               PYTHONPATH=os.path.dirname(os.path.abspath(getattr(args, label))))
                t0 = time.perf_counter()
                subprocess.run([sys.executable, os.path.join(REPO, "examples", "seed",
                                                             "test_sandbox.py")],
                               env=env, check=True, capture_output=True)
                seed_times[label].append(time.perf_counter() - t0)
        for label, v in seed_times.items():
            if v:
                print("%s seed script as a process p50 %.1f ms (%d)" % (
                    label, statistics.median(v) * 1e3, len(v)))
        subprocess.run(d.kube + ["delete", "-f", "-"], input=seed, text=True, capture_output=True)
        subprocess.run(d.kube + ["wait", "--for=delete", "sandbox", "--all", "--timeout=60s"],
                       capture_output=True)


if __name__ == "__main__":
    main()
