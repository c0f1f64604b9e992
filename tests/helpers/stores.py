"""Open a result store as ``open_results`` presents it (per-consumer cubes computed on read)."""

from __future__ import annotations

import xarray as xr

from pipeline.attribution.factorized import with_footprint


def open_store(path, **kwargs) -> xr.Dataset:
    """``xr.open_zarr(path)`` with ``footprint`` computed lazily if the store is factorized."""
    return with_footprint(xr.open_zarr(path, **kwargs))
