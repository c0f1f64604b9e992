"""Concordance from inventory sectors to MRIO sectors.

File format (CSV): columns ``inventory_sector``, ``mrio_sector`` and an optional
``weight``. One inventory sector may map to several MRIO sectors.

* Without weights (or with blank weights), the weights ``w[r, s, i]`` of region
  ``r`` are the region's MRIO production emissions ``F[r, i]`` of the mapped
  sectors, normalised to sum to one; where these are all zero, its outputs
  ``x[r, i]``; where those are zero too, equal weights.
* With weights, each inventory sector's weights must sum to one.
* ``mrio_sector = final_demand:<category>`` (e.g. ``final_demand:households``)
  marks an inventory sector as *direct final-demand emissions* (residential
  fuel, private cars). It must be that sector's only row. Its CO2 is attributed
  entirely to the producing region's own consumer and that final-demand
  category: no Leontief share, never a foreign consumer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ConcordanceError
from pipeline.textfiles import check_file, read_csv

_COLUMNS = ("inventory_sector", "mrio_sector")
#: ``mrio_sector`` prefix that maps an inventory sector to a final-demand category.
FINAL_DEMAND_PREFIX = "final_demand:"


@dataclass(frozen=True)
class SectorConcordance:
    """Binary map and optional fixed weights from inventory to MRIO sectors.

    Attributes
    ----------
    inventory_sectors, mrio_sectors : tuple of str
        Axis labels of ``mapping``.
    mapping : numpy.ndarray
        ``(n_inventory, n_mrio)`` bool, True where the pair is listed.
    fixed_weights : numpy.ndarray or None
        ``(n_inventory, n_mrio)`` weights if the file gives them.
    source : str
        Where the concordance came from, for error messages.
    final_demand : tuple of str
        Per inventory sector, the final-demand category its emissions go to
        directly (``final_demand:<category>`` rows), or ``""`` for an industry.
    """

    inventory_sectors: tuple[str, ...]
    mrio_sectors: tuple[str, ...]
    mapping: np.ndarray
    fixed_weights: np.ndarray | None
    source: str
    final_demand: tuple[str, ...] = ()

    def final_demand_index(self, categories: Sequence[str]) -> np.ndarray:
        """Per inventory sector, the position of its direct category in ``categories``, or -1."""
        position = {c: n for n, c in enumerate(categories)}
        direct = self.final_demand or ("",) * len(self.inventory_sectors)
        return np.array([position.get(c, -1) if c else -1 for c in direct], dtype=np.int64)


def read_concordance(
    path: str | Path,
    *,
    inventory_sectors: Sequence[str],
    mrio_sectors: Sequence[str],
    categories: Sequence[str] = (),
) -> SectorConcordance:
    """Read and check a concordance CSV against the inventory and MRIO sectors.

    Raises
    ------
    ConcordanceError
        If an inventory sector is missing, an MRIO sector is unknown, or fixed
        weights do not sum to one.
    """
    path = check_file(path, what="concordance file", fix="check `concordance`")
    table = read_csv(
        path,
        expect="header inventory_sector,mrio_sector[,weight]",
        dtype=dict.fromkeys(_COLUMNS, str),
    )
    missing_cols = [c for c in _COLUMNS if c not in table.columns]
    if missing_cols:
        raise ConcordanceError(
            f"{path}: missing columns {missing_cols}; "
            "expected inventory_sector,mrio_sector[,weight]"
        )
    return concordance_from_table(
        table,
        inventory_sectors=inventory_sectors,
        mrio_sectors=mrio_sectors,
        categories=categories,
        source=str(path),
    )


def concordance_from_table(
    table: pd.DataFrame,
    *,
    inventory_sectors: Sequence[str],
    mrio_sectors: Sequence[str],
    categories: Sequence[str] = (),
    source: str = "concordance",
) -> SectorConcordance:
    """Build a :class:`SectorConcordance` from a long table (see module docstring)."""
    inv = list(inventory_sectors)
    mrio = list(mrio_sectors)
    listed_inv = set(table["inventory_sector"])
    absent = [s for s in inv if s not in listed_inv]
    if absent:
        raise ConcordanceError(
            f"{source}: inventory sector(s) {absent} have no row; add rows "
            f"'<sector>,<mrio_sector>' mapping them to some of {mrio}"
        )
    direct, table = _final_demand_rows(table, inv, categories, source)
    unknown = sorted(set(table["mrio_sector"]) - set(mrio))
    if unknown:
        raise ConcordanceError(f"{source}: MRIO sector(s) {unknown} are not in the MRIO {mrio}")
    table = table[table["inventory_sector"].isin(inv)]
    rows = table["inventory_sector"].map({s: n for n, s in enumerate(inv)}).to_numpy()
    cols = table["mrio_sector"].map({s: n for n, s in enumerate(mrio)}).to_numpy()
    mapping = np.zeros((len(inv), len(mrio)), dtype=bool)
    mapping[rows, cols] = True
    fixed = None
    if "weight" in table.columns and table["weight"].notna().any():
        fixed = np.zeros(mapping.shape)
        given = _weights(table, source)
        outside = np.flatnonzero(~((given >= 0) & (given <= 1)))
        if outside.size:
            row = table.iloc[outside[0]]
            raise ConcordanceError(
                f"{source}: weight {row['weight']!r} of {row['inventory_sector']!r} -> "
                f"{row['mrio_sector']!r} is outside [0, 1]; give each weight in [0, 1]"
            )
        np.add.at(fixed, (rows, cols), given)
        sums = np.where([bool(d) for d in direct], 1.0, fixed.sum(axis=1))
        bad = np.flatnonzero(~(np.abs(sums - 1) <= 1e-9))
        if bad.size:
            s = inv[bad[0]]
            verb = "loses" if sums[bad[0]] < 1 else "double counts"
            raise ConcordanceError(
                f"{source}: weights of inventory sector {s!r} sum to {sums[bad[0]]:.6g} and so "
                f"{verb} emissions; make each sector's weights sum to 1 or leave them blank"
            )
    return SectorConcordance(tuple(inv), tuple(mrio), mapping, fixed, source, direct)


def _weights(table: pd.DataFrame, source: str) -> np.ndarray:
    """The ``weight`` column as numbers (blank is 0); text is an error naming the row."""
    given = pd.to_numeric(table["weight"], errors="coerce")
    text = np.flatnonzero((given.isna() & table["weight"].notna()).to_numpy())
    if text.size:
        row = table.iloc[text[0]]
        raise ConcordanceError(
            f"{source}: weight {row['weight']!r} of {row['inventory_sector']!r} -> "
            f"{row['mrio_sector']!r} is not a number; give a weight in [0, 1] or leave it blank"
        )
    return given.fillna(0).to_numpy(dtype=float)


def _final_demand_rows(
    table: pd.DataFrame, inv: list[str], categories: Sequence[str], source: str
) -> tuple[tuple[str, ...], pd.DataFrame]:
    """Split off the ``final_demand:<category>`` rows; return each sector's category."""
    is_direct = table["mrio_sector"].str.startswith(FINAL_DEMAND_PREFIX, na=False)
    direct = {}
    for sector, target in table.loc[is_direct, ["inventory_sector", "mrio_sector"]].values:
        category = target[len(FINAL_DEMAND_PREFIX) :]
        if category not in categories:
            raise ConcordanceError(
                f"{source}: {target!r} for inventory sector {sector!r} names no final-demand "
                f"category; use final_demand:<one of {list(categories)}>"
            )
        if sector in direct and direct[sector] != category:
            raise ConcordanceError(
                f"{source}: inventory sector {sector!r} maps to two final-demand categories; "
                "keep one final_demand:<category> row"
            )
        direct[sector] = category
    mixed = sorted(set(direct) & set(table.loc[~is_direct, "inventory_sector"]))
    if mixed:
        raise ConcordanceError(
            f"{source}: inventory sector {mixed[0]!r} maps both to final demand and to MRIO "
            "sectors; split it into two inventory layers or keep only one kind of row"
        )
    return tuple(direct.get(s, "") for s in inv), table[~is_direct]


def sector_weights(
    concordance: SectorConcordance, *, emissions: np.ndarray, output: np.ndarray
) -> np.ndarray:
    """Weights ``w[r, s, i]`` of MRIO sector ``i`` within inventory sector ``s`` in region ``r``.

    Parameters
    ----------
    concordance : SectorConcordance
    emissions, output : numpy.ndarray
        ``(n_regions, n_mrio)`` MRIO production emissions and total output.

    Returns
    -------
    numpy.ndarray
        ``(n_regions, n_inventory, n_mrio)``; each ``[r, s, :]`` sums to one.
    """
    if concordance.fixed_weights is not None:
        return np.broadcast_to(
            concordance.fixed_weights, (emissions.shape[0], *concordance.mapping.shape)
        ).copy()
    mask = concordance.mapping[None, :, :].astype(float)
    weights = np.zeros(mask.shape[:1] + mask.shape[1:])
    for basis in (np.ones_like(output), output, emissions):
        raw = mask * basis[:, None, :]
        total = raw.sum(axis=2, keepdims=True)
        usable = np.broadcast_to(total > 0, raw.shape)
        weights = np.where(usable, raw / np.where(total > 0, total, 1.0), weights)
    return weights


def table_weights(concordance: SectorConcordance, table, producers: Sequence[str]) -> np.ndarray:
    """:func:`sector_weights` from an MRIO's ``F`` and ``x`` for ``producers``.

    Parameters
    ----------
    concordance : SectorConcordance
    table : pipeline.mrio.MRIO
        The attribution-ready table (a realization's, under uncertainty).
    producers : sequence of str
        Producer regions, in the order of the region tables.
    """
    sectors = list(concordance.mrio_sectors)
    f = by_region_sector(table.F, table.rows, producers, sectors)
    x = by_region_sector(table.x, table.rows, producers, sectors)
    return sector_weights(concordance, emissions=f, output=x)


def by_region_sector(values, rows, regions, sectors) -> np.ndarray:
    """A per-row vector as ``(region, sector)`` (missing rows 0)."""
    series = pd.Series(np.asarray(values, dtype=float), index=rows)
    frame = series.unstack("sector").reindex(index=list(regions), columns=list(sectors))
    return frame.fillna(0.0).to_numpy()
