"""The plan's estimate against the measured wall time: runs a delbench command (``compare``,
``validate`` or ``regress``) cold, with a fresh cache and run directory, reads the estimate it printed
before starting, and times the rest of the command from that line on.

    python benchmarks/bench_estimate.py [--runs 2] [--keep DIR] -- compare meddel random --protocol ci
    python benchmarks/bench_estimate.py -- compare meddel random dedup-only coreset --protocol ci \\
        --data ROOT --ratios 0.1,0.5

Prints, per run: the estimate, the seconds from the moment it was printed to the end of the command
(what it promises: start-up and calibration are over by then), their ratio, and the whole command's
seconds.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNITS = {"s": 1, "min": 60, "h": 3600}


def seconds(text: str) -> float:
    """``1 min 24 s`` -> 84."""
    return float(sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+) (s|min|h)\b", text)))


def run_once(command: list[str], keep: Path | None) -> tuple[float, float, float, str]:
    """(estimate, seconds from the estimate's line to the end, seconds of the whole command, plan)."""
    base = Path(tempfile.mkdtemp(prefix="bench-estimate-", dir=keep))
    try:
        cmd = [sys.executable, "-m", "delbench.cli", *command, "--cache", str(base / "cache"), "--out", str(base / "run")]
        start = time.perf_counter()
        printed = None  # when the estimate appeared: what it promises is the time from there on
        lines = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as it is printed, not at exit
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                              env=env) as proc:
            for line in proc.stdout:  # type: ignore[union-attr]
                if printed is None and line.startswith("estimate:"):
                    printed = time.perf_counter()
                lines.append(line)
        end = time.perf_counter()
        out = "".join(lines)
        if proc.returncode not in (0, 1):  # validate exits 1 when the ladder does not hold
            raise SystemExit(f"command failed ({proc.returncode}):\n{out[-3000:]}")
        found = re.search(r"^estimate: (.*?) on this machine", out, re.M)
        if not found or printed is None:
            raise SystemExit(f"no estimate in the output:\n{out[:3000]}")
        plan = out[: out.index("estimate:")].strip().splitlines()[0]
        flat = " ".join(out.split())
        rates = re.search(r"\(measured: (.*?)\)", flat)
        plan += f"\n  calibration: {rates.group(1) if rates else '?'}"
        later = re.search(r"(selected: .*? from here, .*? in)", flat)
        if later:  # the estimate made again once the subsets were known, for the rest of the run
            plan += f"\n  {later.group(1)}"
        return seconds(found.group(1)), end - printed, end - start, plan
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="make the run directories under DIR and keep them")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    print(f"command: delbench {' '.join(command)}")
    for i in range(args.runs):
        estimate, after, whole, plan = run_once(command, args.keep)
        print(f"run {i + 1}: {plan}")
        print(f"  estimate {estimate:.0f} s, measured {after:.0f} s from the estimate on "
              f"({whole:.0f} s with start-up and calibration), measured / estimate {after / max(estimate, 1e-9):.2f}",
              flush=True)


if __name__ == "__main__":
    main()
