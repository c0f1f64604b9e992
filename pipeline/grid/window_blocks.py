"""Dask layer: sums of a ``(y, x)`` array over small masked windows (e.g. city discs).

Each window is ``(rows, cols, mask)``: sorted row and column indices (a disc
across the antimeridian has non-contiguous columns) and the bool
``(len(rows), len(cols))`` cells taken. A window touches a few spatial chunks;
each chunk's task receives only the pieces of the windows that overlap it and
returns one sum per window, so the driver holds the windows and a vector per
chunk, never the grid. Chunks that no window touches are not read.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask
import dask.array as da
import numpy as np

Window = tuple[np.ndarray, np.ndarray, np.ndarray]


def window_sums(array: da.Array, windows: Sequence[Window], *, total: bool = False) -> da.Array:
    """Lazy float64 sums of ``array`` over each window's masked cells.

    Parameters
    ----------
    array : dask.array.Array
        ``(ny, nx)`` numbers or bools (a bool array gives cell counts).
    windows : sequence of (rows, cols, mask)
        See the module docstring.
    total : bool
        Also sum every cell (then every chunk is read): the last entry.

    Returns
    -------
    dask.array.Array
        ``(len(windows),)``, or ``(len(windows) + 1,)`` with ``total``; 0 for a
        window without cells.
    """
    n = len(windows) + int(total)
    pieces = _pieces(array.chunks, windows)
    if total:
        pieces = {ij: pieces.get(ij, []) for ij in np.ndindex(array.numblocks)}
    blocks = array.to_delayed()
    parts = [
        da.from_delayed(dask.delayed(_block_sums)(blocks[ij], found, n, total), (n,), np.float64)
        for ij, found in pieces.items()
    ]
    if not parts:
        return da.zeros(n, dtype=np.float64, chunks=max(n, 1))
    return da.stack(parts).sum(axis=0)


def _pieces(chunks, windows: Sequence[Window]) -> dict[tuple[int, int], list]:
    """Per chunk ``(i, j)``: ``(window, local rows, local cols, mask piece)`` of each overlap."""
    row_edges, col_edges = (np.concatenate([[0], np.cumsum(c)]) for c in chunks)
    found: dict[tuple[int, int], list] = {}
    for w, (rows, cols, mask) in enumerate(windows):
        rows, cols, mask = np.asarray(rows), np.asarray(cols), np.asarray(mask, dtype=bool)
        row_chunk = np.searchsorted(row_edges, rows, side="right") - 1
        col_chunk = np.searchsorted(col_edges, cols, side="right") - 1
        for i in np.unique(row_chunk):
            r = np.flatnonzero(row_chunk == i)
            for j in np.unique(col_chunk):
                c = np.flatnonzero(col_chunk == j)
                piece = mask[np.ix_(r, c)]
                if piece.any():
                    local = (rows[r] - row_edges[i], cols[c] - col_edges[j])
                    found.setdefault((int(i), int(j)), []).append((w, *local, piece))
    return found


def _block_sums(block: np.ndarray, pieces: list, n: int, total: bool) -> np.ndarray:
    """One block's ``(n,)`` sums over its window pieces (and all its cells last)."""
    block, sums = np.asarray(block), np.zeros(n)
    for w, rows, cols, piece in pieces:
        sums[w] += block[np.ix_(rows, cols)][piece].sum(dtype=np.float64)
    if total:
        sums[-1] = block.sum(dtype=np.float64)
    return sums
