"""One spatial chunk of the result write: stored layers and conservation terms at once.

The factorized store keeps only small per-cell cubes; every consumer's layer is
``sum_s e[s, g] * T[r(g), s, c]`` and is computed on read. The write pass still
proves conservation for every cell and every consumer, in the task that makes
the chunk's stored layers (no second scan of the grid):

* **every cell**: its stored foreign-driven tonnes plus the rest of its tonnes
  (``sum_s e[s, g] (sum_c T[r, s, c] - T_foreign[r, s])``) equal the tonnes it
  must hold (its inventory, or a scenario's);
* **every consumer**: its total over the chunk, ``sum_g sum_s e[s, g] T[r(g), s, c]``,
  is summed region by region as ``sum_{r, s} E[r, s] T[r, s, c]`` with the
  chunk's region × sector totals ``E`` (the same sum, without forming each
  consumer's layer), and the run compares it with the attribution.

So the check costs one extra layer per chunk, whatever the number of consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.kernels.cells import apply_region_tables, region_sector_totals, scale_by_region


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
    rest : numpy.ndarray or None
        ``(n_codes, n_sectors)``: the part of a tonne that is not foreign-driven
        (``sum_c by_consumer - foreign``, the default), for the per-cell check.
    by_sector : bool
        Also return the foreign layer of each inventory sector (the by-sector
        cube); a scenario's store computes it on read instead.
    """

    stored: np.ndarray
    by_consumer: np.ndarray
    foreign: np.ndarray
    producer: np.ndarray
    foreign_column: int
    category_columns: slice
    inventory: np.ndarray | None = None
    gross: np.ndarray | None = None
    rest: np.ndarray | None = None
    by_sector: bool = True


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
        ``(n_stored [+ n_sectors], ny, nx)``: the stored stack, then (with
        ``tables.by_sector``) the foreign layer of each inventory sector.
    terms : numpy.ndarray
        float64, :data:`TERMS` then the per-consumer totals of the chunk.
    """
    stored = apply_region_tables(emissions, region_index, tables.stored.astype(dtype))
    foreign = stored[tables.foreign_column]
    scalars = np.zeros(len(TERMS))
    layers = [stored]
    if tables.by_sector:
        by_sector = scale_by_region(emissions, region_index, tables.foreign.astype(dtype))
        layers.append(by_sector)
        if foreign.size:
            scalars[3] = np.abs(by_sector.sum(axis=0) - foreign).max()
    categories = stored[tables.category_columns]
    if foreign.size and categories.shape[0]:
        scalars[4] = np.abs(categories.sum(axis=0) - foreign).max()
    _check_cells(emissions, region_index, tables, foreign, scalars)
    consumer_totals = _consumer_totals(emissions, region_index, tables.by_consumer)
    layers = np.concatenate(layers) if len(layers) > 1 else stored
    return layers.astype(dtype, copy=False), np.concatenate([scalars, consumer_totals])


def _check_cells(emissions, region_index, tables: WriteTables, foreign, scalars) -> None:
    """Per cell: the stored foreign layer plus the rest of its tonnes against what it holds.

    What a cell holds is its inventory (a producer region's cells), or with a
    scenario's ``tables.inventory`` the tonnes the scenario makes of it, then
    relative to ``tables.gross``.
    """
    e = np.asarray(emissions, dtype=np.float64)
    rest = tables.rest if tables.rest is not None else tables.by_consumer.sum(2) - tables.foreign
    if tables.inventory is None:
        (rest_cells,) = apply_region_tables(e, region_index, rest[:, :, None])
        producer = np.append(np.asarray(tables.producer, dtype=bool), False)
        inventory = np.where(producer[np.where(region_index < 0, -1, region_index)], e.sum(0), 0.0)
        scale = inventory
    else:
        stacked = np.stack([rest, tables.inventory, tables.gross], axis=2)
        rest_cells, inventory, scale = apply_region_tables(e, region_index, stacked)
    error = np.abs(foreign + rest_cells - inventory)
    if error.size:  # np.maximum keeps a NaN, so it fails the check
        scalars[0] = np.maximum(scalars[0], error.max())
        scalars[1] = np.maximum(scalars[1], (error / np.maximum(scale, 1e-300)).max())
    scalars[2] += inventory.sum()


def _consumer_totals(emissions, region_index, by_consumer: np.ndarray) -> np.ndarray:
    """``sum_g`` of each consumer's layer: ``sum_{r, s} E[r, s] T[r, s, c]`` (module docstring)."""
    totals = region_sector_totals(emissions, region_index, by_consumer.shape[0])[:-1]
    return np.einsum("rs,rsc->c", totals, by_consumer)
