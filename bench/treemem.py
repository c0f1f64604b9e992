"""Run a command and report the peak RSS summed over its whole process tree.

Usage: python bench/treemem.py [--interval S] -- COMMAND [ARGS...]

Dask workers are separate processes; the peak that matters is the sum over
the driver and every worker at the same moment, which ``/usr/bin/time`` does
not report. The tree is polled every ``--interval`` seconds (default 0.2).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil


def tree_rss(proc: psutil.Process) -> int:
    """Bytes of RSS of ``proc`` and all its descendants, now."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_measured(
    command: list[str], *, interval: float = 0.2, env: dict | None = None, cwd=None
) -> tuple[int, float, int]:
    """Run ``command`` (in ``env``, ``cwd``); return (exit code, wall s, peak tree RSS bytes)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=cwd)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_rss(proc))
        except psutil.NoSuchProcess:
            break
        time.sleep(interval)
    return child.wait(), time.perf_counter() - start, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    code, wall, peak = run_measured(command, interval=args.interval)
    print(
        f"treemem: exit {code}, wall {wall:.1f} s, peak tree RSS {peak / 2**30:.2f} GiB",
        file=sys.stderr,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
