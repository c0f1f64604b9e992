"""Per-cell attribution kernels: pure numpy, no I/O, no dask.

A *region table* ``T`` of shape ``(n_regions, n_sectors, n_out)`` says how one
tonne emitted by inventory sector ``s`` in region ``r`` is split over ``n_out``
outputs (consumers, categories, ...). For a cell ``g`` in region ``r(g)`` with
emissions ``e[s, g]``::

    out[q, g] = sum_s e[s, g] * T[r(g), s, q]

Runs of cells of one region are each one matrix product (BLAS), like xESMF's
sparse matrix multiply applies weights to flattened cells.
"""

from __future__ import annotations

import numpy as np


def apply_region_tables(
    emissions: np.ndarray,
    region_index: np.ndarray,
    tables: np.ndarray,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Spread each cell's sector emissions over outputs by its region's table.

    Cells are taken in raster order as *runs* of one region; each run is one
    small matrix product written straight into the output, so no cell is
    gathered or scattered. Where runs are very short (a speckled region map)
    the cells are grouped by region instead.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)`` emissions per sector and cell.
    region_index : numpy.ndarray
        ``(ny, nx)`` integer row of ``tables`` for each cell; negative means the
        cell belongs to no region and gets zeros.
    tables : numpy.ndarray
        ``(n_regions, n_sectors, n_out)`` region tables.
    out : numpy.ndarray, optional
        C-contiguous ``(n_out, ny, nx)`` buffer to write into, of the result
        type; a new array is returned otherwise.

    Returns
    -------
    numpy.ndarray
        ``(n_out, ny, nx)`` in the result type of ``emissions`` and ``tables``.
    """
    n_sectors, ny, nx = emissions.shape
    dtype = np.result_type(emissions.dtype, tables.dtype)
    flat_e = emissions.reshape(n_sectors, ny * nx).astype(dtype, copy=False)
    flat_r = region_index.reshape(ny * nx)
    per_region = np.ascontiguousarray(tables.transpose(0, 2, 1), dtype=dtype)
    starts = np.flatnonzero(flat_r[1:] != flat_r[:-1]) + 1
    shape = (tables.shape[2], ny * nx)
    flat_out = np.empty(shape, dtype=dtype) if out is None else out.reshape(shape)
    if starts.size * MIN_MEAN_RUN > flat_r.size:
        _grouped(flat_e, flat_r, per_region, flat_out)
    else:
        _runs(flat_e, flat_r, per_region, starts, flat_out)
    return flat_out.reshape(tables.shape[2], ny, nx)


#: Below this mean run length (cells) the grouped path is faster than runs.
MIN_MEAN_RUN = 16
#: Long runs are multiplied in tiles of this many cells, so each product's
#: output stays in cache while BLAS writes it.
TILE = 1024


def _runs(flat_e, flat_r, per_region, starts, out) -> np.ndarray:
    n_cells = flat_r.size
    bounds = np.concatenate([[0], starts, [n_cells]]).tolist()
    regions = flat_r[bounds[:-1]].tolist() if n_cells else []
    for start, stop, region in zip(bounds[:-1], bounds[1:], regions, strict=True):
        if region < 0:
            out[:, start:stop] = 0
            continue
        table = per_region[region]
        for a in range(start, stop, TILE):
            b = min(a + TILE, stop)
            np.matmul(table, flat_e[:, a:b], out=out[:, a:b])
    return out


def _grouped(flat_e, flat_r, per_region, out) -> np.ndarray:
    order, bounds, regions = _group_cells_by_region(flat_r)
    for start, stop, region in zip(bounds[:-1], bounds[1:], regions, strict=True):
        cells = order[start:stop]
        if region < 0:
            out[:, cells] = 0
            continue
        out[:, cells] = per_region[region] @ flat_e[:, cells]
    return out


def scale_by_region(
    emissions: np.ndarray, region_index: np.ndarray, factors: np.ndarray
) -> np.ndarray:
    """Multiply each cell's sector emissions by its region's per-sector factor.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)``.
    region_index : numpy.ndarray
        ``(ny, nx)`` row of ``factors``; negative gives zeros.
    factors : numpy.ndarray
        ``(n_regions, n_sectors)``.

    Returns
    -------
    numpy.ndarray
        ``(n_sectors, ny, nx)``.
    """
    return apply_region_tables(emissions, region_index, per_sector_tables(factors))


def per_sector_tables(factors: np.ndarray) -> np.ndarray:
    """``(n_regions, n_sectors, n_sectors)`` tables that send sector ``s`` to output ``s`` alone.

    Applied with :func:`apply_region_tables` they give exactly
    ``e[s] * factors[r, s]`` per output ``s`` (every other term is 0): the
    by-sector layers, on the runs' products.
    """
    n_sectors = factors.shape[1]
    return factors[:, :, None] * np.eye(n_sectors, dtype=factors.dtype)[None]


def region_sector_totals(
    emissions: np.ndarray, region_index: np.ndarray, n_regions: int
) -> np.ndarray:
    """Sum emissions per region and sector.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)``.
    region_index : numpy.ndarray
        ``(ny, nx)``; negative cells are summed into the last row.
    n_regions : int
        Number of regions.

    Returns
    -------
    numpy.ndarray
        ``(n_regions + 1, n_sectors)`` float64 totals; row ``n_regions`` holds
        the emissions of cells outside every region.
    """
    n_sectors = emissions.shape[0]
    rows = np.where(region_index < 0, n_regions, region_index).ravel()
    flat_e = np.asarray(emissions, dtype=np.float64).reshape(n_sectors, rows.size)
    totals = np.zeros((n_regions + 1, n_sectors), dtype=np.float64)
    starts = np.flatnonzero(rows[1:] != rows[:-1]) + 1
    if rows.size and (starts.size + 1) * MIN_MEAN_RUN <= rows.size:
        # runs of one region (raster order): one sum per run, then per region
        starts = np.concatenate([[0], starts])
        np.add.at(totals, rows[starts], np.add.reduceat(flat_e, starts, axis=1).T)
        return totals
    for s in range(n_sectors):
        totals[:, s] = np.bincount(rows, weights=flat_e[s], minlength=n_regions + 1)
    return totals


def _group_cells_by_region(flat_region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return cell order sorted by region, group boundaries and group regions."""
    order = np.argsort(flat_region, kind="stable")
    sorted_regions = flat_region[order]
    starts = np.flatnonzero(np.diff(sorted_regions)) + 1
    bounds = np.concatenate([[0], starts, [sorted_regions.size]])
    regions = sorted_regions[bounds[:-1]] if sorted_regions.size else np.array([], dtype=int)
    return order, bounds, regions
