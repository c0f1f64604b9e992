"""A tiny GLORIA release on disk, in the layout ``pymrio.parse_gloria`` (pymrio 0.7.0) reads.

``pymrio.parse_gloria(root, year, version=59)`` calls ``parse_gloria_sut``, which
reads three entries of ``root`` (each a ``.zip`` or an extracted folder, found by
``glob``; CSV members are found by the end of their name, so the date prefix of
real releases, e.g. ``20230315``, is free):

``GLORIA_MRIOs_59_{year}``
    ``*_120secMother_AllCountries_002_{T,Y,V}-Results_{year}_059_Markup001(full).csv``,
    headerless: ``T`` (rows and columns: region x {Industry, Product} x sector),
    ``Y`` (rows as ``T``; columns: region x final-demand category) and ``V`` (value
    added; rows: region x value-added category; columns as ``T``).
``GLORIA_SatelliteAccounts_059_{year}``
    ``*_..._{TQ,YQ}-Results_{year}_059_Markup001(full).csv``, headerless: satellite
    rows x the columns of ``T`` (``TQ``) or of ``Y`` (``YQ``).
``GLORIA_ReadMe_059.xlsx`` (note the ``0``, unlike pymrio's docstring)
    Sheets ``Regions`` (column ``Region_acronyms``), ``Sectors`` (``Sector_names``),
    ``Value added and final demand`` (``Value_added_names``,
    ``Final_demand_names``: one sheet, so equally long) and ``Satellites``
    (``Sat_indicator``, ``Sat_head_indicator``, ``Sat_unit``) label those CSVs.

``Markup001`` is basic prices (pymrio's default ``price="bp"``). ``parse_gloria_sut``
drops regions whose ``T`` rows and columns are all zero (pymrio names ``DYE`` in 2022;
:func:`write_release` writes such a region), then splits ``T`` into
the supply table ``V = T[Industry, Product]`` and the use table
``U = T[Product, Industry]`` and keeps the Product rows of ``Y`` and the Industry
columns of ``TQ`` and ``V``. ``parse_gloria`` then builds a product-by-product
system with the industry-technology assumption (construct ``"B"``)::

    g = V 1,  q = U 1 + Y 1,  A = U diag(1/g) V diag(1/q),  F = TQ diag(1/g) V

and returns ``IOSystem(A, Y)`` with extensions ``Q`` (``F``, ``F_Y`` = ``YQ``; rows
``(Sat_indicator, Sat_head_indicator)``) and ``VA``; it has no ``Z`` and no ``x``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

VERSION = 59
YEAR = 2019
REGIONS = ("AUT", "DEU", "CHN")
#: A region with no data, dropped by the parser; written between DEU and CHN.
EMPTY_REGION = "DYE"
SECTORS = ("Wheat", "Electric power generation, transmission and distribution")
FD_CATS = (
    "Household final consumption P.3h",
    "Government final consumption P.3g",
    "Changes in inventories P.52",
)
VA_CATS = (
    "Compensation of employees D.1",
    "Taxes on production D.29",
    "Net operating surplus B.2n",
)
#: (Sat_indicator, Sat_head_indicator, Sat_unit); the quotes are part of GLORIA's names.
SATELLITES = (
    ("'co2_excl_short_cycle_org_c_total_EDGAR_consistent'", "Emissions (EDGAR)", "kilotonnes"),
    ("'ch4_total_EDGAR_consistent'", "Emissions (EDGAR)", "kilotonnes"),
    ("'GHG_total_EDGAR_consistent'", "Emissions (EDGAR)", "kilotonnes CO2-equivalent"),
)
#: Share of each product a region's industries supply (columns sum to 1). pymrio calls
#: GLORIA's supply table diagonal; secondary output here makes a transposed one visible.
MARKET_SHARES = np.array([[0.9, 0.05], [0.1, 0.95]])
VA_SHARES = np.array([0.6, 0.1, 0.3])


@dataclass(frozen=True)
class Release:
    """SUT content of the three non-empty regions (rows region-major, then sector).

    ``U`` (product x industry), ``V`` (supply, industry x product), ``Y`` (product x
    region/final-demand category), ``VA`` (region/VA category x industry), ``TQ``
    (satellite x industry), ``YQ`` (satellite x region/final-demand category).
    """

    U: np.ndarray
    V: np.ndarray
    Y: np.ndarray
    VA: np.ndarray
    TQ: np.ndarray
    YQ: np.ndarray

    @property
    def g(self) -> np.ndarray:
        """Industry output ``V 1``."""
        return self.V.sum(axis=1)

    @property
    def q(self) -> np.ndarray:
        """Product output ``U 1 + Y 1`` (= ``V' 1``): the IO system's ``x``."""
        return self.U.sum(axis=1) + self.Y.sum(axis=1)

    def io_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Product-by-product ``Z = U diag(1/g) V`` and ``F = TQ diag(1/g) V`` (construct B)."""
        market = self.V / self.g[:, None]
        return self.U @ market, self.TQ @ market


def make_release(seed: int = 7) -> Release:
    """Balanced, deterministic SUT numbers: ``V' 1 = U 1 + Y 1``, value added > 0."""
    rng = np.random.default_rng(seed)
    nr, ns, nf = len(REGIONS), len(SECTORS), len(FD_CATS)
    n = nr * ns
    U = np.round(rng.uniform(0, 8, (n, n)), 3)
    Y = np.zeros((n, nr * nf))
    Y[:, 0::nf] = np.round(rng.uniform(20, 40, (n, nr)), 3)
    Y[:, 1::nf] = np.round(rng.uniform(5, 15, (n, nr)), 3)
    Y[:, 2::nf] = np.round(rng.uniform(-2, 2, (n, nr)), 3)
    q = U.sum(axis=1) + Y.sum(axis=1)
    V = np.kron(np.eye(nr), MARKET_SHARES) * q[None, :]
    va = V.sum(axis=1) - U.sum(axis=0)
    assert (va > 0).all() and (q > 0).all(), "generator must give a well-posed system"
    VA = np.kron(np.eye(nr), VA_SHARES[:, None].repeat(ns, axis=1)) * va[None, :]
    co2 = np.round(rng.uniform(1, 50, n), 3)
    ch4 = np.round(rng.uniform(0, 2, n), 3)
    YQ = np.zeros((len(SATELLITES), nr * nf))  # direct emissions of households only
    YQ[0, 0::nf] = np.round(rng.uniform(0, 5, nr), 3)
    YQ[2, 0::nf] = YQ[0, 0::nf]
    return Release(U=U, V=V, Y=Y, VA=VA, TQ=np.vstack([co2, ch4, co2 + 28 * ch4]), YQ=YQ)


def _all_regions() -> list[str]:
    """The ReadMe's regions: :data:`REGIONS` with :data:`EMPTY_REGION` after DEU."""
    return [*REGIONS[:2], EMPTY_REGION, *REGIONS[2:]]


def _live(width: int, offset: int = 0, count: int | None = None) -> np.ndarray:
    """Positions of the non-empty regions on a region-major axis.

    Each region takes ``width`` positions; of those, ``count`` (default all) from
    ``offset`` are kept, e.g. ``_live(2 * ns, ns, ns)``: the Product rows of ``T``.
    """
    count = width if count is None else count
    live = [i for i, r in enumerate(_all_regions()) if r != EMPTY_REGION]
    return np.concatenate([i * width + offset + np.arange(count) for i in live])


def raw_matrices(rel: Release) -> dict[str, np.ndarray]:
    """The five CSV matrices in GLORIA's full layout (with the empty region)."""
    ns = len(SECTORS)
    nt = len(_all_regions()) * 2 * ns
    ny = len(_all_regions()) * len(FD_CATS)
    ind, prod = _live(2 * ns, 0, ns), _live(2 * ns, ns, ns)
    fd, va = _live(len(FD_CATS)), _live(len(VA_CATS))
    out = {
        "T": np.zeros((nt, nt)),
        "Y": np.zeros((nt, ny)),
        "V": np.zeros((len(_all_regions()) * len(VA_CATS), nt)),
        "TQ": np.zeros((len(SATELLITES), nt)),
        "YQ": np.zeros((len(SATELLITES), ny)),
    }
    out["T"][np.ix_(ind, prod)] = rel.V
    out["T"][np.ix_(prod, ind)] = rel.U
    out["Y"][np.ix_(prod, fd)] = rel.Y
    out["V"][np.ix_(va, ind)] = rel.VA
    out["TQ"][:, ind] = rel.TQ
    out["YQ"][:, fd] = rel.YQ
    return out


def csv_name(key: str, year: int, version: int = VERSION) -> str:
    """Member name of matrix ``key`` (T, Y, V, TQ, YQ) as in a real release."""
    return (
        f"20230315_120secMother_AllCountries_002_{key}-Results_{year}_0{version}"
        "_Markup001(full).csv"
    )


def write_readme(path: Path) -> None:
    """``GLORIA_ReadMe_059.xlsx`` with the four label sheets pymrio reads."""
    regions = _all_regions()
    sheets = {
        "Regions": pd.DataFrame(
            {
                "Lfd_Nr": range(1, len(regions) + 1),
                "Region_acronyms": regions,
                "Region_names": [f"Region {r}" for r in regions],
            }
        ),
        "Sectors": pd.DataFrame(
            {"Lfd_Nr": range(1, len(SECTORS) + 1), "Sector_names": list(SECTORS)}
        ),
        "Value added and final demand": pd.DataFrame(
            {"Value_added_names": list(VA_CATS), "Final_demand_names": list(FD_CATS)}
        ),
        "Satellites": pd.DataFrame(
            [(i + 1, *s) for i, s in enumerate(SATELLITES)],
            columns=["Lfd_Nr", "Sat_indicator", "Sat_head_indicator", "Sat_unit"],
        ),
    }
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, df in sheets.items():
            df.to_excel(xl, sheet_name=name, index=False)


def _write_members(target: Path, members: dict[str, np.ndarray], zipped: bool) -> None:
    """Write headerless CSVs into folder ``target`` or archive ``target.zip``."""
    texts = {n: pd.DataFrame(m).to_csv(header=False, index=False) for n, m in members.items()}
    if zipped:
        with zipfile.ZipFile(target.with_name(target.name + ".zip"), "w") as zf:
            for name, text in texts.items():
                zf.writestr(name, text)
        return
    target.mkdir()
    for name, text in texts.items():
        (target / name).write_text(text)


def write_release(
    rel: Release, root: Path, *, year: int = YEAR, zipped: bool = True, version: int = VERSION
) -> Path:
    """Write ``rel`` as GLORIA release ``version`` for ``year`` into ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    raw = raw_matrices(rel)
    mrio = {csv_name(k, year, version): raw[k] for k in ("T", "Y", "V")}
    sats = {csv_name(k, year, version): raw[k] for k in ("TQ", "YQ")}
    _write_members(root / f"GLORIA_MRIOs_{version}_{year}", mrio, zipped)
    _write_members(root / f"GLORIA_SatelliteAccounts_0{version}_{year}", sats, zipped)
    write_readme(root / f"GLORIA_ReadMe_0{version}.xlsx")
    return root
