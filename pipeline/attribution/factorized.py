"""Per-cell cubes of a factorized store, computed on read.

Every per-consumer layer is ``footprint[c, g] = sum_s e[s, g] * T[r(g), s, c]``
with ``T = sum_k M`` of the stored region tables (``region_shares``), the stored
``emissions`` and ``region_index``, and the run's region mapping. The layers are
lazy dask arrays, one task per consumer and spatial chunk, so selecting one
consumer computes only its layer (one pass over that chunk's emissions).
A scenario's store adds ``delta_footprint`` the same way, from its
``delta_region_shares`` (scenario minus baseline tables) and the same emissions,
and its ``footprint_by_category`` and ``footprint_by_sector``, which its write
pass does not store, are computed from its tables too.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from pipeline.attribution.cube import (
    LONG_NAMES,
    MATERIALIZED,
    MATERIALIZED_DIM,
    UNITS,
    describe_cells,
)
from pipeline.attribution.region_tables import home_producers
from pipeline.grid import blocks
from pipeline.grid.mapping import store_mapping
from pipeline.kernels import cells, tables


def with_footprint(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``footprint(consumer, y, x)``: stored, or computed lazily on read.

    The computed cube has the names, dims, coordinates, attributes and dtype of
    a materialized one; consumers listed in ``materialized_footprint`` are read
    from the store. A scenario's store also gets ``delta_footprint``.
    """
    if "region_shares" not in ds:
        return ds
    out = ds
    if "footprint" not in ds:
        data = consumer_layers(ds)
        if MATERIALIZED in ds:
            data = _with_stored(ds, data)
        out = _assign_cells(ds, "footprint", _consumer_cube(ds, data, LONG_NAMES["footprint"]))
    if DELTA_TABLES in ds:
        delta = _consumer_cube(ds, consumer_layers(ds, DELTA_TABLES), DELTA_LONG_NAME)
        out = _assign_cells(out, "delta_footprint", delta)
    if "footprint_by_category" not in ds:
        out = _with_foreign_cubes(out)
    return out


def _with_foreign_cubes(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``footprint_by_category`` and ``footprint_by_sector`` computed on read.

    The tables are those of the write pass (:func:`pipeline.kernels.tables.split_outputs`):
    foreign consumers' shares of the home regions' tonnes, by category and by sector.
    """
    shares = ds["region_shares"]
    foreign = np.asarray(ds["foreign"].values, dtype=bool)
    split = tables.split_outputs(
        np.asarray(shares.transpose("region", "sector", "consumer", "category").values),
        foreign,
        home_producers(shares, foreign),
    )
    cubes = {
        "footprint_by_category": ("category", split["by_category"]),
        "footprint_by_sector": ("sector", cells.per_sector_tables(split["foreign"])),
    }
    out = ds
    for name, (dim, per_region) in cubes.items():
        per_code = code_tables(ds, xr.DataArray(per_region, dims=("region", "sector", "out")))
        data = blocks.apply_region_tables(
            ds["emissions"].data,
            ds["region_index"].data,
            per_code,
            dtype=ds["foreign_footprint"].dtype,
            out_chunk=1,
        )
        var = xr.DataArray(
            data, dims=(dim, "y", "x"), attrs={"units": UNITS, "long_name": LONG_NAMES[name]}
        )
        out = _assign_cells(out, name, var)
    return out


def _consumer_cube(ds: xr.Dataset, data: da.Array, long_name: str) -> xr.DataArray:
    return xr.DataArray(
        data,
        dims=("consumer", "y", "x"),
        coords={"consumer": ds["consumer"], "foreign": ds["foreign"]},
        attrs={"units": UNITS, "long_name": long_name},
    )


#: A scenario store's delta tables, and the long name of the cube computed from them.
DELTA_TABLES = "delta_region_shares"
DELTA_LONG_NAME = "change of the emissions per cell driven by each consumer (scenario - baseline)"


def _assign_cells(ds: xr.Dataset, name: str, var: xr.DataArray) -> xr.Dataset:
    """``ds`` with the per-cell ``var`` as ``name``, pointing at the store's CRS."""
    describe_cells(var)
    out = ds.assign({name: var})
    if "spatial_ref" in ds.coords:
        out[name] = out[name].assign_coords(spatial_ref=ds["spatial_ref"])
    return out


def consumer_layers(ds: xr.Dataset, name: str = "region_shares") -> da.Array:
    """Lazy ``(consumer, y, x)`` layers from the store's region tables ``name``."""
    per_code = code_tables(ds, ds[name].sum("category"))
    dtype = ds["foreign_footprint"].dtype
    return blocks.apply_region_tables(
        ds["emissions"].data, ds["region_index"].data, per_code, dtype=dtype, out_chunk=1
    )


def code_tables(ds: xr.Dataset, per_region: xr.DataArray) -> np.ndarray:
    """``per_region(region, sector, ...)`` re-indexed by raster code (the run's mapping)."""
    region_index = ds["region_index"]
    codes = region_index.attrs["flag_meanings"].split()
    producers = [str(r) for r in ds["region"].values]
    producer_of_code = store_mapping(region_index.attrs, codes, producers)
    values = np.asarray(per_region.transpose("region", "sector", ...).values, dtype=np.float64)
    return tables.rows_for_codes(values, producer_of_code)


def _with_stored(ds: xr.Dataset, computed: da.Array) -> da.Array:
    """``computed`` with the materialized consumers' layers read from the store."""
    stored = {str(c): n for n, c in enumerate(ds[MATERIALIZED_DIM].values)}
    layers = [
        ds[MATERIALIZED].data[stored[str(c)]][None] if str(c) in stored else computed[n : n + 1]
        for n, c in enumerate(ds["consumer"].values)
    ]
    return da.concatenate(layers, axis=0)
