"""Dask layer: hotspot statistics of a ``(y, x)`` layer with bounded driver memory.

The exact "fewest land cells holding a share" of
:mod:`pipeline.kernels.threshold`, with every pass a map over spatial chunks and
a tree sum of small histograms. The driver holds a few histograms, per-row
counts and at most ``max_gather`` values with their cell indices per share,
never the grid: at 250 m over China (332 M cells) the in-memory sort needed
about 8 GB. Also here: the hotspot mask, the largest cells of each chunk
(:func:`ranked_cells`) and exact points of the concentration curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dask
import dask.array as da
import numpy as np

from pipeline.errors import ConservationError
from pipeline.kernels import curve, threshold
from pipeline.kernels.concentration import densest_first

#: Values gathered into the driver for the exact finish, at most (16 bytes each with
#: their cell index), per share.
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
    rows : numpy.ndarray or None
        ``(ny,)`` how many of the ``k`` cells lie in each row (their area is
        ``rows @ row_area``).
    land_rows : numpy.ndarray or None
        ``(ny,)`` land cells per row.
    last_tie : int or None
        Flat index of the last tied cell taken, when only some ties are taken
        and the last pass gathered them (else None).
    """

    share: float
    k: int
    n_land: int
    total: float
    threshold: float = np.inf
    ties_taken: int = 0
    ties_total: int = 0
    rows: np.ndarray | None = field(default=None, compare=False, repr=False)
    land_rows: np.ndarray | None = field(default=None, compare=False, repr=False)
    last_tie: int | None = field(default=None, compare=False)

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
    ((counts, sums),), (land_rows,) = _histograms(
        values, land, [edges], compute, land.sum(axis=1, dtype=np.int64)
    )
    total, n_land = _land_total(counts, sums)
    land_rows = np.asarray(land_rows, dtype=np.int64)
    if total <= 0 or n_land == 0:
        none = np.zeros(values.shape[0], dtype=np.int64)
        return [Holding(float(s), 0, n_land, total, rows=none, land_rows=land_rows) for s in shares]
    brackets = {s: threshold.crossing_bin(counts, sums, edges, s, total) for s in set(shares)}
    brackets = _refine(values, land, brackets, total, compute, max_gather)
    found = _finish(values, land, brackets, total, compute)
    return [
        Holding(float(s), n_land=n_land, total=total, land_rows=land_rows, **found[s])
        for s in shares
    ]


def concentration_points(
    values: da.Array, land: da.Array, points: int = 2000, *, compute=dask.compute
) -> tuple[np.ndarray, np.ndarray]:
    """Exact points of a lazy layer's concentration curve, in two passes.

    Parameters
    ----------
    values : dask.array.Array
        ``(ny, nx)`` layer.
    land : dask.array.Array
        ``(ny, nx)`` bool, the land cells.
    points : int
        About how many points (:func:`pipeline.kernels.curve.curve_edges`).

    Returns
    -------
    land_share, emission_share : numpy.ndarray
        Points of :func:`pipeline.kernels.concentration.concentration_curve`
        (each equals its row ``round(land_share * n_land)``), from ``(0, 0)`` to
        ``(1, 1)``; the straight lines between them are within ``1 / (2 points)``
        of the curve (:mod:`pipeline.kernels.curve`).
    """
    land = land.rechunk(values.chunks)
    edges = threshold.exponent_edges()
    ((counts, sums),), _ = _histograms(values, land, [edges], compute)
    _land_total(counts, sums)
    fine = curve.curve_edges(counts, sums, edges, points)
    ((counts, sums),), _ = _histograms(values, land, [fine], compute)
    return curve.curve_points(counts, sums)


def _land_total(counts: np.ndarray, sums: np.ndarray) -> tuple[float, int]:
    """The land total and land cells of a histogram; raise if the total is not finite."""
    total, n_land = float(sums.sum()), int(counts.sum())
    if not np.isfinite(total):
        raise ConservationError(
            f"the layer's land total is {total}: the store holds NaN or Inf; rerun the study"
        )
    return total, n_land


def _refine(values, land, brackets, total, compute, max_gather) -> dict:
    """Split the crossing bins linearly until each holds at most ``max_gather`` values.

    Each pass also finds the smallest and largest value in each bin it splits:
    a bin of one repeated value (many tied cells) then ends at once, instead of
    after the four or so passes that narrow a bin to a single float.
    """
    while True:
        wide = [s for s, b in brackets.items() if b.count > max_gather and threshold.can_split(b)]
        if not wide:
            return brackets
        edges = [threshold.linear_edges(brackets[s].low, brackets[s].high) for s in wide]
        extremes = [_extremes(values, land, brackets[s]) for s in wide]
        found, spans = _histograms(values, land, edges, compute, *extremes)
        for s, e, (counts, sums), span in zip(wide, edges, found, spans, strict=True):
            bracket = threshold.crossing_bin(counts, sums, e, s, total)
            smallest, largest = (float(v) for v in span)
            if smallest == largest:  # one value: the crossing bin holds it alone
                low = float(np.nextafter(largest, -np.inf))
                bracket = threshold.Bracket(
                    low, largest, bracket.above_count, bracket.above_sum, bracket.count
                )
            brackets[s] = bracket


def _extremes(values: da.Array, land: da.Array, bracket: threshold.Bracket) -> da.Array:
    """Lazy ``(2,)``: the smallest and largest land value in the bracket's bin."""
    inside = land & (values > bracket.low) & (values <= bracket.high)
    return da.stack(
        [da.where(inside, values, np.inf).min(), da.where(inside, values, -np.inf).max()]
    )


def _finish(values, land, brackets, total, compute) -> dict[float, dict]:
    """Each exact crossing and the rows of its cells, from one last pass.

    The pass counts, per row, the land cells above and inside each bracket, and
    gathers the bracket's values with their flat indices where it can be split
    (else every cell in it ties and the count of ties needed is arithmetic).
    """
    gathered = {s for s, b in brackets.items() if threshold.can_split(b) or b.count <= 1}
    passed = _last_pass(values, land, brackets, gathered, compute)
    nx, found = values.shape[1], {}
    for s, b in brackets.items():
        above_rows, inside_rows, inside, flat = passed[s]
        last = None
        if s in gathered:
            k, value, taken, ties = threshold.finish(inside, b, s, total)
            first = flat[np.lexsort((flat, -inside))[: k - int(b.above_count)]]
            rows = above_rows + np.bincount(first // nx, minlength=above_rows.size)
            last = int(first[-1]) if taken < ties else None
        else:
            k, value, taken, ties = threshold.finish_tied(b, s, total)
            before = np.cumsum(inside_rows) - inside_rows
            rows = above_rows + np.clip(taken - before, 0, inside_rows)
        found[s] = {
            "k": k,
            "threshold": value,
            "ties_taken": taken,
            "ties_total": ties,
            "rows": rows,
            "last_tie": last,
        }
    return found


def _histograms(values, land, edges_list, compute, *also) -> tuple[list, list]:
    """Counts and sums per bin for each edges array, summed over all blocks.

    ``also`` are lazy results computed in the same pass; their values are returned second.
    """
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
    flat, *extra = compute(per_block.sum(axis=(0, 1)), *also)
    out, start = [], 0
    for n in sizes:
        out.append((flat[start : start + n], flat[start + n : start + 2 * n]))
        start += 2 * n
    return out, extra


def _last_pass(values, land, brackets, gathered, compute) -> dict:
    """Per share: land cells per row above and inside its bracket, and the gathered values.

    Returns ``{share: (above_rows, inside_rows, inside_values, inside_flat)}``;
    the values and flat indices are empty unless the share is in ``gathered``.
    Shares whose crossings lie in the same bin share one gather.
    """
    key = {s: (brackets[s].low, brackets[s].high, s in gathered) for s in brackets}
    bounds = list(dict.fromkeys(key.values()))
    nx = values.shape[1]

    def block(v, m, y0, x0):
        v, m = np.asarray(v, dtype=np.float64), np.asarray(m, dtype=bool)
        out = []
        for low, high, keep in bounds:
            inside = m & (v > low) & (v <= high)
            r, c = np.nonzero(inside) if keep else (np.empty(0, np.int64),) * 2
            above = (m & (v > high)).sum(axis=1)
            out.append((above, inside.sum(axis=1), v[r, c], (r + y0) * nx + c + x0))
        return out

    ny, found = values.shape[0], []
    per_block = per_block_results(block, values, land, compute=compute)
    for n in range(len(bounds)):
        above, inside = np.zeros(ny, np.int64), np.zeros(ny, np.int64)
        for y0, _, parts in per_block:
            above[y0 : y0 + parts[n][0].size] += parts[n][0]
            inside[y0 : y0 + parts[n][1].size] += parts[n][1]
        vals = np.concatenate([np.empty(0)] + [parts[n][2] for _, _, parts in per_block])
        flat = np.concatenate([np.empty(0, np.int64)] + [parts[n][3] for _, _, parts in per_block])
        found.append((above, inside, vals, flat))
    return {s: found[bounds.index(k)] for s, k in key.items()}


def per_block_results(func, values: da.Array, *others, compute=dask.compute) -> list[tuple]:
    """``func(block, *other_blocks, y0, x0)`` on every spatial block, computed in one pass.

    Parameters
    ----------
    func : callable
        Called with the numpy blocks of ``values`` and ``others`` (None for an
        ``other`` that is None) and the block's first row and column.
    values : dask.array.Array
        ``(ny, nx)``; its chunks are the blocks.
    *others : dask.array.Array or None
        ``(ny, nx)`` arrays, rechunked like ``values``.
    compute : callable
        ``dask.compute``-like.

    Returns
    -------
    list of tuple
        ``(y0, x0, result)`` per block. The graphs are not optimized apart, so
        an ``other`` derived from ``values`` (e.g. a mask of it) shares its tasks
        and each block of the layer is computed once.
    """
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in values.chunks]
    grids = [values.to_delayed(optimize_graph=False)]
    for other in others:
        aligned = None if other is None else other.rechunk(values.chunks)
        grids.append(None if aligned is None else aligned.to_delayed(optimize_graph=False))
    origins, tasks = [], []
    for (i, j), block in np.ndenumerate(grids[0]):
        extra = [None if g is None else g[i, j] for g in grids[1:]]
        origins.append((int(starts[0][i]), int(starts[1][j])))
        tasks.append(dask.delayed(func)(block, *extra, *origins[-1]))
    (found,) = compute(tasks)
    return [(y0, x0, f) for (y0, x0), f in zip(origins, found, strict=True)]


def hotspot_mask(
    values: da.Array, land: da.Array, holding: Holding, *, compute=dask.compute
) -> da.Array:
    """Lazy ``(y, x)`` bool mask of the ``holding.k`` cells (ties in row-major order).

    Computes nothing unless only some tied cells are taken and ``holding`` does
    not know the last one (then two small passes find it). Each block applies
    :func:`pipeline.kernels.threshold.holding_mask`.
    """
    land = land.rechunk(values.chunks)
    last = last_tie_taken(values, land, holding, compute=compute)
    return da.map_blocks(
        _mask_block,
        values,
        land,
        dtype=bool,
        value=float(holding.threshold) if holding.k else np.inf,
        last_tie=last,
        nx=values.shape[1],
    )


def last_tie_taken(
    values: da.Array, land: da.Array, holding: Holding, *, compute=dask.compute
) -> int | None:
    """Flat index of the last tied cell among the ``holding.k`` (None if all ties are taken)."""
    if holding.k == 0 or holding.ties_taken == holding.ties_total:
        return None
    if holding.last_tie is not None:
        return int(holding.last_tie)
    tied = land.rechunk(values.chunks) & (values == holding.threshold)
    row, col = _last_tie(tied, holding.ties_taken, compute)
    return row * values.shape[1] + col


def block_flat(block_info: dict, nx: int) -> np.ndarray:
    """Flat (row-major) indices in the whole layer of a ``map_blocks`` block's cells."""
    (y0, y1), (x0, x1) = block_info["array-location"]
    return np.arange(y0, y1)[:, None] * nx + np.arange(x0, x1)[None, :]


def _mask_block(v, m, value, last_tie, nx, block_info=None) -> np.ndarray:
    flat = 0 if last_tie is None else block_flat(block_info[0], nx)
    return threshold.holding_mask(v, m, value, last_tie, flat)


def _last_tie(tied: da.Array, taken: int, compute) -> tuple[int, int]:
    """Row and column of the ``taken``-th tied cell in row-major order."""
    (per_row,) = compute(tied.sum(axis=1))
    cumulative = np.cumsum(per_row)
    row = int(np.searchsorted(cumulative, taken, side="left"))
    before = int(cumulative[row - 1]) if row else 0
    (in_row,) = compute(tied[row])
    return row, int(np.flatnonzero(in_row)[taken - before - 1])


@dataclass(frozen=True)
class RankedCells:
    """Cells of a layer, largest first (ties by flat index).

    Attributes
    ----------
    flat : numpy.ndarray
        Flat (row-major) indices.
    values : numpy.ndarray
        Their values.
    labels : numpy.ndarray or None
        Their values of the ``labels`` array (e.g. region codes), if given.
    total : float
        The layer's sum over every cell (not only the ranked ones).
    """

    flat: np.ndarray
    values: np.ndarray
    labels: np.ndarray | None
    total: float


def ranked_cells(
    values: da.Array,
    n: int,
    *,
    land: da.Array | None = None,
    labels: da.Array | None = None,
    compute=dask.compute,
) -> RankedCells:
    """The ``n`` largest cells (of ``land`` if given), largest first, in one pass.

    Each block keeps its own ``n`` largest (:func:`~pipeline.kernels.concentration.densest_first`);
    the driver merges at most ``n`` per block. With ``land`` a mask of exactly
    ``n`` cells (e.g. :func:`hotspot_mask`), the driver holds those ``n`` cells only.
    """
    nx = values.shape[1]

    def block(v, m, lab, y0, x0):
        v = np.asarray(v, dtype=np.float64)
        cells = None if m is None else np.flatnonzero(np.asarray(m, dtype=bool).ravel())
        local = densest_first(v, cells, top=n) if n > 0 else np.empty(0, np.int64)
        r, c = np.divmod(local, v.shape[1])
        picked = None if lab is None else np.asarray(lab)[r, c]
        return (r + y0) * nx + c + x0, v[r, c], picked, float(v.sum())

    found = [f for _, _, f in per_block_results(block, values, land, labels, compute=compute)]
    flat = np.concatenate([np.empty(0, np.int64)] + [f[0] for f in found])
    vals = np.concatenate([np.empty(0)] + [f[1] for f in found])
    order = np.lexsort((flat, -vals))[:n]
    picked = None
    if labels is not None:
        picked = np.concatenate([np.empty(0, labels.dtype)] + [f[2] for f in found])[order]
    return RankedCells(flat[order], vals[order], picked, float(sum(f[3] for f in found)))


def top_cells(
    values: da.Array, n: int, *, land: da.Array | None = None, compute=dask.compute
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and values of the ``n`` largest cells, largest first (ties by index).

    Each block keeps its own ``n`` largest; the driver merges ``n`` per block.
    """
    found = ranked_cells(values, n, land=land, compute=compute)
    return found.flat, found.values
