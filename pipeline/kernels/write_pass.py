"""One spatial chunk of the result write: stored layers and conservation terms at once.

The factorized store keeps only small per-cell cubes; every consumer's layer is
``sum_s e[s, g] * T[r(g), s, c]`` and is computed on read. The write pass still
proves conservation for every cell and every consumer: each chunk's task
computes the consumer layers strip by strip (never held whole), reduces them to
per-cell sums and per-consumer totals, and returns those with the layers it
stores. No second scan of the grid is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.kernels.cells import apply_region_tables, scale_by_region

#: Cells x consumers of one strip of the check (8 bytes each: 32 MB).
STRIP_VALUES = 1 << 22


@dataclass(frozen=True)
class WriteTables:
    """Region tables of the write pass (rows indexed by raster code).

    Attributes
    ----------
    stored : numpy.ndarray
        ``(n_codes, n_sectors, n_stored)``: the stacked layers written per cell
        (by category, the foreign total, materialized consumers...).
    by_consumer : numpy.ndarray
        ``(n_codes, n_sectors, n_consumers)``: every consumer's share of a tonne.
    foreign : numpy.ndarray
        ``(n_codes, n_sectors)``: the foreign-driven share (the by-sector cube).
    producer : numpy.ndarray
        ``(n_codes,)`` bool: codes mapped to an MRIO producer region.
    foreign_column : int
        Position of the foreign total among the stored layers.
    category_columns : slice
        Positions of the by-category layers among the stored layers.
    inventory : numpy.ndarray or None
        ``(n_codes, n_sectors)``: what one tonne of the inventory becomes, when
        the tables' rows need not sum to one (a scenario: ``sum_c by_consumer``).
        Each cell is then checked against ``sum_s e[s] inventory[r, s]``, relative
        to ``sum_s e[s] gross[r, s]``; None checks against the inventory itself.
    gross : numpy.ndarray or None
        ``(n_codes, n_sectors)``: ``sum_c |by_consumer|``, with ``inventory``.
    """

    stored: np.ndarray
    by_consumer: np.ndarray
    foreign: np.ndarray
    producer: np.ndarray
    foreign_column: int
    category_columns: slice
    inventory: np.ndarray | None = None
    gross: np.ndarray | None = None


#: Layout of the terms vector: scalars first, then one total per consumer.
TERMS = (
    "cell_max_abs_error",
    "cell_max_rel_error",
    "inventory_total",
    "foreign_by_sector_error",
    "foreign_by_category_error",
)


def write_chunk(
    emissions: np.ndarray, region_index: np.ndarray, tables: WriteTables, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Stored layers and conservation terms of one chunk.

    Parameters
    ----------
    emissions : numpy.ndarray
        ``(n_sectors, ny, nx)`` tonnes.
    region_index : numpy.ndarray
        ``(ny, nx)`` raster code, negative outside.
    tables : WriteTables
    dtype : numpy.dtype
        Dtype of the stored layers.

    Returns
    -------
    layers : numpy.ndarray
        ``(n_stored + n_sectors, ny, nx)``: the stored stack, then the foreign
        layer of each inventory sector.
    terms : numpy.ndarray
        float64, :data:`TERMS` then the per-consumer totals of the chunk.
    """
    stored = apply_region_tables(emissions, region_index, tables.stored.astype(dtype))
    by_sector = scale_by_region(emissions, region_index, tables.foreign.astype(dtype))
    foreign = stored[tables.foreign_column]
    scalars = np.zeros(len(TERMS))
    if foreign.size:
        scalars[3] = np.abs(by_sector.sum(axis=0) - foreign).max()
        scalars[4] = np.abs(stored[tables.category_columns].sum(axis=0) - foreign).max()
    consumer_totals = _check_cells(emissions, region_index, tables, scalars)
    layers = np.concatenate([stored, by_sector]).astype(dtype, copy=False)
    return layers, np.concatenate([scalars, consumer_totals])


def _check_cells(emissions, region_index, tables: WriteTables, scalars) -> np.ndarray:
    """Per-cell consumer sums against the inventory, strip by strip; consumer totals."""
    n_consumers = tables.by_consumer.shape[2]
    ny, nx = region_index.shape
    rows = max(1, STRIP_VALUES // max(n_consumers * nx, 1))
    totals = np.zeros(n_consumers)
    producer = np.append(np.asarray(tables.producer, dtype=bool), False)
    for start in range(0, ny, rows):
        e = np.asarray(emissions[:, start : start + rows], dtype=np.float64)
        idx = region_index[start : start + rows]
        layers = apply_region_tables(e, idx, tables.by_consumer)
        totals += layers.sum(axis=(1, 2))
        inventory, scale = _cell_inventory(e, idx, tables, producer)
        error = np.abs(layers.sum(axis=0) - inventory)
        if error.size:  # np.maximum keeps a NaN, so it fails the check
            scalars[0] = np.maximum(scalars[0], error.max())
            scalars[1] = np.maximum(scalars[1], (error / np.maximum(scale, 1e-300)).max())
        scalars[2] += inventory.sum()
    return totals


def _cell_inventory(e, idx, tables: WriteTables, producer) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's tonnes that its consumer layers must add up to, and the error's scale."""
    if tables.inventory is None:
        inventory = np.where(producer[np.where(idx < 0, -1, idx)], e.sum(axis=0), 0.0)
        return inventory, inventory
    inventory = scale_by_region(e, idx, tables.inventory).sum(axis=0)
    return inventory, scale_by_region(e, idx, tables.gross).sum(axis=0)
