"""Dask layer of the Monte Carlo grid pass: one task per spatial chunk.

Maps :func:`pipeline.kernels.ensemble_pass.ensemble_chunk` over the spatial
chunks; every realization's tables travel once per worker as one object named
by its content. A chunk's task computes all realizations of its cells strip by
strip and keeps only the quantiles and the mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from pipeline.grid import blocks
from pipeline.grid.threshold_blocks import Holding, cells_holding, last_tie_taken
from pipeline.grid.write_blocks import shared_tables
from pipeline.kernels.ensemble_pass import ensemble_chunk, hotspot_count


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


#: Realizations whose threshold passes run at once (each pass is small; this
#: overlaps their scheduling latency, the passes themselves run on the workers).
CONCURRENT = 4


@dataclass(frozen=True)
class RealizationHotspots:
    """The hotspot cells of every realization's layer, as thresholds.

    Attributes
    ----------
    holdings : list of list of Holding
        Per realization, one :class:`Holding` per requested share.
    thresholds : numpy.ndarray
        ``(n_realizations,)`` the ``k``-th densest value at the first share (``inf``: no cell).
    last_ties : numpy.ndarray
        ``(n_realizations,)`` flat index of the last tied cell taken at the first
        share, -1 when every tied cell is taken.
    """

    holdings: list[list[Holding]]
    thresholds: np.ndarray
    last_ties: np.ndarray


def realization_holdings(
    emissions: da.Array,
    region_index: da.Array,
    land: da.Array,
    tables: np.ndarray,
    shares: Sequence[float],
    *,
    compute: Callable[..., tuple] = dask.compute,
    done: Callable[[int], None] | None = None,
) -> RealizationHotspots:
    """Each realization's exact hotspot cells of its layer, a few realizations at a time.

    Parameters
    ----------
    emissions : dask.array.Array
        ``(n_sectors, ny, nx)`` tonnes.
    region_index : dask.array.Array
        ``(ny, nx)`` raster code.
    land : dask.array.Array
        ``(ny, nx)`` bool, the land cells.
    tables : numpy.ndarray
        ``(n_realizations, n_codes, n_sectors, 1)`` each realization's table of the layer.
    shares : sequence of float
        Shares in ``(0, 1]``; the first one's thresholds are returned for
        :func:`hotspot_frequency`.
    compute : callable
        ``dask.compute``-like.
    done : callable, optional
        Called with the number of realizations finished (progress).
    """

    def one(j: int) -> tuple[list[Holding], int | None]:
        values = blocks.apply_region_tables(emissions, region_index, tables[j])[0]
        found = cells_holding(values, land, list(shares), compute=compute)
        return found, last_tie_taken(values, land, found[0], compute=compute)

    holdings, thresholds, last_ties = [], [], []
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        for j, (found, last) in enumerate(pool.map(one, range(tables.shape[0]))):
            holdings.append(found)
            thresholds.append(found[0].threshold if found[0].k else np.inf)
            last_ties.append(-1 if last is None else last)
            if done is not None:
                done(j + 1)
    return RealizationHotspots(
        holdings, np.asarray(thresholds, dtype=np.float64), np.asarray(last_ties, dtype=np.int64)
    )


def hotspot_frequency(
    emissions: da.Array,
    region_index: da.Array,
    land: da.Array,
    tables: np.ndarray,
    found: RealizationHotspots,
) -> da.Array:
    """Lazy ``(y, x)``: in how many realizations each cell is a hotspot cell.

    Unsigned 16-bit counts (32-bit above 65,535 realizations), one task per
    spatial chunk that computes every realization's layer of its cells in turn.
    """
    n_real = tables.shape[0]
    dtype = np.dtype(np.uint16 if n_real <= np.iinfo(np.uint16).max else np.uint32)
    emissions = emissions.rechunk({0: -1})
    ny, nx = region_index.shape
    rows = da.arange(ny, chunks=region_index.chunks[0], dtype=np.int64)
    cols = da.arange(nx, chunks=region_index.chunks[1], dtype=np.int64)
    payload = (np.ascontiguousarray(tables, dtype=np.float64), found.thresholds, found.last_ties)
    return da.blockwise(
        _count_chunk,
        "yx",
        emissions,
        "syx",
        region_index,
        "yx",
        land.rechunk(region_index.chunks),
        "yx",
        rows,
        "y",
        cols,
        "x",
        shared_tables(payload),
        None,
        concatenate=True,
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
        nx=nx,
        dt=dtype,
    )


def _count_chunk(e, idx, land, rows, cols, payload, nx, dt):
    tables, thresholds, last_ties = payload
    flat = rows[:, None] * nx + cols[None, :]
    return hotspot_count(e, idx, land, tables, thresholds, last_ties, flat, dt)
