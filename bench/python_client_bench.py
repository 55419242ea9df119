#!/usr/bin/env python3
"""The Python client as a user runs it, on each runtime, beside baselines from the same run.

Starts its own `asbd serve` (temp state dir), applies the seed's template and warm pool (native:
without runtimeClassName), and measures over the kubeconfig's TLS:
  seed script as a process     `python3 examples/seed/test_sandbox.py` (claim, run, delete)
  with-block, in-process       `with SandboxClient(...) as s: s.run("echo hi")` in one interpreter
  of which: entry              claim -> Ready (the `with` line)
  of which: first run()        the first exec after the claim is Ready (the router's first dial
                               into the sandbox; no readiness request of its own before it)
  of which: exit               the end of the block (the claim's DELETE sent, not waited for)
  then: second run()           the next exec in the same sandbox (the steady-state exec cost;
                               not part of the with-block figure)
  current-SDK shape            create_sandbox(warmpool=...), commands.run, terminate()
Baselines: `python3 -c pass` and `python3 -c 'import agentic_sandbox'` as processes (a process
figure minus the import baseline is what the sandbox part costs), and the host's fork+exec of
/bin/true. Each figure is printed with its ratio to the baseline it should be read against.

    python3 bench/python_client_bench.py [--runs 20] [--runtimes native,gvisor] [--bin build/bin]
                                         [--with-block-only]

--with-block-only skips the process and current-SDK figures (a short run for an A/B in a quiet
window: the first run() after a claim races the claimed member's replacement booting, which the
node starts idle-class, docs/cpu.md "Pool members").

Needs root (sandboxes) and kubectl on PATH; run under the shared sandbox lock.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_asbd import BenchAsbd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(REPO, "examples", "seed")
sys.path.insert(0, os.path.join(REPO, "python", "src"))

from agentic_sandbox import SandboxClient  # noqa: E402


def ms(samples):
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[min(len(s) - 1, int(len(s) * 0.95))] * 1e3


def user_env(**extra):
    """os.environ for a Python process run as a user would: with bytecode cached (in a temp
    dir, not the source tree), as for an installed package. Without it (PYTHONDONTWRITEBYTECODE
    is set on some machines) every process compiles the package again, ~5 ms nobody pays."""
    env = dict(os.environ, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "asb-bench-pycache"))
    return env


def timed_process(argv, env, runs):
    subprocess.run(argv, env=env, check=True, capture_output=True)  # compiles and caches once
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out


def wait_pool_ready(d, want, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(d.kube + ["get", "sandboxwarmpool", "python-sandbox-warmpool", "-o",
                                       "jsonpath={.status.readyReplicas}"],
                             capture_output=True, text=True).stdout
        if out.strip() and int(out) >= want:
            return
        time.sleep(0.1)
    raise SystemExit("the warm pool did not become Ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--runtimes", default="native,gvisor")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--with-block-only", action="store_true")
    args = ap.parse_args()
    env = user_env(PYTHONPATH=os.path.join(REPO, "python", "src"))
    py = sys.executable
    bare = timed_process([py, "-c", "pass"], env, args.runs)
    imp = timed_process([py, "-c", "import agentic_sandbox"], env, args.runs)
    true = timed_process(["/bin/true"], env, args.runs)
    print("%-8s %-40s %9s %9s  %s" % ("runtime", "what", "p50 ms", "p95 ms", "vs baseline"))
    for label, s in [("python3 -c pass", bare), ("python3 -c 'import agentic_sandbox'", imp),
                     ("fork+exec /bin/true (from Python)", true)]:
        print("%-8s %-40s %9.2f %9.2f" % ("host", label, *ms(s)))
    imp_p50 = ms(imp)[0]
    with BenchAsbd(args.bin, "asb-pyclient-bench-") as d:
        env["ASB_KUBECONFIG"] = d.kubeconfig
        seed = open(os.path.join(SEED, "sandbox-template-and-pool.yaml")).read()
        for runtime in args.runtimes.split(","):
            manifest = seed if runtime == "gvisor" else seed.replace(
                "      runtimeClassName: gvisor\n", "")
            subprocess.run(d.kube + ["apply", "-f", "-"], input=manifest, text=True, check=True,
                           capture_output=True)
            wait_pool_ready(d, 2)
            script = [] if args.with_block_only else timed_process(
                [py, os.path.join(SEED, "test_sandbox.py")], env, args.runs)
            entry, first_run, second_run, block, leave = [], [], [], [], []
            for _ in range(args.runs):
                wait_pool_ready(d, 2)  # every claim is warm, as in the seed's steady state
                t0 = time.perf_counter()
                with SandboxClient("python-runtime-template", kubeconfig=d.kubeconfig) as s:
                    t1 = time.perf_counter()
                    assert s.run("echo hi").stdout == "hi\n"
                    t2 = time.perf_counter()
                    assert s.run("echo hi").stdout == "hi\n"
                    t3 = time.perf_counter()
                    second_run.append(t3 - t2)
                leave.append(time.perf_counter() - t3)
                # The with-block as the seed runs it (claim, one run, delete): without the
                # second run, which is measured only to compare with the first.
                block.append(time.perf_counter() - t0 - second_run[-1])
                entry.append(t1 - t0)
                first_run.append(t2 - t1)
            sdk = []
            client = SandboxClient(kubeconfig=d.kubeconfig)
            for _ in range(0 if args.with_block_only else args.runs):
                wait_pool_ready(d, 2)
                t0 = time.perf_counter()
                sb = client.create_sandbox(warmpool="python-sandbox-warmpool")
                assert sb.commands.run("echo hi").stdout == "hi\n"
                sb.terminate()
                sdk.append(time.perf_counter() - t0)
            if script:
                p50 = ms(script)[0]
                print("%-8s %-40s %9.2f %9.2f  %.1fx 'import agentic_sandbox' (+%.1f ms)"
                      % (runtime, "seed script as a process", *ms(script), p50 / imp_p50,
                         p50 - imp_p50), flush=True)
            for label, s in [("with-block, in-process", block), ("  of which: entry (claim->Ready)",
                                                                 entry),
                             ("  of which: first run()", first_run),
                             ("  of which: exit (DELETE sent)", leave),
                             ("  then: second run() (same sandbox)", second_run),
                             ("current-SDK create/run/terminate", sdk)]:
                if s:
                    print("%-8s %-40s %9.2f %9.2f" % (runtime, label, *ms(s)), flush=True)
            # The goal: the first exec after a warm claim no slower than later ones.
            print("%-8s %-40s %9s %9s  %.2fx (p50s)"
                  % (runtime, "  first run() / second run()", "", "",
                     ms(first_run)[0] / ms(second_run)[0]), flush=True)
            subprocess.run(d.kube + ["delete", "-f", "-"], input=manifest, text=True, check=True,
                           capture_output=True)
            subprocess.run(d.kube + ["wait", "--for=delete", "sandbox", "--all", "--timeout=60s"],
                           capture_output=True)


if __name__ == "__main__":
    main()
