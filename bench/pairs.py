#!/usr/bin/env python3
"""Times two commands in alternating pairs (A B A B ...), each as a whole process, and prints each pair's
ratio A/B and the medians. A command is one shell word list given as a JSON array; with "--before" a
command run (untimed) before each A.

  pairs.py N '["autoprov", ...]' '["curl", ...]' [--before '["sh", "-c", "..."]'] [--label NAME]
"""
import json
import statistics
import subprocess
import sys
import time


def main():
    n = int(sys.argv[1])
    a = json.loads(sys.argv[2])
    b = json.loads(sys.argv[3])
    before = None
    label = "A"
    args = sys.argv[4:]
    while args:
        if args[0] == "--before":
            before = json.loads(args[1])
        elif args[0] == "--label":
            label = args[1]
        args = args[2:]
    ta, tb, ratios = [], [], []
    for i in range(n):
        if before:
            subprocess.run(before, check=True, stdout=subprocess.DEVNULL)
        t0 = time.perf_counter()
        ra = subprocess.run(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        rb = subprocess.run(b, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t2 = time.perf_counter()
        if ra.returncode != 0 or rb.returncode != 0:
            sys.exit(f"pair {i + 1}: exit codes {ra.returncode} and {rb.returncode}")
        ta.append(t1 - t0)
        tb.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
    print(f"{label}: {n} pairs, median {statistics.median(ta) * 1000:.2f} ms vs {statistics.median(tb) * 1000:.2f} ms, "
          f"median ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
