"""Coverage-weighted sums of cell values over zones: pure numpy.

A zone's weights are sparse: the cells its polygon covers and the fraction of
each cell it covers (:mod:`pipeline.grid.zones` gets them from exactextract).
Applied to one block of cells, they are three parallel arrays (zone, flat cell
index in the block, coverage), so a block's zone sums are one ``bincount``.
"""

from __future__ import annotations

import numpy as np


def zone_sums(
    values: np.ndarray,
    zone: np.ndarray,
    cell: np.ndarray,
    coverage: np.ndarray,
    n_zones: int,
) -> np.ndarray:
    """Each zone's coverage-weighted sum of a block's values, and the block's total.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n_layers, ny, nx)`` (or ``(ny, nx)`` for one layer) cell values.
    zone : numpy.ndarray
        Zone of each weight, in ``[0, n_zones)``.
    cell : numpy.ndarray
        Flat (row-major) index of each weight's cell within the block.
    coverage : numpy.ndarray
        Fraction of the cell the zone covers, in ``[0, 1]``.
    n_zones : int
        Number of zones.

    Returns
    -------
    numpy.ndarray
        ``(n_layers, n_zones + 1)`` float64: ``out[l, z] = sum_w coverage[w] *
        values[l].flat[cell[w]]`` over the weights ``w`` of zone ``z``, and in
        the last column the sum of every cell of the block.
    """
    values = np.asarray(values)
    stack = values.reshape(1 if values.ndim == 2 else values.shape[0], -1)
    zone = np.asarray(zone, dtype=np.int64)
    cell = np.asarray(cell, dtype=np.int64)
    coverage = np.asarray(coverage, dtype=np.float64)
    out = np.zeros((stack.shape[0], n_zones + 1))
    for layer, flat in enumerate(stack):
        if zone.size:
            weighted = coverage * flat[cell].astype(np.float64)
            out[layer, :n_zones] = np.bincount(zone, weights=weighted, minlength=n_zones)
        out[layer, n_zones] = flat.sum(dtype=np.float64)
    return out
