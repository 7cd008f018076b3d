"""Wall time of README's main command, cold: `delbench compare meddel random` under a protocol, each
run with a fresh cache (synthetic data generated, every stage computed) and a fresh run directory.

    python benchmarks/bench_compare.py --runs 3 [--protocol smoke] [--selectors meddel,random]

Prints each run's seconds and the median. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(protocol: str, selectors: list[str], extra: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        cmd = [sys.executable, "-m", "delbench.cli", "compare", *selectors, "--protocol", protocol,
               "--cache", str(Path(tmp) / "cache"), "--out", str(Path(tmp) / "run"), *extra]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--protocol", default="smoke")
    parser.add_argument("--selectors", default="meddel,random")
    parser.add_argument("extra", nargs="*", help="more compare arguments, after --")
    args = parser.parse_args()
    times = []
    for i in range(args.runs):
        times.append(one_run(args.protocol, args.selectors.split(","), args.extra))
        print(f"run {i + 1}: {times[-1]:.1f} s", flush=True)
    print(f"median of {len(times)}: {statistics.median(times):.1f} s "
          f"(min {min(times):.1f}, max {max(times):.1f}); protocol {args.protocol}, selectors {args.selectors}")


if __name__ == "__main__":
    main()
