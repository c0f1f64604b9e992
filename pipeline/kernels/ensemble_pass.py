"""One spatial chunk of the Monte Carlo grid pass: per-cell quantiles and mean.

Pure numpy, no I/O. Each realization ``j`` has its own region tables ``T_j``
(``out[q, g] = sum_s e[s, g] T_j[r(g), s, q]``, :mod:`pipeline.kernels.cells`).
The chunk's cells are taken in strips of rows; every realization's layers of
one strip are computed, reduced to the requested quantiles and the mean over
realizations, and dropped. Only one strip of all realizations is ever held.
"""

from __future__ import annotations

import numpy as np

from pipeline.kernels.cells import apply_region_tables
from pipeline.kernels.threshold import holding_mask

#: Realizations x outputs x cells of one strip (8 bytes each: 32 MB).
STRIP_VALUES = 1 << 22


def ensemble_chunk(
    emissions: np.ndarray,
    region_index: np.ndarray,
    tables: np.ndarray,
    levels: np.ndarray,
    dtype: np.dtype | type = np.float64,
) -> np.ndarray:
    """Quantiles and mean over realizations of every output layer of one chunk.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)`` tonnes.
    region_index : numpy.ndarray
        ``(ny, nx)`` row of the tables, negative outside (zeros).
    tables : numpy.ndarray
        ``(n_realizations, n_codes, n_sectors, n_out)`` region tables.
    levels : numpy.ndarray
        Quantiles in [0, 1] (numpy's ``linear`` rule).
    dtype : numpy.dtype
        Dtype of the result (computed in float64).

    Returns
    -------
    numpy.ndarray
        ``(len(levels) + 1, n_out, ny, nx)``: the quantiles in order, then the mean.
    """
    n_real, _, _, n_out = tables.shape
    ny, nx = region_index.shape
    out = np.empty((len(levels) + 1, n_out, ny, nx), dtype=dtype)
    rows = max(1, STRIP_VALUES // max(n_real * n_out * nx, 1))
    for start in range(0, ny, rows):
        stop = min(start + rows, ny)
        e = np.asarray(emissions[:, start:stop], dtype=np.float64)
        idx = region_index[start:stop]
        strip = np.empty((n_real, n_out, stop - start, nx))
        for j in range(n_real):
            apply_region_tables(e, idx, tables[j], out=strip[j])
        out[:-1, :, start:stop] = np.quantile(strip, levels, axis=0)
        out[-1, :, start:stop] = strip.mean(axis=0)
    return out


def hotspot_count(
    emissions: np.ndarray,
    region_index: np.ndarray,
    land: np.ndarray,
    tables: np.ndarray,
    thresholds: np.ndarray,
    last_ties: np.ndarray,
    flat: np.ndarray,
    dtype: np.dtype | type = np.uint16,
) -> np.ndarray:
    """How many realizations' hotspot cells each cell of a chunk is among.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)`` tonnes.
    region_index : numpy.ndarray
        ``(ny, nx)`` row of the tables, negative outside (zeros).
    land : numpy.ndarray
        ``(ny, nx)`` bool, the cells that can be hotspots.
    tables : numpy.ndarray
        ``(n_realizations, n_codes, n_sectors, 1)``: each realization's table of the layer.
    thresholds : numpy.ndarray
        ``(n_realizations,)`` each layer's ``k``-th densest value (``inf``: no cell).
    last_ties : numpy.ndarray
        ``(n_realizations,)`` int: flat index in the whole layer of the last tied
        cell taken, or -1 when every tied cell is taken.
    flat : numpy.ndarray
        ``(ny, nx)`` flat indices of the chunk's cells in the whole layer.
    dtype : numpy.dtype
        Unsigned integer type of the counts (wide enough for the realizations).

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` counts in ``[0, n_realizations]``.
    """
    count = np.zeros(region_index.shape, dtype=dtype)
    e = np.asarray(emissions, dtype=np.float64)
    for j in range(tables.shape[0]):
        layer = apply_region_tables(e, region_index, tables[j])[0]
        last = int(last_ties[j])
        count += holding_mask(layer, land, float(thresholds[j]), last if last >= 0 else None, flat)
    return count
