"""Run a command and report the peak RSS summed over its whole process tree.

Usage: python bench/treemem.py [--interval S] -- COMMAND [ARGS...]

Dask workers are separate processes; the peak that matters is the sum over
the driver and every worker at the same moment, which ``/usr/bin/time`` does
not report. The tree is polled every ``--interval`` seconds (default 0.2).
The CPU seconds (user + system) of the whole tree come from the kernel's
accounting of reaped children (``getrusage(RUSAGE_CHILDREN)``): every worker
is reaped by the driver, the driver by this process. On a shared machine they
vary less than the wall time, which waits for the other jobs.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from typing import NamedTuple

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


class Measured(NamedTuple):
    """One run: exit code, wall seconds, peak tree RSS bytes, CPU seconds of the tree."""

    code: int
    wall: float
    peak: int
    cpu: float


def measure(
    command: list[str], *, interval: float = 0.2, env: dict | None = None, cwd=None
) -> Measured:
    """Run ``command`` (in ``env``, ``cwd``) and measure it (see :class:`Measured`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    code, wall = child.wait(), time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(code, wall, peak, cpu)


def run_measured(
    command: list[str], *, interval: float = 0.2, env: dict | None = None, cwd=None
) -> tuple[int, float, int]:
    """Run ``command`` (in ``env``, ``cwd``); return (exit code, wall s, peak tree RSS bytes)."""
    return measure(command, interval=interval, env=env, cwd=cwd)[:3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    found = measure(command, interval=args.interval)
    print(
        f"treemem: exit {found.code}, wall {found.wall:.1f} s, CPU {found.cpu:.1f} s, "
        f"peak tree RSS {found.peak / 2**30:.2f} GiB",
        file=sys.stderr,
    )
    return found.code


if __name__ == "__main__":
    sys.exit(main())
