"""Test support: open a store's exports with GDAL (through rasterio) and compare to the store.

The expected transform is built here from the store's cell centres, and the
expected values, labels and CRS come from the store as ``open_results``
presents it (``footprint`` computed on read), never from the exporting code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from affine import Affine

#: The per-cell cubes every export must carry.
CUBES = ("foreign_footprint", "footprint", "footprint_by_sector", "footprint_by_category",
         "emissions")  # fmt: skip


def store_transform(ds: xr.Dataset) -> Affine:
    """The north-up transform of the store's cell centres."""
    x, y = ds["x"].values, ds["y"].values
    dx, dy = float(x[1] - x[0]), float(y[0] - y[1])
    return Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, -dy, float(y[0]) + dy / 2)


def labels(ds: xr.Dataset, name: str) -> list[str]:
    """The band labels of a cube: its first dimension's labels, or its name."""
    var = ds[name]
    return [str(v) for v in var[var.dims[0]].values] if var.ndim == 3 else [name]


def gdal_name(fmt: str, path: Path, name: str) -> str:
    """The GDAL dataset name of cube ``name`` in an export."""
    if fmt == "netcdf":
        return f'NETCDF:"{path}":{name}'
    if fmt == "zarr-gdal":
        return f'ZARR:"{path}":/{name}'
    return str(path / f"{name}.tif")


def band_labels(fmt: str, src, name: str, dim: str | None) -> list[str]:
    """The labels GDAL reports for the bands, in band order."""
    if fmt == "cog":
        return list(src.descriptions)
    if dim is None:
        return [name]
    key = f"NETCDF_DIM_{dim}_VALUES" if fmt == "netcdf" else f"{dim}_labels"
    return src.tags()[key].strip("{}").split(",")


def check_export(fmt: str, path: Path, ds: xr.Dataset, *, rtol: float = 0.0) -> dict:
    """Open every cube of the export with GDAL; assert CRS, transform, labels and values.

    Returns
    -------
    dict
        ``{cube: band count}``.
    """
    transform, counts = store_transform(ds), {}
    for name in CUBES:
        expected = np.asarray(ds[name].values)
        expected = expected[None] if expected.ndim == 2 else expected
        dim = ds[name].dims[0] if ds[name].ndim == 3 else None
        with rasterio.open(gdal_name(fmt, path, name)) as src:
            assert src.crs == ds.rio.crs, (fmt, name, src.crs)
            assert src.transform.almost_equals(transform, precision=1e-9), (fmt, name)
            assert src.count == expected.shape[0]
            assert band_labels(fmt, src, name, dim) == labels(ds, name), (fmt, name)
            got = src.read()
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, err_msg=f"{fmt} {name}")
        counts[name] = expected.shape[0]
    return counts
