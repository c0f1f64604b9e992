"""Per-cell attribution throughput, side by side in one run.

Compares, on one spatial chunk of the real China province raster, all
single-threaded and in one process:

* **ours**: :func:`pipeline.kernels.cells.apply_region_tables` (runs of one
  region, each one BLAS product written straight into the output), returning
  a new array (as in a Dask task) and writing into a preallocated buffer;
* **naive xarray**: index the share table by the region raster with a
  vectorised ``.isel``, multiply by the emissions and sum over sectors;
* **write ceiling**: ``numpy`` filling an output buffer of the same size,
  preallocated (``buf.fill``) and freshly allocated (``np.full``).

Throughput is cells x consumers per second; the printed ratios are what
README.md reports. Timings are the best of ``--repeat`` interleaved rounds, so
a noisy neighbour slows all methods alike.

Usage: python bench/grid.py [--resolution-km 1] [--chunk 512] [--consumers 43]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr
from pyproj import Transformer
from threadpoolctl import threadpool_limits

from pipeline.demo.build import ALBERS_CHINA
from pipeline.grid.regions import grid_covering, rasterize_regions, read_regions
from pipeline.kernels import cells
from pipeline.resources import data_file

SECTORS = 7
#: Chunk centre: Hangzhou Bay, where Shanghai, Jiangsu, Zhejiang and Anhui meet.
CENTRE_LONLAT = (120.5, 31.0)


def chunk_of_china(resolution_km: float, chunk: int) -> np.ndarray:
    """Region index of a ``chunk`` x ``chunk`` window of the China raster."""
    regions = read_regions(data_file("china_provinces.geojson"))
    grid = grid_covering(regions, crs=ALBERS_CHINA, resolution=resolution_km * 1000)
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(*CENTRE_LONLAT)
    col, row = (~grid.transform) @ (x, y)
    top, left = max(int(row) - chunk // 2, 0), max(int(col) - chunk // 2, 0)
    window = grid.__class__(
        grid.crs,
        grid.transform * grid.transform.translation(left, top),
        (chunk, chunk),
    )
    return rasterize_regions(regions, window)


def naive_xarray(emissions: np.ndarray, region_index: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """What an xarray user writes: look up each cell's table, multiply, sum."""
    table = xr.DataArray(tables, dims=("region", "sector", "consumer"))
    index = xr.DataArray(np.maximum(region_index, 0), dims=("y", "x"))
    e = xr.DataArray(emissions, dims=("sector", "y", "x"))
    per_cell = (e * table.isel(region=index)).sum("sector")
    inside = xr.DataArray(region_index >= 0, dims=("y", "x"))
    return per_cell.where(inside, 0.0).transpose("consumer", "y", "x").values


def best_times(functions: dict, repeat: int) -> dict[str, float]:
    """Best wall time of each function over ``repeat`` interleaved rounds."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution-km", type=float, default=1.0)
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--consumers", type=int, default=43)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    region_index = chunk_of_china(args.resolution_km, args.chunk)
    rng = np.random.default_rng(0)
    n_regions = int(region_index.max()) + 1
    emissions = rng.gamma(0.5, 10.0, (SECTORS, *region_index.shape))
    raw = rng.random((n_regions, SECTORS, args.consumers))
    tables = raw / raw.sum(axis=2, keepdims=True)
    out_shape = (args.consumers, *region_index.shape)
    buffer = np.empty(out_shape)

    with threadpool_limits(1):
        ours = cells.apply_region_tables(emissions, region_index, tables)
        np.testing.assert_allclose(naive_xarray(emissions, region_index, tables), ours, rtol=1e-12)
        times = best_times(
            {
                "ours": lambda: cells.apply_region_tables(emissions, region_index, tables),
                "ours (into preallocated buffer)": lambda: cells.apply_region_tables(
                    emissions, region_index, tables, out=buffer
                ),
                "naive xarray": lambda: naive_xarray(emissions, region_index, tables),
                "numpy fill (preallocated)": lambda: buffer.fill(1.0),
                "numpy full (allocate + fill)": lambda: np.full(out_shape, 1.0),
            },
            args.repeat,
        )

    work = region_index.size * args.consumers
    present = np.unique(region_index)
    print(
        f"chunk {args.chunk} x {args.chunk} cells at {args.resolution_km:g} km around "
        f"{CENTRE_LONLAT}, {present[present >= 0].size} regions, {SECTORS} sectors, "
        f"{args.consumers} consumers, float64, 1 thread, best of {args.repeat}"
    )
    print(f"{'method':<30}{'seconds':>10}{'Mcell*consumer/s':>20}")
    for name, seconds in times.items():
        print(f"{name:<30}{seconds:>10.4f}{work / seconds / 1e6:>20.1f}")
    ratios = {
        "ours / naive xarray": times["naive xarray"] / times["ours"],
        "ours / allocate-and-fill (new array each)": times["numpy full (allocate + fill)"]
        / times["ours"],
        "ours into buffer / preallocated fill (write ceiling)": times["numpy fill (preallocated)"]
        / times["ours (into preallocated buffer)"],
    }
    for name, ratio in ratios.items():
        print(f"{name:<55}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
