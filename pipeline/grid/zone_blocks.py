"""Dask layer: coverage-weighted zone sums of ``(y, x)`` layers, chunk by chunk.

The sparse zone weights (:class:`pipeline.grid.zone_weights.ZoneWeights`) are
cut once by spatial chunk in the driver. Each chunk's task receives its piece
(zone, flat cell index within the chunk, coverage) and the chunk of every
layer, and returns ``(n_layers, n_zones + 1)`` sums
(:func:`pipeline.kernels.zonal.zone_sums`): the zones' weighted sums and the
chunk's total. The driver adds those vectors; it never holds a layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask
import dask.array as da
import numpy as np

from pipeline.errors import GridError
from pipeline.grid.zone_weights import ZoneWeights
from pipeline.kernels.zonal import zone_sums

Piece = tuple[np.ndarray, np.ndarray, np.ndarray]


def zone_totals(layers: Sequence[da.Array], weights: ZoneWeights) -> da.Array:
    """Lazy float64 ``(n_layers, n_zones + 1)``: each zone's weighted sum, then each total.

    Parameters
    ----------
    layers : sequence of dask.array.Array
        ``(ny, nx)`` layers of the weights' grid. They are brought to the first
        layer's chunks.
    weights : ZoneWeights
        The zones' cells and coverage fractions.

    Returns
    -------
    dask.array.Array
        ``out[l, z]`` is ``sum(coverage * layer_l)`` over zone ``z``'s cells;
        ``out[l, -1]`` is the sum of every cell of layer ``l``. Every chunk is
        read once.
    """
    first = layers[0]
    if tuple(first.shape) != tuple(weights.shape):
        raise GridError(
            f"layers of shape {first.shape} but zone weights of a grid of {weights.shape}; "
            "compute the weights on the layers' grid"
        )
    layers = [first, *(layer.rechunk(first.chunks) for layer in layers[1:])]
    pieces = chunk_pieces(first.chunks, weights)
    blocks = [layer.to_delayed() for layer in layers]
    shape = (len(layers), weights.n_zones + 1)
    parts = [
        da.from_delayed(
            dask.delayed(_block_sums)([b[ij] for b in blocks], *pieces[ij], weights.n_zones),
            shape,
            np.float64,
        )
        for ij in np.ndindex(first.numblocks)
    ]
    return da.stack(parts).sum(axis=0)


def chunk_pieces(chunks, weights: ZoneWeights) -> dict[tuple[int, int], Piece]:
    """Per spatial chunk ``(i, j)``: ``(zone, flat cell within the chunk, coverage)``.

    Every chunk has an entry (empty arrays where no zone reaches). The pieces
    take 12 bytes per weight (int32, int32, float32): chunks hold fewer than
    2**31 cells.
    """
    row_edges, col_edges = (np.concatenate([[0], np.cumsum(c)]) for c in chunks)
    n_i, n_j = len(chunks[0]), len(chunks[1])
    ci = np.searchsorted(row_edges, weights.row, side="right") - 1
    cj = np.searchsorted(col_edges, weights.col, side="right") - 1
    key = ci * n_j + cj
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(n_i * n_j + 1))
    pieces = {}
    for i, j in np.ndindex(n_i, n_j):
        k = i * n_j + j
        take = order[bounds[k] : bounds[k + 1]]
        width = col_edges[j + 1] - col_edges[j]
        local = (weights.row[take] - row_edges[i]) * width + (weights.col[take] - col_edges[j])
        pieces[(i, j)] = (weights.zone[take], local.astype(np.int32), weights.coverage[take])
    return pieces


def _block_sums(
    blocks: list, zone: np.ndarray, cell: np.ndarray, coverage: np.ndarray, n_zones: int
) -> np.ndarray:
    """One chunk's ``(n_layers, n_zones + 1)`` sums."""
    values = np.stack([np.asarray(b) for b in blocks])
    return zone_sums(values, zone, cell, coverage, n_zones)
