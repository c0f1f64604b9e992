"""Scale benchmark: the demo's run with the factorized and the materialized store.

Usage::

    python bench/scale.py                                   # 1 km; 43 and 190 consumers
    python bench/scale.py --resolution 500m --foreign 159 --stores factorized
    python bench/scale.py --resolution 250m --foreign 159 --stores factorized --keep /data/b

For each resolution and number of foreign regions the demo inputs are generated
once (timed apart). Then ``footprint-map run`` runs on them once per store kind,
side by side in this one invocation:

* ``factorized``: the default store (per-consumer layers computed on read);
* ``materialized``: the same with ``[output] materialize = ["footprint"]``;
* with ``--reference REV``, also ``release@REV``: the code of git revision REV
  (e.g. the release before the factorized store, whose store held every cube),
  extracted with ``git archive`` and run with this interpreter on the same
  inputs with that revision's own ``config/demo.toml``.

Each run's wall time, CPU seconds and peak RSS summed over the whole process
tree (driver and Dask workers, see ``bench/treemem.py``) are measured, and the
store's bytes on disk. The table ends with the ratios the README quotes.
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

from treemem import measure

ROOT = Path(__file__).resolve().parents[1]
CLI = [str(Path(sys.executable).with_name("footprint-map"))]
#: ``release@REV`` store kinds -> the extracted code of REV.
RELEASES: dict[str, Path] = {}


def build_inputs(directory: Path, resolution: str, foreign: int, seed: int) -> float:
    """Generate the demo inputs in ``directory``; return the seconds it took."""
    code = (
        "import sys; from pathlib import Path\n"
        "from pipeline.demo.build import build_demo_inputs, parse_resolution\n"
        f"build_demo_inputs(Path({str(directory)!r}), seed={seed}, foreign={foreign},"
        f" resolution_m=parse_resolution({resolution!r}))\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def extract_revision(revision: str, directory: Path) -> Path:
    """The files of git ``revision`` of this repository, in ``directory / revision``."""
    target = directory / f"release-{revision}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def study_config(directory: Path, inputs: Path, store: str, workers: int, threads: int) -> Path:
    """``config/demo.toml`` pointed at ``inputs``, with the store kind and cluster size."""
    code = RELEASES.get(store, ROOT)
    # the baseline only: the demo's [[scenario]] tables (issue 15) come last and are cut
    text = (code / "config" / "demo.toml").read_text().split("[[scenario]]", 1)[0]
    text = re.sub(r"(?m)^inputs = .*$", f"inputs = {str(inputs)!r}", text)
    text = re.sub(r"(?m)^maps = .*$", "maps = false", text)
    if store == "materialized":
        text = re.sub(r"(?m)^\[output\]$", '[output]\nmaterialize = ["footprint"]', text)
    text = re.sub(r"(?m)^n_workers = .*$", f"n_workers = {workers}", text)
    text = re.sub(r"(?m)^threads_per_worker = .*$", f"threads_per_worker = {threads}", text)
    path = directory / f"study-{store}.toml"
    path.write_text(text)
    return path


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (links resolved once)."""
    real = Path(os.path.realpath(path))
    return sum(p.stat().st_size for p in real.rglob("*") if p.is_file())


def measure_run(config: Path, out: Path, store: str) -> dict:
    """One ``footprint-map run`` (of ``store``'s code): wall, peak tree RSS, store bytes."""
    argv = [*CLI, "run", str(config), "--out", str(out)]
    env = None
    if store in RELEASES:  # the old code first on the path, this interpreter
        argv = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())"]
        argv += ["run", str(config), "--out", str(out)]
        env = {**os.environ, "PYTHONPATH": str(RELEASES[store])}
    # In the release's folder: ``python -c`` puts the working directory first on sys.path.
    cwd = RELEASES.get(store)
    found = measure(argv, env=env, cwd=cwd)
    if found.code != 0:
        raise SystemExit(f"run of {config} failed with exit {found.code}")
    return {
        "wall_s": found.wall,
        "cpu_s": found.cpu,
        "rss_gib": found.peak / 2**30,
        "store_gb": tree_bytes(out / "footprint.zarr") / 1e9,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", nargs="+", default=["1km"])
    parser.add_argument("--foreign", nargs="+", type=int, default=[12, 159])
    parser.add_argument("--stores", nargs="+", default=["factorized", "materialized"])
    parser.add_argument(
        "--clusters",
        nargs="+",
        default=["2x1"],
        help="LocalCluster layouts WORKERSxTHREADS, e.g. 2x1 1x2 (side by side)",
    )
    parser.add_argument(
        "--reference",
        metavar="REV",
        help="also run git revision REV's code (e.g. the release before the factorized store)",
    )
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--keep", type=Path, help="work here and keep the outputs")
    parser.add_argument(
        "--repeat", type=int, default=1, help="interleaved rounds; each row is the best wall"
    )
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="footprint-scale-"))
    if args.reference:
        kind = f"release@{args.reference}"
        RELEASES[kind] = extract_revision(args.reference, root)
        args.stores = [*args.stores, kind]
    rows = []
    for resolution in args.resolution:
        for foreign in args.foreign:
            case = root / f"{resolution}-f{foreign}"
            inputs = case / "inputs"
            shutil.rmtree(case, ignore_errors=True)
            seconds = build_inputs(inputs, resolution, foreign, args.seed)
            print(
                f"# {resolution}, {foreign} foreign regions: inputs in {seconds:.0f} s", flush=True
            )
            rows += run_case(case, inputs, args, resolution=resolution, consumers=31 + foreign)
    print(_table(rows))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def run_case(case: Path, inputs: Path, args, **labels) -> list[dict]:
    """Every store kind and cluster layout on one set of inputs, ``args.repeat`` rounds.

    The rounds interleave the variants, so a slow spell of the shared machine
    hits all of them; each row keeps the best wall time and the largest RSS.
    """
    best: dict[tuple[str, str], dict] = {}
    for _ in range(args.repeat):
        for store in args.stores:
            for layout in args.clusters:
                workers, threads = (int(v) for v in layout.split("x"))
                config = study_config(case, inputs, store, workers, threads)
                out = case / f"out-{store}-{layout}"
                shutil.rmtree(out, ignore_errors=True)
                found = measure_run(config, out, store)
                row = {**labels, "store": store, "cluster": layout, **found}
                print(_row(row), flush=True)
                kept = best.setdefault((store, layout), row)
                kept["wall_s"] = min(kept["wall_s"], row["wall_s"])
                kept["cpu_s"] = min(kept["cpu_s"], row["cpu_s"])
                kept["rss_gib"] = max(kept["rss_gib"], row["rss_gib"])
    return list(best.values())


def _row(row: dict) -> str:
    return (
        f"{row['resolution']:>6} {row['consumers']:>4} consumers {row['store']:>12} "
        f"{row['cluster']}: "
        f"{row['wall_s']:7.1f} s (CPU {row['cpu_s']:6.1f} s)  {row['rss_gib']:5.2f} GiB  "
        f"store {row['store_gb']:6.2f} GB"
    )


def _table(rows: list[dict]) -> str:
    lines = [
        "",
        "| resolution | consumers | store | workers x threads | wall s | CPU s "
        "| peak tree RSS GiB | store GB |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['resolution']} | {r['consumers']} | {r['store']} | {r['cluster']} | "
            f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['rss_gib']:.2f} | {r['store_gb']:.2f} |"
        )
    return "\n".join(lines + _ratios(rows))


def _ratios(rows: list[dict]) -> list[str]:
    """The ratios the README quotes: store kinds, consumer counts and cluster layouts."""
    by = {(r["resolution"], r["consumers"], r["store"], r["cluster"]): r for r in rows}
    lines = [""]
    for (res, n, store, layout), r in by.items():
        for kind in ["materialized", *RELEASES]:
            other = by.get((res, n, kind, layout))
            if store == "factorized" and other:
                wall, size = r["wall_s"] / other["wall_s"], r["store_gb"] / other["store_gb"]
                cpu = r["cpu_s"] / other["cpu_s"]
                lines.append(
                    f"{res}, {n} consumers, {layout}: factorized / {kind} wall {wall:.2f}, "
                    f"CPU {cpu:.2f}, store bytes {size:.2f}"
                )
        small = by.get((res, 43, store, layout))
        if n != 43 and small:
            lines.append(
                f"{res}, {store}, {layout}: {n} / 43 consumers wall "
                f"{r['wall_s'] / small['wall_s']:.2f}, RSS {r['rss_gib']:.2f} GiB"
            )
        base = next(iter(k for k in by if k[:3] == (res, n, store)))
        if base[3] != layout:
            lines.append(
                f"{res}, {n} consumers, {store}: {layout} / {base[3]} wall "
                f"{r['wall_s'] / by[base]['wall_s']:.2f}"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
