"""Dask layer: the region index of a grid, rasterized chunk by chunk.

:func:`rasterize_regions_lazy` follows the rule of :mod:`pipeline.grid.regions`
and gives the same array as :func:`~pipeline.grid.regions.rasterize_regions` (the
numpy oracle, see ``tests/unit/grid/test_region_blocks.py``), without ever holding an array
of the grid's size:

1. each chunk burns only the polygons whose bounding boxes reach it
   (:func:`~pipeline.grid.regions.burn_window`, in the fixed tiles that make
   the result independent of the chunking);
2. one pass counts the cells of every region per chunk, to find the regions that
   won no cell centre;
3. those regions (small islands, city states; rule 3) claim cells on the driver,
   from their own small windows of the lazy index, read in one pass;
4. the claims, a handful of cells, are written over the chunks they fall in.

The projected polygons enter the graph once, as one delayed object, so the
scheduler ships them to each worker once. Steps 2 and 3 compute (one pass each);
the returned array is lazy and burns each chunk again when it is computed or
written. The result does not depend on the chunking; see
:data:`~pipeline.grid.regions.BURN_TILE` for how it relates to a whole-grid burn.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Sequence

import dask
import dask.array as da
import numpy as np

from pipeline.grid.regions import (
    OUTSIDE,
    Regions,
    Window,
    burn_window,
    claimant_regions,
    geometry_window,
    small_region_claims,
)
from pipeline.grid.spec import GridSpec

Claim = tuple[np.ndarray, np.ndarray, int]


def rasterize_regions_lazy(
    regions: Regions,
    grid: GridSpec,
    *,
    chunks: int | tuple,
    compute: Callable = dask.compute,
) -> da.Array:
    """Lazy, chunked :func:`~pipeline.grid.regions.rasterize_regions`.

    Parameters
    ----------
    regions : Regions
        Boundary polygons (any CRS).
    grid : GridSpec
        Target grid.
    chunks : int or tuple
        Dask chunks of the ``(ny, nx)`` result, e.g. the inventory's spatial
        chunks, so that the index aligns with the emissions.
    compute : callable
        Runs the counting pass and the one read of the claimants' windows, like
        ``dask.compute`` (the default; e.g. one that shows progress).

    Returns
    -------
    dask.array.Array
        ``int16``, shape ``grid.shape``: position in ``regions.codes`` or ``-1``.
    """
    projected = regions.to_crs(grid.crs)
    chunks = da.core.normalize_chunks(chunks, grid.shape)
    base = _burn_lazily(projected, grid, chunks)
    (counts,) = compute(_count_regions(base, len(projected.codes)))
    claimants = claimant_regions(projected, counts > 0)
    windows = [w for n in claimants if (w := geometry_window(projected.geometries[n], grid))]
    parts = compute(*[base[w] for w in windows]) if windows else ()
    claims: list[Claim] = []
    read = _prefetched_reader(list(zip(windows, parts, strict=True)), claims)
    for claim in small_region_claims(projected, grid, claimants, read):
        claims.append(claim)
    return _apply_claims(base, claims)


def _prefetched_reader(
    parts: list[tuple[Window, np.ndarray]], claims: list[Claim]
) -> Callable[[Window], np.ndarray]:
    """``read(window)`` served from a prefetched window that contains it, claims written in."""

    def read(window: Window) -> np.ndarray:
        for outer, part in parts:
            if all(
                o.start <= w.start and w.stop <= o.stop for o, w in zip(outer, window, strict=True)
            ):
                inner = tuple(
                    slice(w.start - o.start, w.stop - o.start)
                    for o, w in zip(outer, window, strict=True)
                )
                return _with_claims(np.array(part[inner]), window, claims)
        raise LookupError(f"window {window} was not prefetched")  # a bug, not bad input

    return read


def _burn_lazily(projected: Regions, grid: GridSpec, chunks: tuple) -> da.Array:
    """One delayed :func:`burn_regions` per chunk, with the regions that reach it."""
    windows = [geometry_window(g, grid) for g in projected.geometries]
    # named by a hash of the pickle: tokenizing nested geometry dicts is far slower
    digest = hashlib.sha1(pickle.dumps(projected), usedforsecurity=False).hexdigest()
    shared = dask.delayed(projected, name=f"Regions-{digest}", traverse=False)
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    rows = []
    for r0, r1 in zip(starts[0][:-1], starts[0][1:], strict=True):
        row = []
        for c0, c1 in zip(starts[1][:-1], starts[1][1:], strict=True):
            block = (slice(int(r0), int(r1)), slice(int(c0), int(c1)))
            subset = tuple(k for k, w in enumerate(windows) if _overlap(w, block))
            task = dask.delayed(_burn_block, pure=True)(shared, grid, block, subset)
            row.append(da.from_delayed(task, (int(r1 - r0), int(c1 - c0)), dtype=np.int16))
        rows.append(row)
    return da.block(rows)


def _burn_block(
    projected: Regions, grid: GridSpec, block: Window, subset: Sequence[int]
) -> np.ndarray:
    """Task: burn ``subset`` of the regions on one chunk (all outside if none)."""
    if not subset:
        shape = (block[0].stop - block[0].start, block[1].stop - block[1].start)
        return np.full(shape, OUTSIDE, dtype=np.int16)
    return burn_window(projected, grid, block, subset)


def _overlap(window: Window | None, block: Window) -> bool:
    """Whether a region's window and a chunk share a cell."""
    if window is None:
        return False
    return all(w.start < b.stop and b.start < w.stop for w, b in zip(window, block, strict=True))


def _count_regions(index: da.Array, n_regions: int) -> da.Array:
    """Cells of each region (``-1`` ignored), summed over chunks."""

    def count(block: np.ndarray) -> np.ndarray:
        inside = block[block >= 0]
        return np.bincount(inside.ravel(), minlength=n_regions)[None, None, :]

    per_chunk = index.map_blocks(
        count, new_axis=2, chunks=(1, 1, n_regions), dtype=np.int64, token="region-counts"
    )
    return per_chunk.sum(axis=(0, 1))


def _with_claims(part: np.ndarray, window: Window, claims: list[Claim]) -> np.ndarray:
    """``part`` (a window of the index) with the claims made so far written in."""
    (r, c) = window
    for rows, cols, code in claims:
        keep = (rows >= r.start) & (rows < r.stop) & (cols >= c.start) & (cols < c.stop)
        part[rows[keep] - r.start, cols[keep] - c.start] = code
    return part


def _apply_claims(base: da.Array, claims: list[Claim]) -> da.Array:
    """Write the claimed cells (a handful) over the chunks they fall in."""
    if not claims:
        return base
    return base.map_blocks(_patch_block, claims=claims, dtype=np.int16, token="region-claims")


def _patch_block(
    block: np.ndarray, *, claims: list[Claim], block_info: dict | None = None
) -> np.ndarray:
    """Task: one chunk of the index with the claims in it written in."""
    (r0, r1), (c0, c1) = block_info[0]["array-location"]
    return _with_claims(block.copy(), (slice(r0, r1), slice(c0, c1)), claims)
