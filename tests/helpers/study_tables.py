"""Test helper: random plain-format MRIOs and an independent numpy oracle.

The oracle follows the README's attribution formula with nothing but dense
numpy: ``S = solve(I - A, Y) / x`` and
``footprint[g, c, k] = sum_s e[g, s] sum_i w[r(g), s, i] S[(r(g), i), (c, k)]``.
It shares no code with the package, so a test that compares the two can fail.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlainTable:
    """A global MRIO as labelled DataFrames (plain format)."""

    Z: pd.DataFrame
    Y: pd.DataFrame
    F: pd.DataFrame
    F_Y: pd.DataFrame

    @property
    def x(self) -> np.ndarray:
        return self.Z.to_numpy().sum(axis=1) + self.Y.to_numpy().sum(axis=1)

    @property
    def rows(self) -> pd.MultiIndex:
        return self.Z.index

    def write(self, folder: Path) -> Path:
        """Write the plain format (one CSV per matrix) to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("Z", "Y", "F", "F_Y"):
            getattr(self, name).to_csv(folder / f"{name}.csv")
        pd.DataFrame({"stressor": self.F.index, "unit": "t"}).to_csv(
            folder / "units.csv", index=False
        )
        return folder


def random_plain_table(
    regions: list[str],
    sectors: list[str],
    categories: list[str],
    *,
    seed: int,
    stressors: tuple[str, ...] = ("CO2", "CH4"),
    zero_rows: tuple[tuple[str, str], ...] = (),
) -> PlainTable:
    """A dense random MRIO whose A column sums stay below 0.7.

    ``zero_rows`` lists (region, sector) pairs with no output at all (their
    rows, columns and emissions are zero), as small economies have.
    """
    rng = np.random.default_rng(seed)
    rows = pd.MultiIndex.from_product([regions, sectors], names=["region", "sector"])
    fd = pd.MultiIndex.from_product([regions, categories], names=["region", "category"])
    n, m = len(rows), len(fd)
    home = np.equal.outer(rows.get_level_values(0), rows.get_level_values(0))
    z = rng.gamma(0.8, 1.0, (n, n)) * np.where(home, 6.0, 0.6)
    y = rng.gamma(1.0, 20.0, (n, m))
    y *= np.where(np.equal.outer(rows.get_level_values(0), fd.get_level_values(0)), 5.0, 0.4)
    y[rng.random((n, m)) < 0.05] *= -0.05  # a few negative inventory changes
    dead = np.array([tuple(r) in set(zero_rows) for r in rows])
    z[dead, :] = 0.0
    z[:, dead] = 0.0
    y[dead, :] = 0.0
    x = z.sum(axis=1) + y.sum(axis=1)
    # Scale each column of Z so that A's column sums are 0.2-0.7 of x.
    target = rng.uniform(0.2, 0.7, n)
    for _ in range(50):
        col = z.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(col > 0, target * x / col, 0.0)
        z *= scale[None, :]
        x = z.sum(axis=1) + y.sum(axis=1)
    f = rng.gamma(1.0, 1.0, (len(stressors), n)) * x[None, :]
    f[:, dead] = 0.0
    f_y = np.zeros((len(stressors), m))
    f_y[0] = rng.gamma(1.0, 2.0, m)
    return PlainTable(
        Z=pd.DataFrame(z, index=rows, columns=rows.copy()),
        Y=pd.DataFrame(y, index=rows, columns=fd),
        F=pd.DataFrame(f, index=pd.Index(list(stressors), name="stressor"), columns=rows.copy()),
        F_Y=pd.DataFrame(f_y, index=pd.Index(list(stressors), name="stressor"), columns=fd),
    )


def oracle_shares(table: PlainTable) -> np.ndarray:
    """``S[(r,i),(c,k)]``: share of row ``(r,i)``'s output serving column ``(c,k)``."""
    z, y, x = table.Z.to_numpy(), table.Y.to_numpy(), table.x
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(x[None, :] > 0, z / x[None, :], 0.0)
    solved = np.linalg.solve(np.eye(len(x)) - a, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x[:, None] > 0, solved / x[:, None], 0.0)


def sector_weights(
    table: PlainTable, concordance: pd.DataFrame, inventory_sectors: list[str], stressor: str
) -> np.ndarray:
    """``w[r, s, i]`` of the README.

    Fixed weights if the concordance has them; else the region's ``F`` of the
    mapped sectors, normalised; where that is all zero its ``x``; else equal.
    """
    regions = list(dict.fromkeys(table.rows.get_level_values(0)))
    sectors = list(dict.fromkeys(table.rows.get_level_values(1)))
    shape = (len(regions), len(sectors))
    f = table.F.loc[stressor].to_numpy().reshape(shape)
    x = table.x.reshape(shape)
    w = np.zeros((len(regions), len(inventory_sectors), len(sectors)))
    for s, name in enumerate(inventory_sectors):
        part = concordance[concordance["inventory_sector"] == name]
        mapped = [sectors.index(v) for v in part["mrio_sector"] if v in sectors]
        if not mapped:
            continue
        if "weight" in part and part["weight"].notna().all():
            w[:, s, mapped] = part["weight"].to_numpy()[None, :]
            continue
        for basis in (f[:, mapped], x[:, mapped], np.ones((len(regions), len(mapped)))):
            total = basis.sum(axis=1, keepdims=True)
            todo = (w[:, s].sum(axis=1) == 0) & (total[:, 0] > 0)
            w[np.ix_(todo, [s], mapped)] = (basis / np.where(total > 0, total, 1))[todo][:, None]
    return w


def oracle_cell_footprint(
    emissions: np.ndarray,
    cell_region: np.ndarray,
    weights: np.ndarray,
    shares: np.ndarray,
    n_sectors: int,
    direct: dict[int, int] | None = None,
) -> np.ndarray:
    """``footprint[(c,k), y, x]`` for every cell (``cell_region`` −1 = no emissions).

    ``direct`` maps an inventory sector position to a final-demand category
    position: those emissions go to the cell region's own consumer only.
    """
    n_regions = weights.shape[0]
    m = shares.shape[1]
    n_categories = m // n_regions
    per_region = np.einsum(
        "rsi,rim->rsm", weights, shares.reshape(n_regions, n_sectors, m)
    )  # (region, inventory sector, column)
    for s, k in (direct or {}).items():
        per_region[:, s, :] = 0.0
        for r in range(n_regions):
            per_region[r, s, r * n_categories + k] = 1.0
    out = np.zeros((m, *cell_region.shape))
    land = cell_region >= 0
    out[:, land] = np.einsum("sg,gsm->mg", emissions[:, land], per_region[cell_region[land]])
    return out


def oracle_footprint(
    table: PlainTable,
    concordance_csv: str,
    inventory_sectors: list[str],
    tonnes: np.ndarray,
    cell_region: np.ndarray,
    direct: dict[int, int] | None = None,
    stressor: str = "CO2",
) -> np.ndarray:
    """``footprint[consumer, category, y, x]`` of a study, from its table and concordance text."""
    concordance = pd.read_csv(io.StringIO(concordance_csv))
    weights = sector_weights(table, concordance, inventory_sectors, stressor)
    n_sectors = len(dict.fromkeys(table.rows.get_level_values(1)))
    values = oracle_cell_footprint(
        tonnes, cell_region, weights, oracle_shares(table), n_sectors, direct=direct
    )
    n_regions = weights.shape[0]
    return values.reshape(n_regions, values.shape[0] // n_regions, *cell_region.shape)
