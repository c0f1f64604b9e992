"""Test helper: a small factorized store (4 x 6 cells, 2 regions, 3 consumers) on any CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.attribution.cube import CubeInputs, build_cube
from pipeline.storage.versions import write_zarr_atomic

SOURCES = {"power": "/in/power.tif", "cement": "/in/cement.tif"}
#: name -> (CRS, cell edge, the grid's west and north edge)
CRSES = {"projected": ("EPSG:3035", 10_000.0, 4_000_000.0), "geographic": ("EPSG:4326", 0.5, 40.0)}


def cube_inputs(crs: str, dx: float, origin: float) -> CubeInputs:
    """A 4 x 6 north-up grid of two regions, two sectors, three consumers, two categories."""
    rng = np.random.default_rng(3)
    x = origin + dx * (np.arange(6) + 0.5)
    y = origin - dx * (np.arange(4) + 0.5)
    emissions = xr.DataArray(
        rng.random((2, 4, 6)),
        dims=("sector", "y", "x"),
        coords={"sector": list(SOURCES), "y": y, "x": x},
        attrs={"units": "t", "long_name": "CO2 emissions per cell", "sources": dict(SOURCES)},
    ).chunk({"y": 2, "x": 3})
    index = xr.DataArray(np.repeat([[0, 0, 0, 1, 1, 1]], 4, axis=0), dims=("y", "x"))
    shares = rng.random((2, 1, 3, 2))
    shares /= shares.sum(axis=(2, 3), keepdims=True)
    return CubeInputs(
        emissions=emissions.rio.write_crs(crs),
        region_index=index.chunk({"y": 2, "x": 3}),
        region_codes=("A", "B"),
        producer_of_code=np.array([0, 1]),
        shares=xr.DataArray(
            shares,
            dims=("region", "mrio_sector", "consumer", "category"),
            coords={
                "region": ["A", "B"],
                "mrio_sector": ["m"],
                "consumer": ["A", "B", "USA"],
                "category": ["households", "investment"],
            },  # fmt: skip
        ),
        weights=np.ones((2, 2, 1)),
        region_totals=np.asarray(emissions.values.sum(axis=(1, 2)))[None].repeat(2, 0) / 2,
        foreign=np.array([False, False, True]),
    )


def write_small_store(path: Path, crs: str, dx: float, origin: float) -> CubeInputs:
    """Build and write the small store as a run does (checked, stamped complete)."""
    inputs = cube_inputs(crs, dx, origin)
    cube = build_cube(inputs)
    write_zarr_atomic(cube.ds, path, also_compute={"terms": cube.terms})
    return inputs
