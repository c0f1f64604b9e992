"""Per-cell cubes of a factorized store, computed on read.

Every per-consumer layer is ``footprint[c, g] = sum_s e[s, g] * T[r(g), s, c]``
with ``T = sum_k M`` of the stored region tables (``region_shares``), the stored
``emissions`` and ``region_index``, and the run's region mapping. The layers are
lazy dask arrays, one task per consumer and spatial chunk, so selecting one
consumer computes only its layer (one pass over that chunk's emissions).
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
from pipeline.grid import blocks
from pipeline.grid.mapping import store_mapping
from pipeline.kernels import tables


def with_footprint(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``footprint(consumer, y, x)``: stored, or computed lazily on read.

    The computed cube has the names, dims, coordinates, attributes and dtype of
    a materialized one; consumers listed in ``materialized_footprint`` are read
    from the store.
    """
    if "footprint" in ds or "region_shares" not in ds:
        return ds
    data = consumer_layers(ds)
    if MATERIALIZED in ds:
        data = _with_stored(ds, data)
    footprint = xr.DataArray(
        data,
        dims=("consumer", "y", "x"),
        coords={"consumer": ds["consumer"], "foreign": ds["foreign"]},
        attrs={"units": UNITS, "long_name": LONG_NAMES["footprint"]},
    )
    describe_cells(footprint)
    out = ds.assign(footprint=footprint)
    if "spatial_ref" in ds.coords:
        out["footprint"] = out["footprint"].assign_coords(spatial_ref=ds["spatial_ref"])
    return out


def consumer_layers(ds: xr.Dataset) -> da.Array:
    """Lazy ``(consumer, y, x)`` layers from the store's region tables."""
    per_code = code_tables(ds, ds["region_shares"].sum("category"))
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
