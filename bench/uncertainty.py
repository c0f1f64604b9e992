"""Monte Carlo benchmark: realizations per hour on this machine.

Usage::

    python bench/uncertainty.py                        # both parts
    python bench/uncertainty.py --part exiobase --per-worker 3
    python bench/uncertainty.py --part demo --realizations 20

Two parts, each run side by side in this one invocation:

* ``exiobase``: an EXIOBASE-sized table (49 regions x 200 sectors, 7
  final-demand categories: ``bench/mrio.py``'s deterministic synthetic system,
  n = 9,800). One realization's MRIO work, as
  :func:`pipeline.attribution.ensemble.realize` does it on a worker: draw the
  perturbed table (``mrio_cv``; validated, redrawn if invalid), factorize it
  and solve one producer region's rows' shares. It runs on a LocalCluster of
  one single-thread worker, then of two (dask's nannies limit BLAS to one thread
  per worker), with ``--per-worker`` realizations per worker, after a warm-up
  task per worker; the table is scattered to the workers before the clock
  starts. Printed: realizations per hour for each, their ratio (two / one), and
  each realization task's mean wall and CPU seconds (CPU below wall means the
  worker waited for a core: the machine is shared).
* ``demo``: the nested demo at 10 km (``config/demo.toml``'s inputs without its
  ``[[scenario]]`` tables, maps off): ``footprint-map run`` with
  ``--realizations 0`` and with ``--realizations N``, with ``--workers 1`` and
  ``--workers 2``. Realizations per hour = ``N * 3600 / (wall(N) - wall(0))``,
  the whole run's wall time (drawing, the hotspot thresholds, the grid pass,
  the summary) against the deterministic run's.
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

from mrio import SIZES, make_system
from scale import CLI, ROOT, build_inputs
from treemem import run_measured

#: The seed of the synthetic table and of the realizations.
SEED = 16


def exiobase_table(name: str = "exiobase", seed: int = SEED):
    """``bench/mrio.py``'s synthetic system ``name`` as a validated :class:`~pipeline.mrio.MRIO`."""
    import numpy as np
    import pandas as pd

    from pipeline.mrio import MRIO

    size = SIZES[name]
    s = make_system(size["regions"], size["sectors"], size["categories"], seed)
    regions, sectors, cats = size["regions"], size["sectors"], size["categories"]
    rows = [(f"R{r:03d}", f"S{i:03d}") for r in range(regions) for i in range(sectors)]
    cols = [(f"R{r:03d}", f"C{k}") for r in range(regions) for k in range(cats)]
    Z, Y = s["Z"], s["Y"]
    return MRIO(
        Z=Z,
        Y=Y,
        x=np.asarray(Z.sum(axis=1)).ravel() + Y.sum(axis=1),
        F=s["F"],
        F_Y=s["F_Y"],
        rows=pd.MultiIndex.from_tuples(rows, names=["region", "sector"]),
        fd_columns=pd.MultiIndex.from_tuples(cols, names=["region", "category"]),
    ).validate()


def one_realization(index: int, table, seed: int, cv: float) -> tuple:
    """Realization ``index``'s MRIO work (as ``realize``).

    Returns its redraws, row error, the worker's BLAS threads, and the task's wall
    and CPU seconds (the CPU time of its process: one task runs per worker).
    """
    from pipeline.kernels.sampling import MRIO_STREAM, realization_rng
    from pipeline.mrio.engine import attribution_shares
    from pipeline.mrio.perturb import perturbed_table

    wall, cpu = time.perf_counter(), time.process_time()
    drawn, redraws = perturbed_table(table, realization_rng(seed, index, MRIO_STREAM), cv)
    shares = attribution_shares(drawn, regions=[drawn.regions[0]], method="auto")
    error = float(shares.attrs["row_conservation_max_rel_error"])
    return (
        redraws,
        error,
        _blas_threads(),
        time.perf_counter() - wall,
        time.process_time() - cpu,
    )


def _blas_threads() -> str:
    return os.environ.get("OPENBLAS_NUM_THREADS", "unset")


def _warm(_index: int) -> str:
    """A worker's warm-up: the imports of a realization."""
    import pipeline.mrio.engine  # noqa: F401
    import pipeline.mrio.perturb  # noqa: F401

    return _blas_threads()


def exiobase_rates(per_worker: int, cv: float, size: str = "exiobase") -> list[dict]:
    """Realizations per hour with one worker and with two."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    table = exiobase_table(size)
    print(f"{size}-sized table: n = {table.n:,}, built in {time.perf_counter() - t0:.1f} s")
    rows = []
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, memory_limit="6GiB", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            shared = client.scatter(table, broadcast=True)
            client.gather(client.map(_warm, range(workers), pure=False))
            n = per_worker * workers
            start = time.perf_counter()
            futures = client.map(
                one_realization, range(n), table=shared, seed=SEED, cv=cv, pure=False
            )
            found = client.gather(futures)
            wall = time.perf_counter() - start
        rows.append(
            {
                "workers": workers,
                "realizations": n,
                "wall_s": wall,
                "per_hour": n * 3600 / wall,
                "redraws": sum(f[0] for f in found),
                "row_error": max(f[1] for f in found),
                "blas_threads": found[0][2],
                "task_wall_s": sum(f[3] for f in found) / n,
                "task_cpu_s": sum(f[4] for f in found) / n,
            }
        )
        print(f"  {workers} worker(s): {n} realizations in {wall:.1f} s", flush=True)
    return rows


def demo_rates(realizations: int, tmp: Path) -> list[dict]:
    """The 10 km demo: wall time with 0 and ``realizations``, with 1 and 2 workers."""
    inputs = tmp / "inputs"
    print(f"demo inputs (10 km): {build_inputs(inputs, '10km', 12, 2012):.1f} s", flush=True)
    text = (ROOT / "config" / "demo.toml").read_text().split("[[scenario]]", 1)[0]
    text = re.sub(r"(?m)^inputs = .*$", f"inputs = {str(inputs)!r}", text)
    text = re.sub(r"(?m)^maps = .*$", "maps = false", text)
    config = tmp / "study.toml"
    config.write_text(text)
    rows = []
    for workers in (1, 2):
        walls = {}
        for n in (0, realizations):
            out = tmp / f"out-{workers}-{n}"
            argv = [*CLI, "run", str(config), "--out", str(out), "--realizations", str(n)]
            argv += ["--workers", str(workers), "--threads", "1"]
            code, wall, _ = run_measured(argv)
            if code != 0:
                raise SystemExit(f"{' '.join(argv)} failed with exit {code}")
            walls[n] = wall
            print(f"  {workers} worker(s), {n} realizations: {wall:.1f} s", flush=True)
        extra = walls[realizations] - walls[0]
        rows.append(
            {
                "workers": workers,
                "realizations": realizations,
                "wall_0_s": walls[0],
                "wall_s": walls[realizations],
                "per_hour": realizations * 3600 / extra,
            }
        )
    return rows


def exiobase_table_text(rows: list[dict]) -> str:
    """The Markdown table of the EXIOBASE part, with the scaling ratio."""
    lines = [
        "| workers | realizations | wall s | realizations per hour | task wall s | task CPU s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['workers']} | {r['realizations']} | {r['wall_s']:.1f} | {r['per_hour']:,.0f} "
        f"| {r['task_wall_s']:.1f} | {r['task_cpu_s']:.1f} |"
        for r in rows
    ]
    ratio = rows[1]["per_hour"] / rows[0]["per_hour"]
    lines.append(
        f"\nscaling one -> two workers: {ratio:.2f}x (ideal 2); redraws "
        f"{sum(r['redraws'] for r in rows)}; max MRIO row error "
        f"{max(r['row_error'] for r in rows):.1e}; BLAS threads per worker "
        f"{rows[0]['blas_threads']}"
    )
    return "\n".join(lines)


def demo_table_text(rows: list[dict]) -> str:
    """The Markdown table of the demo part, with the scaling ratio."""
    lines = [
        "| workers | wall, 0 realizations | wall, N realizations | N | realizations per hour |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['workers']} | {r['wall_0_s']:.1f} s | {r['wall_s']:.1f} s | {r['realizations']} "
        f"| {r['per_hour']:,.0f} |"
        for r in rows
    ]
    ratio = rows[1]["per_hour"] / rows[0]["per_hour"]
    lines.append(f"\nscaling one -> two workers: {ratio:.2f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("exiobase", "demo", "both"), default="both")
    parser.add_argument("--per-worker", type=int, default=3, help="EXIOBASE realizations/worker")
    parser.add_argument("--cv", type=float, default=0.04, help="mrio_cv of the EXIOBASE part")
    parser.add_argument("--realizations", type=int, default=20, help="of the demo part")
    parser.add_argument("--size", choices=sorted(SIZES), default="exiobase", help="tiny: smoke")
    args = parser.parse_args()
    print(f"load before: {_uptime()}")
    tables = []
    if args.part in ("exiobase", "both"):
        tables.append(exiobase_table_text(exiobase_rates(args.per_worker, args.cv, args.size)))
    if args.part in ("demo", "both"):
        tmp = Path(tempfile.mkdtemp(prefix="bench-uncertainty-"))
        try:
            tables.append(demo_table_text(demo_rates(args.realizations, tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load after: {_uptime()}\n")
    print("\n\n".join(tables))
    return 0


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
