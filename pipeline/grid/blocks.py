"""Dask layer: map the per-cell kernels over spatial chunks.

Nothing here does arithmetic of its own; each function wraps one kernel of
:mod:`pipeline.kernels.cells` in :func:`dask.array.blockwise`. The region tables
enter the graph once, as a single-chunk dask array, so every task refers to the
same key and the scheduler ships them to each worker once.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
from dask.array.core import PerformanceWarning

from pipeline.kernels import cells


def cells_in(region_index, codes) -> da.Array | np.ndarray:
    """Bool ``(y, x)``: the cells whose region code is one of ``codes``.

    Lazy for a dask ``region_index``: one ``numpy.isin`` task per block, fused
    with the block's read (``dask.array.isin`` adds an axis and two reductions).
    """
    codes = np.asarray(list(codes), dtype=np.int64)
    if not isinstance(region_index, da.Array):
        return np.isin(region_index, codes)
    return region_index.map_blocks(np.isin, codes, dtype=bool, meta=np.empty((0, 0), dtype=bool))


def as_single_chunk(table: np.ndarray, *, name: str) -> da.Array:
    """Wrap a small table as a one-chunk dask array with a stable name."""
    return da.from_array(table, chunks=table.shape, name=f"{name}-{_token(table)}")


def apply_region_tables(
    emissions: da.Array,
    region_index: da.Array,
    tables: np.ndarray,
    *,
    dtype=None,
    out_chunk: int | None = None,
) -> da.Array:
    """Lazy :func:`pipeline.kernels.cells.apply_region_tables` over spatial chunks.

    Parameters
    ----------
    emissions : dask.array.Array
        ``(n_sectors, ny, nx)``; rechunked to one chunk along sectors.
    region_index : dask.array.Array
        ``(ny, nx)`` with the same spatial chunks.
    tables : numpy.ndarray
        ``(n_regions, n_sectors, n_out)``.
    dtype : numpy dtype, optional
        Output dtype; default float64.
    out_chunk : int, optional
        Outputs per task (default all): with 1, selecting one output layer
        computes only that layer.
    """
    return _map_cells(
        cells.apply_region_tables,
        "qyx",
        emissions,
        region_index,
        tables,
        "rsq",
        dtype=dtype,
        name="region-tables",
        out_chunk=out_chunk,
    )


def _map_cells(
    kernel, out_index, emissions, region_index, table, table_index, *, dtype, name, out_chunk=None
):
    """``blockwise`` a ``kernel(emissions, region_index, table)`` over spatial chunks."""
    dtype = np.dtype(dtype or np.float64)
    table = table.astype(dtype)
    if out_chunk is None:
        shared = as_single_chunk(table, name=name)
    else:
        chunks = (*table.shape[:-1], out_chunk)
        shared = da.from_array(table, chunks=chunks, name=f"{name}-{_token(table)}-{out_chunk}")
    with warnings.catch_warnings():
        # one task per output layer and chunk is the point of out_chunk
        warnings.simplefilter("ignore", PerformanceWarning)
        return da.blockwise(
            _typed,
            out_index,
            emissions.rechunk({0: -1}),
            "syx",
            region_index,
            "yx",
            shared,
            table_index,
            concatenate=True,
            dtype=dtype,
            meta=np.empty((0, 0, 0), dtype=dtype),
            kernel=kernel,
        )


def _typed(emissions, region_index, table, *, kernel):
    """``kernel``'s block in the table's dtype (the declared dtype of the result)."""
    return kernel(emissions, region_index, table).astype(table.dtype, copy=False)


def region_sector_totals(emissions: da.Array, region_index: da.Array, n_regions: int) -> da.Array:
    """Lazy ``(n_regions + 1, n_sectors)`` totals; the last row is outside every region."""
    emissions = emissions.rechunk({0: -1})
    n_sectors = emissions.shape[0]
    partial = da.map_blocks(
        _totals_block,
        emissions,
        region_index[None],
        n_regions,
        new_axis=[3],
        chunks=((n_regions + 1,), *[(1,) * len(c) for c in emissions.chunks[1:]], (n_sectors,)),
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0)),
    )
    return partial.sum(axis=(1, 2))


def with_region_sector_totals(
    emissions: da.Array, region_index: da.Array, n_regions: int
) -> tuple[da.Array, da.Array]:
    """``emissions`` passed through tasks that also total each block by region.

    Returns the same values in the same chunks, and the lazy totals of
    :func:`region_sector_totals`. Both select from one task per block, so
    writing the first and computing the second in one ``compute`` reads each
    emissions block once (as :mod:`pipeline.grid.write_blocks` does for the
    result).
    """
    packed = da.blockwise(
        _block_and_totals,
        "syx",
        emissions,
        "syx",
        region_index,
        "yx",
        n_regions,
        None,
        dtype=object,
        meta=np.empty((0, 0, 0), dtype=object),
    )
    passed = packed.map_blocks(
        _block_of, dtype=emissions.dtype, meta=np.empty((0, 0, 0), dtype=emissions.dtype)
    )
    per_block = packed.map_blocks(
        _block_totals_of,
        new_axis=3,
        chunks=(*[(1,) * len(c) for c in emissions.chunks], (n_regions + 1,)),
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0)),
    )
    return passed, per_block.sum(axis=(1, 2)).T


def _block_and_totals(e: np.ndarray, idx: np.ndarray, n_regions: int) -> list:
    return [(e, cells.region_sector_totals(e, idx, n_regions))]


def _block_of(packed) -> np.ndarray:
    return packed[0][0]


def _block_totals_of(packed) -> np.ndarray:
    return packed[0][1].T[:, None, None, :]


def _totals_block(emissions: np.ndarray, region_index: np.ndarray, n_regions: int) -> np.ndarray:
    totals = cells.region_sector_totals(emissions, region_index[0], n_regions)
    return totals[:, None, None, :]


def _token(array: np.ndarray) -> str:
    from dask.base import tokenize

    return tokenize(array)
