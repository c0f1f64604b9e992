"""A synthetic demonstration MRIO: China nested by province in a 13-region world.

**All numbers here are synthetic.** Province sizes, technologies, trade and
emission intensities are invented, loosely shaped like the literature (China about
9.5 Gt CO2, power and heat the largest emitter, the USA, Hong Kong and Japan the
largest foreign final consumers of China's export-driven CO2, cf. Yang et al. 2020)
so that the pipeline has something realistic-looking to map. Do not cite them.

Construction: a *true nested* table (31 provinces + 12 foreign regions, 14 sectors)
is built first so that it satisfies the proportionality assumptions of
:func:`pipeline.mrio.nesting.nest` exactly (every province ships the country's
destination mix of each product; each province takes a fixed share ``m[p, i]`` of
the country's imports of product ``i`` for every user). The global table (provinces
aggregated into ``"CHN"``) and the provincial table are derived from it, so nesting
them reproduces the true table. Outputs solve ``x = L x + y`` and are then defined
as row sums, so ``x = Z·1 + Y·1`` holds to rounding. Monetary unit: synthetic
"million USD"; emissions in t CO2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES, SubnationalTable
from pipeline.mrio.plain import write_plain, write_subnational

COUNTRY = "CHN"
#: The 31 mainland provinces, in the order of ``data/china_provinces.geojson``.
PROVINCES: tuple[str, ...] = (
    "CN-BJ",
    "CN-TJ",
    "CN-HE",
    "CN-SX",
    "CN-NM",
    "CN-LN",
    "CN-JL",
    "CN-HL",
    "CN-SH",
    "CN-JS",
    "CN-ZJ",
    "CN-AH",
    "CN-FJ",
    "CN-JX",
    "CN-SD",
    "CN-HA",
    "CN-HB",
    "CN-HN",
    "CN-GD",
    "CN-GX",
    "CN-HI",
    "CN-CQ",
    "CN-SC",
    "CN-GZ",
    "CN-YN",
    "CN-XZ",
    "CN-SN",
    "CN-GS",
    "CN-QH",
    "CN-NX",
    "CN-XJ",
)
FOREIGN: tuple[str, ...] = (
    "USA",
    "HKG",
    "JPN",
    "KOR",
    "DEU",
    "GBR",
    "FRA",
    "IND",
    "RUS",
    "AUS",
    "BRA",
    "ROW",
)
SECTORS: tuple[str, ...] = (
    "agriculture",
    "mining",
    "food",
    "textiles",
    "petroleum_coking",
    "chemicals",
    "nonmetallic_minerals",
    "metal_smelting",
    "machinery",
    "electronics",
    "electricity_heat",
    "construction",
    "transport",
    "services",
)
CATEGORIES: tuple[str, ...] = ("households", "government", "capital_formation", "inventory_change")

# Synthetic relative economic size of provinces (coastal larger).
_PROV_SIZE = np.array(
    [
        1.8,
        1.3,
        2.7,
        1.2,
        1.6,
        2.5,
        1.2,
        1.4,
        2.0,
        5.4,
        3.5,
        1.7,
        2.0,
        1.3,
        5.0,
        3.0,
        2.2,
        2.2,
        5.7,
        1.3,
        0.3,
        1.1,
        2.4,
        0.7,
        1.0,
        0.07,
        1.5,
        0.6,
        0.19,
        0.23,
        0.75,
    ]
)
# Synthetic export orientation (coastal provinces export more).
_PROV_COAST = np.array(
    [
        1.2,
        1.5,
        0.6,
        0.4,
        0.4,
        1.0,
        0.4,
        0.4,
        2.0,
        1.8,
        1.8,
        0.5,
        1.6,
        0.5,
        1.2,
        0.4,
        0.5,
        0.5,
        2.5,
        0.7,
        0.6,
        0.5,
        0.5,
        0.3,
        0.4,
        0.2,
        0.4,
        0.3,
        0.3,
        0.3,
        0.4,
    ]
)
# Synthetic carbon-intensity factor (coal-heavy north high, hydro-rich south-west low).
_PROV_COAL = np.array(
    [
        0.8,
        1.1,
        1.5,
        1.8,
        1.8,
        1.3,
        1.1,
        1.2,
        0.8,
        1.0,
        0.9,
        1.2,
        0.8,
        1.0,
        1.5,
        1.2,
        0.9,
        0.9,
        0.8,
        0.8,
        0.9,
        0.9,
        0.6,
        1.1,
        0.6,
        0.5,
        1.2,
        1.2,
        0.7,
        1.7,
        1.3,
    ]
)
# Synthetic final demand of foreign regions (million USD) and their CO2 totals (t).
_FOREIGN_FD = np.array(
    [1.6e7, 1.5e6, 6.0e6, 1.2e6, 3.5e6, 2.6e6, 2.7e6, 1.8e6, 2.0e6, 1.5e6, 2.4e6, 3.0e7]
)
_FOREIGN_CO2 = np.array(
    [5.0e9, 4.5e7, 1.2e9, 6.0e8, 7.5e8, 4.5e8, 3.3e8, 2.0e9, 1.6e9, 4.0e8, 4.5e8, 1.0e10]
)
# Target shares of China's export-driven CO2 by foreign final consumer (synthetic).
_TARGET_CONSUMER = np.array(
    [0.235, 0.105, 0.092, 0.075, 0.07, 0.055, 0.05, 0.055, 0.055, 0.05, 0.05, 0.055]
)
# Target shares of power/heat and metal smelting in China's export-driven CO2 (synthetic).
_TARGET_POWER, _TARGET_METAL = 0.43, 0.145
CHINA_FD = 8.0e6
CHINA_CO2 = 9.5e9
CHINA_FY = 3.5e8  # synthetic household direct emissions
# Sector output intensities (relative) and per-sector ordering used for CO2.
_INTENSITY = np.array([40, 45, 30, 28, 90, 70, 110, 1000, 35, 22, 9000, 30, 55, 25.0])
_IMPORT_SHARE = np.array(
    [0.08, 0.25, 0.04, 0.05, 0.08, 0.10, 0.02, 0.06, 0.10, 0.20, 0, 0, 0.03, 0.03]
)
_TRADABLE = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.02, 0.02, 0.3, 0.15])
_COL_TOTAL = np.array(
    [0.38, 0.45, 0.62, 0.62, 0.66, 0.62, 0.58, 0.64, 0.62, 0.64, 0.55, 0.62, 0.5, 0.4]
)
# final-demand product composition by category (rows: categories, columns: SECTORS)
_PHI = np.array(
    [
        [8, 0.5, 12, 7, 2, 2, 0.5, 0.2, 3, 6, 4, 0.5, 5, 48],
        [0.5, 0.1, 1, 0.5, 0.5, 1, 0.1, 0.1, 2, 2, 1, 4, 3, 85],
        [1, 0.5, 0.3, 0.3, 0.2, 0.5, 1, 1, 22, 10, 0.2, 58, 2, 4],
        [10, 5, 8, 8, 5, 10, 5, 10, 15, 15, 0.1, 0.1, 0.1, 0.1],
    ]
)
_CAT_SHARE = np.array([0.48, 0.16, 0.345, 0.015])


@dataclass(frozen=True)
class DemoTables:
    """The synthetic demo tables (all numbers synthetic).

    Attributes
    ----------
    global_mrio : MRIO
        13 regions (``"CHN"`` + :data:`FOREIGN`) x 14 sectors.
    provincial : SubnationalTable
        31 provinces x 14 sectors.
    true_nested : MRIO
        The table the other two were derived from; ``nest`` reproduces it.
    concordance : pandas.DataFrame
        Identity sector concordance (``sub_sector, global_sector, weight``).
    """

    global_mrio: MRIO
    provincial: SubnationalTable
    true_nested: MRIO
    concordance: pd.DataFrame


def _technology(rng: np.random.Generator) -> np.ndarray:
    """Base input structure ``T[i, j]`` with column sums ``_COL_TOTAL`` (synthetic)."""
    G = len(SECTORS)
    s = {k: i for i, k in enumerate(SECTORS)}
    W = np.full((G, G), 0.3) + 2.0 * np.eye(G)
    W[s["electricity_heat"], :] += 1.2
    W[s["services"], :] += 2.0
    W[s["transport"], :] += 0.8
    for user, suppliers in {
        "food": ["agriculture"],
        "textiles": ["agriculture", "chemicals"],
        "petroleum_coking": ["mining"],
        "chemicals": ["petroleum_coking", "mining"],
        "nonmetallic_minerals": ["mining", "electricity_heat"],
        "metal_smelting": ["mining", "electricity_heat"],
        "machinery": ["metal_smelting"],
        "electronics": ["chemicals", "metal_smelting", "electronics"],
        "electricity_heat": ["mining"],
        "transport": ["petroleum_coking"],
        "construction": ["nonmetallic_minerals", "metal_smelting", "machinery"],
        "agriculture": ["chemicals"],
        "services": ["electronics"],
    }.items():
        for sup in suppliers:
            W[s[sup], s[user]] += 3.0
    W *= rng.lognormal(0.0, 0.2, size=W.shape)
    return W / W.sum(axis=0) * _COL_TOTAL


def _labels() -> tuple[pd.MultiIndex, pd.MultiIndex]:
    regions = list(PROVINCES) + list(FOREIGN)
    rows = pd.MultiIndex.from_product([regions, SECTORS], names=list(ROW_NAMES))
    cols = pd.MultiIndex.from_product([regions, CATEGORIES], names=list(FD_NAMES))
    return rows, cols


def _build_true(rng: np.random.Generator, chi: np.ndarray, intensity: np.ndarray) -> MRIO:
    """Build the true nested table for foreign China-sourcing levels ``chi``."""
    P, Fn, G, K = len(PROVINCES), len(FOREIGN), len(SECTORS), len(CATEGORIES)
    R = P + Fn
    T = _technology(np.random.default_rng(rng.integers(2**32)))
    struct = np.clip(rng.lognormal(0.0, 0.3, size=(R, G)), 0.5, 2.0)
    size = np.concatenate([_PROV_SIZE / _PROV_SIZE.sum() * CHINA_FD, _FOREIGN_FD])
    cap = size[:, None] * struct  # supply capacity (r, i)
    capP = cap[:P] / cap[:P].sum(axis=0)  # province share of product i
    w = capP * _PROV_COAST[:, None]
    w /= w.sum(axis=0)  # export shares w[p, i]
    m_imp = capP * rng.uniform(0.8, 1.25, size=(P, G))
    m_imp /= m_imp.sum(axis=0)  # import shares m[p, i]
    rho = rng.uniform(0.3, 0.6, size=P)  # intra-province sourcing
    home = np.array([0.8, 0.3, 0.82, 0.75, 0.7, 0.72, 0.72, 0.85, 0.85, 0.75, 0.85, 0.97])
    # origin of China's imports of product i among foreign regions (by capacity)
    orig = cap[P:] / cap[P:].sum(axis=0)  # (Fn, G)
    # sourcing of foreign users: src[S, origin region R (foreign), i] and China share
    china = chi[:, None] * _TRADABLE[None, :]  # (Fn, G)
    dom = np.where(_TRADABLE[None, :] < 0.1, 0.98, home[:, None] * np.ones_like(china))
    other = np.clip(1.0 - dom - china, 0.0, None)
    # --- coefficient operator L (n x n) and final demand Y (n x m)
    n, m = R * G, R * K
    L = np.zeros((R, G, R, G))
    dshare = 1.0 - _IMPORT_SHARE
    for p in range(P):  # province users
        intra = rho[p]
        oth = capP.copy()
        oth[p] = 0.0
        oth = oth / oth.sum(axis=0) * (1 - intra)
        oth[p] = intra
        L[:P, :, p, :] = (oth * dshare)[:, :, None] * T[None, :, :]
    # imports: Z[(R,i),(p,j)] = m[p,i] * IMP[i] T[i,j] orig[R,i] * sum_q x[q,j]
    imp_coef = (_IMPORT_SHARE[:, None] * T)[None, :, :] * orig[:, :, None]  # (Fn, G, G)
    L[P:, :, :P, :] = imp_coef[:, :, None, :]
    for S in range(Fn):
        f = P + S
        T_S = T * rng.uniform(0.9, 1.1)
        oth_w = np.delete(cap[P:], S, axis=0)
        oth_w = oth_w / oth_w.sum(axis=0) * other[S]
        L[P:, :, f, :][np.arange(Fn) != S] = oth_w[:, :, None] * T_S[None]
        L[f, :, f, :] = dom[S][:, None] * T_S
        L[:P, :, f, :] = (w * china[S])[:, :, None] * T_S[None]
    # final demand designs
    Y = np.zeros((R, G, R, K))
    fd_comp = _PHI / _PHI.sum(axis=1, keepdims=True) * _CAT_SHARE[:, None]  # (K, G)
    inv_sign = rng.uniform(-0.6, 1.0, size=(R, G))
    for c in range(R):
        demand = size[c] * fd_comp.T  # (G, K)
        demand[:, 3] *= inv_sign[c]
        if c < P:
            intra = rho[c]
            oth = capP.copy()
            oth[c] = 0.0
            oth = oth / oth.sum(axis=0) * (1 - intra)
            oth[c] = intra
            Y[:P, :, c, :] = (oth * dshare)[:, :, None] * demand[None]
        else:
            S = c - P
            oth_w = np.delete(cap[P:], S, axis=0)
            oth_w = oth_w / oth_w.sum(axis=0) * other[S]
            Y[P:, :, c, :][np.arange(Fn) != S] = oth_w[:, :, None] * demand[None]
            Y[c, :, c, :] = dom[S][:, None] * demand
            Y[:P, :, c, :] = (w * china[S])[:, :, None] * demand[None]
    china_fd = (
        sum(size[p] * fd_comp.T for p in range(P))
        * np.where(np.arange(K) == 3, inv_sign[:P].mean(), 1.0)[None, :]
    )
    ym = (_IMPORT_SHARE[:, None] * china_fd)[None] * orig[:, :, None]  # (Fn, G, K)
    Y[P:, :, :P, :] = ym[:, :, None, :] * m_imp.T[None, :, :, None]
    L2, Y2 = L.reshape(n, n), Y.reshape(n, m)
    x = np.linalg.solve(np.eye(n) - L2, Y2.sum(axis=1))
    # explicit flows
    X4 = x.reshape(R, G)
    Z = L * X4[None, None, :, :]
    Xc = X4[:P].sum(axis=0)
    Z[P:, :, :P, :] = imp_coef[:, :, None, :] * Xc[None, None, None, :] * m_imp.T[None, :, :, None]
    Z2 = Z.reshape(n, n)
    x = Z2.sum(axis=1) + Y2.sum(axis=1)
    # emissions
    fac = np.ones((R, G))
    fac[:P] = _PROV_COAL[:, None] ** 0.5 * rng.uniform(0.9, 1.1, size=(P, G))
    fac[:P, SECTORS.index("electricity_heat")] = _PROV_COAL * rng.uniform(0.9, 1.1, size=P)
    F = intensity[None, :] * fac * x.reshape(R, G)
    F[:P] *= CHINA_CO2 / F[:P].sum()
    F[P:] *= (_FOREIGN_CO2 / F[P:].sum(axis=1))[:, None]
    F_Y = np.zeros((R, K))
    F_Y[:, 0] = np.concatenate([_PROV_SIZE / _PROV_SIZE.sum() * CHINA_FY, 0.08 * _FOREIGN_CO2])
    rows, cols = _labels()
    return MRIO(
        Z=Z2,
        Y=Y2,
        x=x,
        F=F.reshape(-1),
        F_Y=F_Y.reshape(-1),
        rows=rows,
        fd_columns=cols,
        stressor="CO2",
        unit="t",
    )


def _export_driven(true: MRIO) -> tuple[np.ndarray, np.ndarray]:
    """China's export-driven CO2 by foreign consumer and by producing sector."""
    from pipeline.mrio.engine import attribute

    da = attribute(true, regions=list(PROVINCES)).sel(consumer=list(FOREIGN))
    return (
        da.sum(("region", "sector", "category")).values,
        da.sum(("region", "consumer", "category")).values,
    )


def _aggregate(true: MRIO) -> tuple[MRIO, SubnationalTable]:
    """Derive the global table (provinces summed into CHN) and the provincial table."""
    P, G, K = len(PROVINCES), len(SECTORS), len(CATEGORIES)
    nP, mP = P * G, P * K
    R = true.n // G
    agg = np.zeros((true.n, (R - P + 1) * G))
    agg[np.arange(nP), np.arange(nP) % G] = 1.0
    agg[np.arange(nP, true.n), np.arange(G, (R - P + 1) * G)] = 1.0
    aggf = np.zeros((true.m, (R - P + 1) * K))
    aggf[np.arange(mP), np.arange(mP) % K] = 1.0
    aggf[np.arange(mP, true.m), np.arange(K, (R - P + 1) * K)] = 1.0
    regions = [COUNTRY, *FOREIGN]
    g = MRIO(
        Z=agg.T @ true.Z @ agg,
        Y=agg.T @ true.Y @ aggf,
        x=agg.T @ true.x,
        F=agg.T @ true.F,
        F_Y=aggf.T @ true.F_Y,
        rows=pd.MultiIndex.from_product([regions, SECTORS], names=list(ROW_NAMES)),
        fd_columns=pd.MultiIndex.from_product([regions, CATEGORIES], names=list(FD_NAMES)),
        stressor=true.stressor,
        unit=true.unit,
    )
    sub = SubnationalTable(
        Z=true.Z[:nP, :nP].copy(),
        Y=true.Y[:nP, :mP].copy(),
        exports=true.Z[:nP, nP:].sum(axis=1) + true.Y[:nP, mP:].sum(axis=1),
        imports=_imports(true, nP, mP),
        x=true.x[:nP].copy(),
        F=true.F[:nP].copy(),
        rows=true.rows[:nP],
        fd_columns=true.fd_columns[:mP],
        F_Y=true.F_Y[:mP].copy(),
        stressor=true.stressor,
        unit=true.unit,
    )
    return g, sub


def _imports(true: MRIO, nP: int, mP: int) -> np.ndarray:
    """International imports of product i into province p (summed over origins/users)."""
    P, G, K = len(PROVINCES), len(SECTORS), len(CATEGORIES)
    zi = true.Z[nP:, :nP].reshape(-1, G, P, G).sum(axis=(0, 3))  # (i, p)
    yi = true.Y[nP:, :mP].reshape(-1, G, P, K).sum(axis=(0, 3))
    return (zi + yi).T.reshape(-1)


def make_demo_tables(*, seed: int = 2012, calibrate: int = 5) -> DemoTables:
    """Build the synthetic demo tables, deterministically from ``seed``.

    Parameters
    ----------
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    calibrate : int
        Rounds adjusting the China-sourcing shares of foreign users toward the
        synthetic export-driven CO2 shares by foreign consumer; the power/heat and
        metal smelting intensities are then set to hit their synthetic shares.

    Returns
    -------
    DemoTables
        All numbers synthetic.
    """
    chi = np.clip(0.06 * _TARGET_CONSUMER / _TARGET_CONSUMER.mean(), 0.005, 0.5)
    intensity = _INTENSITY.copy()
    for _ in range(calibrate):
        by_cons, _ = _export_driven(_build_true(np.random.default_rng(seed), chi, intensity))
        chi = np.clip(chi * (_TARGET_CONSUMER / (by_cons / by_cons.sum())), 1e-4, 0.65)
    # attribution is linear in each sector's intensity and x does not depend on it:
    # solve for power/heat and metal smelting intensities hitting their shares exactly
    _, by_sec = _export_driven(_build_true(np.random.default_rng(seed), chi, intensity))
    e, ms = SECTORS.index("electricity_heat"), SECTORS.index("metal_smelting")
    rest = by_sec.sum() - by_sec[e] - by_sec[ms]
    total = rest / (1.0 - _TARGET_POWER - _TARGET_METAL)
    intensity[e] *= _TARGET_POWER * total / by_sec[e]
    intensity[ms] *= _TARGET_METAL * total / by_sec[ms]
    true = _build_true(np.random.default_rng(seed), chi, intensity)
    true = true.validate(balance_rtol=1e-12, source="synthetic true nested MRIO")
    g, sub = _aggregate(true)
    conc = pd.DataFrame(
        {"sub_sector": list(SECTORS), "global_sector": list(SECTORS), "weight": 1.0}
    )
    return DemoTables(
        global_mrio=g.validate(balance_rtol=1e-12, source="synthetic global MRIO"),
        provincial=sub.validate(balance_rtol=1e-12, source="synthetic provincial table"),
        true_nested=true,
        concordance=conc,
    )


def province_sector_emissions(tables: DemoTables) -> pd.DataFrame:
    """Production CO2 (t, synthetic) by province (index) and MRIO sector (columns)."""
    sub = tables.provincial
    s = pd.Series(sub.F, index=sub.rows)
    df = s.unstack("sector").reindex(index=list(PROVINCES), columns=list(SECTORS))
    df.index.name, df.columns.name = "province", "sector"
    return df


def write_demo_tables(tables: DemoTables, out_dir: str | Path) -> dict[str, Path]:
    """Write ``global/`` (plain CSV), ``provincial/`` and ``sector_concordance.csv``.

    Parameters
    ----------
    tables : DemoTables
    out_dir : str or Path

    Returns
    -------
    dict of str to Path
        Keys ``"global"``, ``"provincial"``, ``"sector_concordance"``.
    """
    out = Path(out_dir)
    write_plain(tables.global_mrio, out / "global")
    write_subnational(tables.provincial, out / "provincial")
    conc = out / "sector_concordance.csv"
    tables.concordance.to_csv(conc, index=False)
    return {"global": out / "global", "provincial": out / "provincial", "sector_concordance": conc}
