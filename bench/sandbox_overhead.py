#!/usr/bin/env python3
"""What the shell sandbox costs per command: `ls -la` through the tool's runner, with and without
the Landlock launcher (docs/benchmarks.md, "Shell sandbox overhead").

    .venv/bin/python bench/sandbox_overhead.py [--runs 60]

Prints the median wall time and the children's CPU time per command. Wall time depends on how
busy the machine is (the launcher is a fresh Python start-up); CPU time much less so.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from smallagent.sandbox import landlock_abi
from smallagent.shell import ShellPolicy


def measure(policy: ShellPolicy, confined: bool, runs: int) -> tuple[float, float]:
    walls = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        started = time.perf_counter()
        result = policy.run(("ls", "-la"), confined=confined)
        walls.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return statistics.median(walls) * 1000, cpu / runs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    runs = parser.parse_args().runs
    if landlock_abi() < 1:
        raise SystemExit("Landlock is unavailable here: nothing to measure")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.md").write_text("x\n")
        policy = ShellPolicy(Path(folder))
        print(f"Landlock ABI {landlock_abi()}, load average {os.getloadavg()[0]:.1f}, {runs} runs")
        for confined in (False, True):
            wall, cpu = measure(policy, confined, runs)
            label = "confined" if confined else "unconfined"
            print(f"{label:10}  wall median {wall:5.1f} ms   children's CPU {cpu:5.1f} ms/command")


if __name__ == "__main__":
    main()
