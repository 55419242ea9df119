#!/usr/bin/env python3
"""Prints the Debian packages an image needs for the given ones: their Depends and PreDepends,
recursively, as apt resolves them on this machine (`apt-cache depends`), one name per line.

    debian_closure.py python3 bash --exclude perl-base --exclude dpkg

Of alternatives (`a | b`) the first is taken, and a virtual package is given by its first
provider, as apt would choose with nothing installed. An excluded package and what only it
needs are left out: an image has no package manager to run maintainer scripts, so what exists
for them (dpkg, debconf, perl) is not wanted. Used by scripts/build-images.sh.
"""

import argparse
import subprocess
import sys

FLAGS = ["--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
         "--no-enhances"]


def parse_depends(lines):
    """{package: [the packages it depends on]} from `apt-cache depends` output for several
    packages: one entry per dependency line, alternatives and virtual packages resolved."""
    deps, current = {}, None
    in_alternatives = False  # the previous line was "|Depends: a": this line is "b", skip it
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.startswith(" "):
            current = line.strip()
            deps.setdefault(current, [])
            in_alternatives = False
            continue
        kind, _, name = line.strip().partition(": ")
        if kind.lstrip("|") not in ("Depends", "PreDepends"):
            continue
        taken = in_alternatives
        in_alternatives = kind.startswith("|")
        providers = []
        while i < len(lines) and lines[i].startswith("    "):
            providers.append(lines[i].strip())
            i += 1
        if taken:
            continue  # an alternative to one already chosen
        if name.startswith("<"):
            if not providers:
                raise SystemExit("%s: nothing provides %s" % (current, name))
            name = providers[0]  # a virtual package: its first provider
        deps[current].append(name.split(":")[0])
    return deps


def closure(roots, excluded):
    """One `apt-cache depends` per level of the graph: a call per package takes a minute."""
    seen, level = set(), set(roots) - set(excluded)
    while level:
        seen |= level
        out = subprocess.run(["apt-cache", "depends", *FLAGS, *sorted(level)],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        found = {d for ds in parse_depends(out).values() for d in ds}
        level = found - seen - set(excluded)
    return sorted(seen)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="+")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args()
    for package in closure(args.packages, set(args.exclude)):
        print(package)


if __name__ == "__main__":
    sys.exit(main())
