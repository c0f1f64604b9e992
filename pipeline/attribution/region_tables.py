"""The region tables of a study: how one tonne of each region × inventory sector is split.

``M[r, s, c, k] = sum_i w[r, s, i] * S[(r, i), (c, k)]`` (see README, the
attribution), after routing direct final-demand sectors to the region's own
consumer. Every per-cell layer of the result is ``sum_s e[s, g] * T[r(g), s, q]``
for a table ``T`` derived from ``M``; the factorized store keeps ``M`` and
computes the layers on read (:mod:`pipeline.attribution.factorized`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from pipeline.errors import ConcordanceError
from pipeline.kernels import tables
from pipeline.kernels.write_pass import WriteTables

if TYPE_CHECKING:
    from pipeline.attribution.cube import CubeInputs

#: Relative tolerance of "a row's shares add up to one".
SHARE_RTOL = 1e-6


def region_shares(inputs: CubeInputs) -> np.ndarray:
    """``M[region, sector, consumer, category]``, checked and routed.

    Raises
    ------
    ConcordanceError
        If an emitting region × inventory sector maps to MRIO sectors without
        output there, or a direct final-demand sector emits in a region that has
        no final-demand column.
    """
    share_values = inputs.shares.transpose("region", "mrio_sector", "consumer", "category").values
    m = tables.inventory_sector_shares(inputs.weights, share_values)
    _check_weights_reach_output(inputs, m)
    return _route_final_demand(inputs, m)


def home_producers(shares: xr.DataArray, foreign: np.ndarray) -> np.ndarray:
    """Bool per producer region: the study country's own (a domestic consumer too)."""
    consumers = np.asarray([str(c) for c in shares["consumer"].values])
    domestic = set(consumers[~np.asarray(foreign, dtype=bool)])
    return np.array([str(r) in domestic for r in shares["region"].values], dtype=bool)


def write_tables(
    m: np.ndarray,
    inputs: CubeInputs,
    materialized: Sequence[int],
    *,
    scaled: bool = False,
    by_cells: bool = True,
    extra: Sequence[np.ndarray] = (),
) -> WriteTables:
    """The tables of the write pass, rows indexed by raster code.

    The stored stack is the foreign-driven layer by category (with ``by_cells``),
    the foreign total, the ``materialized`` consumers' layers (positions in
    ``consumer``), then one layer per ``extra`` table ``(region, sector)``.
    ``scaled`` tables (a scenario's) need not sum to one per row: each cell is
    checked against the tonnes they make of its inventory. Without ``by_cells``
    the by-category and by-sector cubes are left to be computed on read.
    """
    split = tables.split_outputs(m, inputs.foreign, home_producers(inputs.shares, inputs.foreign))
    n_categories = split["by_category"].shape[2] if by_cells else 0
    by_consumer = split["by_consumer"]
    stored = np.concatenate(
        [
            split["by_category"][:, :, :n_categories],
            split["foreign"][:, :, None],
            by_consumer[:, :, list(materialized)],
            *[np.asarray(t, dtype=np.float64)[:, :, None] for t in extra],
        ],
        axis=2,
    )
    code_rows = inputs.producer_of_code
    sums = {}
    if scaled:
        sums["inventory"] = tables.rows_for_codes(by_consumer.sum(axis=2), code_rows)
        sums["gross"] = tables.rows_for_codes(np.abs(m).sum(axis=(2, 3)), code_rows)
    return WriteTables(
        stored=tables.rows_for_codes(stored, code_rows),
        by_consumer=tables.rows_for_codes(by_consumer, code_rows),
        foreign=tables.rows_for_codes(split["foreign"], code_rows),
        producer=code_rows >= 0,
        foreign_column=n_categories,
        category_columns=slice(0, n_categories),
        rest=tables.rows_for_codes(by_consumer.sum(axis=2) - split["foreign"], code_rows),
        by_sector=by_cells,
        **sums,
    )


def producer_totals(inputs: CubeInputs) -> np.ndarray:
    """``(n_producers, n_inventory_sectors)`` inventory totals (several codes may share a row)."""
    has = inputs.producer_of_code >= 0
    totals = np.zeros(inputs.weights.shape[:2])
    np.add.at(totals, inputs.producer_of_code[has], inputs.region_totals[has])
    return totals


def direct_categories(inputs: CubeInputs) -> np.ndarray:
    """Per inventory sector, the category a direct final-demand sector goes to; -1 otherwise."""
    n_sectors = inputs.weights.shape[1]
    if inputs.final_demand is None:
        return np.full(n_sectors, -1, dtype=np.int64)
    return np.asarray(inputs.final_demand, dtype=np.int64)


def _route_final_demand(inputs: CubeInputs, m: np.ndarray) -> np.ndarray:
    """Direct final-demand sectors: all of a region's emissions to its own consumer."""
    direct = direct_categories(inputs)
    if not (direct >= 0).any():
        return m
    consumers = [str(c) for c in inputs.shares["consumer"].values]
    regions = [str(r) for r in inputs.shares["region"].values]
    own = np.array([consumers.index(r) if r in consumers else -1 for r in regions])
    emitting = producer_totals(inputs) > 0
    for s in np.flatnonzero(direct >= 0):
        lacking = np.flatnonzero(emitting[:, s] & (own < 0))
        if lacking.size:
            sector = str(inputs.emissions["sector"].values[s])
            raise ConcordanceError(
                f"inventory sector {sector!r} is direct final demand, but producer region "
                f"{regions[lacking[0]]!r} has no final-demand column in the MRIO; map that "
                "sector to MRIO sectors in the concordance or its region to a consumer"
            )
    return tables.direct_final_demand(m, direct, own)


def _check_weights_reach_output(inputs: CubeInputs, m: np.ndarray) -> None:
    """Refuse an emitting region × inventory sector whose MRIO sectors have no output.

    Its emissions would be attributed to nobody (the shares of a zero-output
    row are zero), which conservation would only report as a bare gap.
    """
    covered = m.sum(axis=(2, 3))
    emitting = producer_totals(inputs) > 0
    direct = direct_categories(inputs) >= 0
    lost = emitting & ~direct[None, :] & ~(covered >= 1 - SHARE_RTOL)
    if not lost.any():
        return
    r, s = (int(v[0]) for v in np.nonzero(lost))
    region = str(inputs.shares["region"].values[r])
    sector = str(inputs.emissions["sector"].values[s])
    mrio = [str(v) for v in inputs.shares["mrio_sector"].values]
    row_share = inputs.shares.sel(region=region).sum(("consumer", "category")).values
    dead = (inputs.weights[r, s] > 0) & ~(row_share >= 1 - SHARE_RTOL)
    names = ", ".join(mrio[i] for i in np.flatnonzero(dead)) or "none"
    raise ConcordanceError(
        f"inventory sector {sector!r} emits in region {region!r}, but MRIO sector(s) it is "
        f"mapped to there ({names}) have no output in that region, so "
        f"{1 - covered[r, s]:.0%} of its CO2 would be attributed to nobody; map it to a "
        "sector with output in the concordance, or remove those emissions"
    )
