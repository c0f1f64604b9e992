"""Dask layer: hotspot statistics of a ``(y, x)`` layer with bounded driver memory.

The exact "fewest land cells holding a share" of
:mod:`pipeline.kernels.threshold`, with every pass a map over spatial chunks and
a tree sum of small histograms. The driver holds a few histograms and at most
``max_gather`` values, never the grid: at 250 m over China (332 M cells) the
in-memory sort needed about 8 GB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from pipeline.errors import ConservationError
from pipeline.kernels import threshold

#: Values gathered into the driver for the exact finish, at most (8 bytes each).
MAX_GATHER = 1 << 21


@dataclass(frozen=True)
class Holding:
    """The fewest land cells holding ``share`` of a layer's land total.

    Attributes
    ----------
    share : float
    k : int
        Number of cells, densest first (ties in row-major order).
    n_land : int
        Land cells.
    total : float
        The layer's land total.
    threshold : float
        The value of the ``k``-th densest cell (``inf`` when ``k`` is 0).
    ties_taken, ties_total : int
        Cells of value ``threshold`` among the ``k``, and on all land.
    """

    share: float
    k: int
    n_land: int
    total: float
    threshold: float = np.inf
    ties_taken: int = 0
    ties_total: int = 0

    @property
    def land_share(self) -> float:
        """``k / n_land`` (0 without land)."""
        return self.k / self.n_land if self.n_land else 0.0


def cells_holding(
    values: da.Array,
    land: da.Array,
    shares: Sequence[float],
    *,
    compute: Callable[..., tuple] = dask.compute,
    max_gather: int = MAX_GATHER,
) -> list[Holding]:
    """For each share, the exact :class:`Holding` of a lazy layer.

    Parameters
    ----------
    values : dask.array.Array
        ``(ny, nx)`` layer.
    land : dask.array.Array
        ``(ny, nx)`` bool, the cells counted as land.
    shares : sequence of float
        Shares in ``(0, 1]``.
    compute : callable
        ``dask.compute``-like.
    max_gather : int
        Largest number of values the last pass brings to the driver.

    Returns
    -------
    list of Holding
        One per share, in the given order; equal to the in-memory rule
        (:func:`pipeline.kernels.concentration.land_share_holding`).
    """
    land = land.rechunk(values.chunks)
    edges = threshold.exponent_edges()
    ((counts, sums),) = _histograms(values, land, [edges], compute)
    total, n_land = float(sums.sum()), int(counts.sum())
    if not np.isfinite(total):
        raise ConservationError(
            f"the layer's land total is {total}: the store holds NaN or Inf; rerun the study"
        )
    if total <= 0 or n_land == 0:
        return [Holding(float(s), 0, n_land, total) for s in shares]
    brackets = {s: threshold.crossing_bin(counts, sums, edges, s, total) for s in set(shares)}
    brackets = _refine(values, land, brackets, total, compute, max_gather)
    found = _finish(values, land, brackets, total, compute)
    holdings = []
    for s in shares:
        k, value, ties_taken, ties_total = found[s]
        holdings.append(Holding(float(s), k, n_land, total, value, ties_taken, ties_total))
    return holdings


def _refine(values, land, brackets, total, compute, max_gather) -> dict:
    """Split the crossing bins linearly until each holds at most ``max_gather`` values."""
    while True:
        wide = [s for s, b in brackets.items() if b.count > max_gather and threshold.can_split(b)]
        if not wide:
            return brackets
        edges = [threshold.linear_edges(brackets[s].low, brackets[s].high) for s in wide]
        found = _histograms(values, land, edges, compute)
        for s, e, (counts, sums) in zip(wide, edges, found, strict=True):
            brackets[s] = threshold.crossing_bin(counts, sums, e, s, total)


def _finish(values, land, brackets, total, compute) -> dict:
    """Gather each bracket's values (or count its ties) and find the exact crossing."""
    gathered = {s: b for s, b in brackets.items() if threshold.can_split(b) or b.count <= 1}
    found = {
        s: threshold.finish_tied(b, s, total) for s, b in brackets.items() if s not in gathered
    }
    if gathered:
        intervals = [(b.low, b.high) for b in gathered.values()]
        for (s, b), inside in zip(
            gathered.items(), _gather(values, land, intervals, compute), strict=True
        ):
            found[s] = threshold.finish(inside, b, s, total)
    return found


def _histograms(values, land, edges_list, compute) -> list[tuple[np.ndarray, np.ndarray]]:
    """Counts and sums per bin for each edges array, summed over all blocks."""
    sizes = [e.size + 1 for e in edges_list]
    length = 2 * sum(sizes)

    def block(v, m):
        parts = [np.concatenate(threshold.block_histogram(v, m, e)) for e in edges_list]
        return np.concatenate(parts)[None, None, :]

    per_block = da.map_blocks(
        block,
        values,
        land,
        new_axis=2,
        chunks=(*[(1,) * len(c) for c in values.chunks], (length,)),
        dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )
    (flat,) = compute(per_block.sum(axis=(0, 1)))
    out, start = [], 0
    for n in sizes:
        out.append((flat[start : start + n], flat[start + n : start + 2 * n]))
        start += 2 * n
    return out


def _gather(values, land, intervals, compute) -> list[np.ndarray]:
    """The land values in each ``(low, high]`` interval, from every block."""

    def block(v, m):
        return [threshold.values_in(v, m, low, high) for low, high in intervals]

    tasks = [
        dask.delayed(block)(v, m)
        for v, m in zip(values.to_delayed().ravel(), land.to_delayed().ravel(), strict=True)
    ]
    (per_block,) = compute(tasks)
    return [np.concatenate([found[n] for found in per_block]) for n in range(len(intervals))]


def hotspot_mask(
    values: da.Array, land: da.Array, holding: Holding, *, compute=dask.compute
) -> da.Array:
    """Lazy ``(y, x)`` bool mask of the ``holding.k`` cells (ties in row-major order)."""
    land = land.rechunk(values.chunks)
    if holding.k == 0:
        return da.zeros(values.shape, dtype=bool, chunks=values.chunks)
    above = land & (values > holding.threshold)
    tied = land & (values == holding.threshold)
    if holding.ties_taken == holding.ties_total:
        return above | tied
    row, col = _last_tie(tied, holding.ties_taken, compute)
    rows = da.arange(values.shape[0], chunks=values.chunks[0])[:, None]
    cols = da.arange(values.shape[1], chunks=values.chunks[1])[None, :]
    return above | (tied & ((rows < row) | ((rows == row) & (cols <= col))))


def _last_tie(tied: da.Array, taken: int, compute) -> tuple[int, int]:
    """Row and column of the ``taken``-th tied cell in row-major order."""
    (per_row,) = compute(tied.sum(axis=1))
    cumulative = np.cumsum(per_row)
    row = int(np.searchsorted(cumulative, taken, side="left"))
    before = int(cumulative[row - 1]) if row else 0
    (in_row,) = compute(tied[row])
    return row, int(np.flatnonzero(in_row)[taken - before - 1])


def top_cells(
    values: da.Array, n: int, *, land: da.Array | None = None, compute=dask.compute
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and values of the ``n`` largest cells, largest first (ties by index).

    Each block keeps its own ``n`` largest; the driver merges ``n`` per block.
    """
    offsets = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in values.chunks]
    nx = values.shape[1]
    masks = land.rechunk(values.chunks).to_delayed() if land is not None else None

    def block(v, m, y0, x0):
        v = np.asarray(v, dtype=np.float64)
        rows, cols = np.indices(v.shape)
        flat = ((rows + y0) * nx + cols + x0).ravel()
        keep = np.ones(v.size, bool) if m is None else np.asarray(m, bool).ravel()
        vals, flat = v.ravel()[keep], flat[keep]
        order = np.lexsort((flat, -vals))[:n]
        return flat[order], vals[order]

    tasks = []
    for (i, j), v in np.ndenumerate(values.to_delayed()):
        m = masks[i, j] if masks is not None else None
        tasks.append(dask.delayed(block)(v, m, offsets[0][i], offsets[1][j]))
    (found,) = compute(tasks)
    flat = np.concatenate([f for f, _ in found]) if found else np.empty(0, np.int64)
    vals = np.concatenate([v for _, v in found]) if found else np.empty(0)
    order = np.lexsort((flat, -vals))[:n]
    return flat[order], vals[order]
