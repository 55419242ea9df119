#!/usr/bin/env python3
"""Where a claim's CPU goes, and the claims/s that CPU alone allows on this machine.

A sustained claim (e2e_bench's phase 5: claim from a warm pool, first exec, delete, while the
pool refills behind it) costs one warm adoption, one exec, one sandbox deletion and one cold
start of the replacement. This runs e2e_bench twice under `perf record -a` (every CPU, kernel
and user, a cpu-clock sample every 1/F s):
  A: the same phases with no sustained load (`--sustain-seconds 0`)
  B: with `--sustain-seconds S`
and attributes the difference B - A to B's sustained claims:
  CPU per claim (ms)     = (busy CPU of B - busy CPU of A) / claims in B   (/proc/stat jiffies)
  CPU floor (claims/s)   = cores * 1000 / CPU per claim
  by process (ms/claim)  = (perf samples of that comm in B - in A) / F / claims
  top kernel functions   = the same for the kernel's own symbols
The floor is what the machine could do if nothing but claims ran and nothing waited; the
measured claims/s beside it says how far below the floor the pipeline runs.

    python3 bench/cpu_floor.py [--bin build/bin] [--runtimes native,gvisor] [--seconds 20]

Needs root, perf, and a quiet machine (run under the shared sandbox lock).
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Names of threads that belong together (a process's threads carry their own names).
GROUPS = [
    (re.compile(r"^e2e_bench"), "e2e_bench (asbd in-process + client)"),
    (re.compile(r"^asb-agent"), "asb-agent"),
    (re.compile(r"^asb-init"), "asb-init"),
    (re.compile(r"^(runsc|exe)"), "runsc (sandbox, gofer, shim)"),
    (re.compile(r"^(kworker|ksoftirqd|rcu|migration|kthreadd|netns|cleanup_net)"), "kernel threads"),
    (re.compile(r"^swapper"), "idle"),
]


def group_of(comm):
    for rx, name in GROUPS:
        if rx.search(comm):
            return name
    return comm


def busy_jiffies():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def run_bench(bench, runtime, seconds, freq, perf_data):
    argv = [bench, "--runtime", runtime, "--samples", "0.01", "--exec-runs", "10",
            "--sustain-seconds", str(seconds)]
    before = busy_jiffies()
    r = subprocess.run(["perf", "record", "-a", "-q", "-e", "cpu-clock", "-F", str(freq), "-o",
                        perf_data, "--"] + argv, capture_output=True, text=True)
    busy_ms = (busy_jiffies() - before) * 1000 / os.sysconf("SC_CLK_TCK")
    out = r.stdout + r.stderr
    if r.returncode != 0:
        sys.exit("e2e_bench failed:\n" + out[-3000:])
    # The table's row: "5 sustained claim->exec (create->output)  native  477 ... 47.6 claims/s"
    row = re.search(r"^5 sustained claim->exec \(create->output\)\s+%s\s+(\d+)\s.*?([\d.]+) "
                    r"claims/s" % runtime, out, re.M)
    if not row:
        return busy_ms, 0, 0.0
    return busy_ms, int(row.group(1)), float(row.group(2))


def samples_by(perf_data, sort):
    """perf samples per (comm, key) for `--sort comm,KEY` (KEY: dso, or sym for the kernel's own
    functions), as counts. Comm names have no spaces here (asb's, runsc's, the kernel's)."""
    r = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "-n", "--sort",
                        "comm," + sort, "--no-children", "-q", "-g", "none"] +
                       (["--dsos", "[kernel.kallsyms]"] if sort == "sym" else []),
                       capture_output=True, text=True, check=True)
    counts = collections.Counter()
    for line in r.stdout.splitlines():
        parts = line.split()
        # "  12.34%   567  comm  dso" or "  1.2%  89  comm  [k] symbol"
        if len(parts) >= 4 and parts[0].endswith("%") and parts[1].isdigit():
            rest = parts[4:] if parts[3] == "[k]" else parts[3:]
            counts[(parts[2], " ".join(rest))] += int(parts[1])
    return counts


def per_claim(a, b, key, claims, freq):
    """ms of CPU per claim of the samples `key` picks, B minus A."""
    diff = collections.Counter()
    for k in set(a) | set(b):
        name = key(k)
        if name is not None:
            diff[name] += b[k] - a[k]
    return [(name, n * 1000 / freq / claims) for name, n in diff.most_common() if n > 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--runtimes", default="native,gvisor")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--freq", type=int, default=499)
    args = ap.parse_args()
    bench = os.path.join(args.bin, "e2e_bench")
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="asb-cpu-floor-") as tmp:
        for runtime in args.runtimes.split(","):
            da, db = os.path.join(tmp, "a.data"), os.path.join(tmp, "b.data")
            busy_a, _, _ = run_bench(bench, runtime, 0, args.freq, da)
            busy_b, claims, rate = run_bench(bench, runtime, args.seconds, args.freq, db)
            if claims == 0:
                sys.exit("no sustained claims were counted for " + runtime)
            cpu_ms = (busy_b - busy_a) / claims
            print("\n== %s: %d sustained claims in %d s (%.1f claims/s measured)" %
                  (runtime, claims, args.seconds, rate))
            print("CPU per claim: %.1f ms (busy CPU %.0f ms with the load, %.0f ms without)" %
                  (cpu_ms, busy_b, busy_a))
            print("CPU floor on %d cores: %.0f claims/s (measured %.0f%% of it)" %
                  (cores, cores * 1000 / cpu_ms, 100 * rate * cpu_ms / (cores * 1000)))
            dso_a, dso_b = samples_by(da, "dso"), samples_by(db, "dso")
            print("by process, ms of CPU per claim:")
            for name, v in per_claim(dso_a, dso_b, lambda k: group_of(k[0]), claims, args.freq):
                if name != "idle" and v >= 0.05:
                    print("  %-40s %7.2f" % (name, v))
            print("asbd's share (e2e_bench) by library, ms of CPU per claim:")
            asbd = lambda k: k[1] if k[0] == "e2e_bench" else None  # noqa: E731
            for name, v in per_claim(dso_a, dso_b, asbd, claims, args.freq)[:6]:
                print("  %-40s %7.2f" % (name[:40], v))
            sym_a, sym_b = samples_by(da, "sym"), samples_by(db, "sym")
            busy = lambda k: None if group_of(k[0]) == "idle" else k[1]  # noqa: E731
            print("top kernel functions, ms of CPU per claim (every process but idle):")
            for name, v in per_claim(sym_a, sym_b, busy, claims, args.freq)[:12]:
                print("  %-40s %7.2f" % (name[:40], v))


if __name__ == "__main__":
    main()
