"""Zarr layout of the per-cell cubes: sharding and empty chunks, side by side.

Usage::

    python bench/zarr_options.py DIR [--repeat 3]

``DIR`` is a results directory (e.g. of the 1 km demo). Its per-cell cubes
(``foreign_footprint``, ``footprint_by_sector``, ``footprint_by_category``) are
loaded once into memory, then written again with each layout, in interleaved
rounds, on the local threaded scheduler:

* ``sharded``: one zarr chunk per layer, one shard file per spatial chunk (the
  run's layout);
* ``unsharded``: one file per layer and spatial chunk;

each with zarr's ``write_empty_chunks`` off (chunks equal to the fill value,
e.g. the ocean, are not written) and on. For each: the best write time, bytes
and files on disk, and the best time to read one sector's layer back.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dask
import xarray as xr

CUBES = ("foreign_footprint", "footprint_by_sector", "footprint_by_category")


def layouts(ds: xr.Dataset) -> dict[str, dict]:
    """Encodings of each variant, keyed by name."""
    found = {}
    for sharded in (True, False):
        for empty in (False, True):
            encoding = {}
            for name in CUBES:
                var = ds[name]
                spatial = var.data.chunksize[-2:]
                if var.ndim == 2:
                    encoding[name] = {"chunks": spatial}
                elif sharded:
                    encoding[name] = {"chunks": (1, *spatial), "shards": var.data.chunksize}
                else:
                    encoding[name] = {"chunks": (1, *spatial)}
            key = f"{'sharded' if sharded else 'unsharded'}, write_empty_chunks={empty}"
            found[key] = {"encoding": encoding, "empty": empty}
    return found


def write(ds: xr.Dataset, path: Path, encoding: dict, empty: bool) -> float:
    """Seconds to write ``ds`` with ``encoding``."""
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        ds.to_zarr(
            path,
            mode="w",
            zarr_format=3,
            consolidated=False,
            encoding=encoding,
            write_empty_chunks=empty,
        )
    return time.perf_counter() - start


def read_one(path: Path) -> float:
    """Seconds to read one sector's layer of ``footprint_by_sector``."""
    start = time.perf_counter()
    _ = xr.open_zarr(path)["footprint_by_sector"].isel(sector=0).values
    return time.perf_counter() - start


def disk(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    store = Path(os.path.realpath(args.dir / "footprint.zarr"))
    ds = xr.open_zarr(store)[list(CUBES)]
    template = ds["foreign_footprint"]
    chunks = dict(zip(template.dims, template.data.chunks, strict=True))
    ds = ds.load().chunk(chunks)
    for name in ds.data_vars:
        ds[name].encoding = {}
    variants = layouts(ds)
    tmp = Path(tempfile.mkdtemp(prefix="zarr-options-"))
    best: dict[str, dict] = {k: {"write": float("inf"), "read": float("inf")} for k in variants}
    for _ in range(args.repeat):
        for n, (key, variant) in enumerate(variants.items()):
            path = tmp / f"v{n}.zarr"
            best[key]["write"] = min(best[key]["write"], write(ds, path, **variant))
            best[key]["read"] = min(best[key]["read"], read_one(path))
            best[key]["bytes"], best[key]["files"] = disk(path)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{dict(ds.sizes)}, spatial chunks {ds['foreign_footprint'].data.chunksize}")
    print("| layout | write s | MB | files | read one layer s |")
    print("|---|---:|---:|---:|---:|")
    for key, found in best.items():
        print(
            f"| {key} | {found['write']:.2f} | {found['bytes'] / 1e6:.1f} | "
            f"{found['files']} | {found['read']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
