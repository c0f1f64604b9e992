"""Dask layer of the Monte Carlo grid pass: one task per spatial chunk.

Maps :func:`pipeline.kernels.ensemble_pass.ensemble_chunk` over the spatial
chunks; every realization's tables travel once per worker as one object named
by its content. A chunk's task computes all realizations of its cells strip by
strip and keeps only the quantiles and the mean.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from pipeline.grid.write_blocks import shared_tables
from pipeline.kernels.ensemble_pass import ensemble_chunk


def ensemble_layers(
    emissions: da.Array,
    region_index: da.Array,
    tables: np.ndarray,
    levels: np.ndarray,
    *,
    dtype=np.float64,
) -> da.Array:
    """Lazy ``(len(levels) + 1, n_out, ny, nx)``: quantiles, then the mean, of each output.

    Parameters
    ----------
    emissions : dask.array.Array
        ``(n_sectors, ny, nx)`` tonnes.
    region_index : dask.array.Array
        ``(ny, nx)`` raster code.
    tables : numpy.ndarray
        ``(n_realizations, n_codes, n_sectors, n_out)`` region tables per raster code.
    levels : numpy.ndarray
        Quantiles in [0, 1].
    """
    dtype = np.dtype(dtype)
    emissions = emissions.rechunk({0: -1})
    n_stats, n_out = len(levels) + 1, tables.shape[3]
    return da.blockwise(
        _chunk,
        "kqyx",
        emissions,
        "syx",
        region_index,
        "yx",
        shared_tables(np.ascontiguousarray(tables, dtype=np.float64)),
        None,
        new_axes={"k": n_stats, "q": n_out},
        concatenate=True,
        dtype=dtype,
        meta=np.empty((0, 0, 0, 0), dtype=dtype),
        levels=np.asarray(levels, dtype=np.float64),
        dt=dtype,
    )


def _chunk(e, idx, tables, levels, dt):
    return ensemble_chunk(e, idx, tables, levels, dt)
