"""A synthetic demonstration MRIO: China nested by province in a world of 13 to 190 regions.

**All numbers here are synthetic.** Province sizes, technologies, trade and
emission intensities are invented, loosely shaped like the literature (China about
9.5 Gt CO2, power and heat the largest emitter, the USA, Hong Kong and Japan the
largest foreign final consumers of China's export-driven CO2, cf. Yang et al. 2020)
so that the pipeline has something realistic-looking to map. Do not cite them.
They are in :mod:`pipeline.demo.parameters`; :mod:`pipeline.demo.world` splits the
rest of the world into more foreign regions (``foreign=N``, 12 by default).

Construction: a *true nested* table (31 provinces + N foreign regions, 14 sectors)
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
import scipy.linalg

from pipeline.demo.parameters import (
    CAT_SHARE,
    CATEGORIES,
    CHINA_CO2,
    CHINA_FD,
    CHINA_FY,
    COL_TOTAL,
    COUNTRY,
    FOREIGN,  # noqa: F401  (re-exported: the default foreign regions)
    IMPORT_SHARE,
    INTENSITY,
    PHI,
    PROV_COAL,
    PROV_COAST,
    PROV_SIZE,
    PROVINCES,
    SECTORS,
    TARGET_METAL,
    TARGET_POWER,
    TRADABLE,
)
from pipeline.demo.world import DEFAULT_FOREIGN, ForeignRegions, foreign_regions
from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES, SubnationalTable
from pipeline.mrio.plain import write_plain, write_subnational


@dataclass(frozen=True)
class DemoTables:
    """The synthetic demo tables (all numbers synthetic).

    Attributes
    ----------
    global_mrio : MRIO
        ``"CHN"`` and the foreign regions (by default :data:`FOREIGN`, 13 regions)
        x 14 sectors.
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
    """Base input structure ``T[i, j]`` with column sums ``COL_TOTAL`` (synthetic)."""
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
    return W / W.sum(axis=0) * COL_TOTAL


def _labels(foreign: tuple[str, ...]) -> tuple[pd.MultiIndex, pd.MultiIndex]:
    regions = list(PROVINCES) + list(foreign)
    rows = pd.MultiIndex.from_product([regions, SECTORS], names=list(ROW_NAMES))
    cols = pd.MultiIndex.from_product([regions, CATEGORIES], names=list(FD_NAMES))
    return rows, cols


@dataclass(frozen=True)
class _Sourcing:
    """Who supplies whom in the true nested table (all synthetic).

    Shapes use ``P`` provinces, ``Fn`` foreign regions, ``R = P + Fn`` regions
    and ``G`` sectors.
    """

    foreign: ForeignRegions  #: the foreign regions and their parameters
    T: np.ndarray  #: (G, G) base technology
    size: np.ndarray  #: (R,) economic size
    cap: np.ndarray  #: (R, G) supply capacity
    capP: np.ndarray  #: (P, G) province share of the country's capacity of product i
    w: np.ndarray  #: (P, G) province share of the country's exports of product i
    m_imp: np.ndarray  #: (P, G) province share of the country's imports of product i
    rho: np.ndarray  #: (P,) intra-province sourcing
    orig: np.ndarray  #: (Fn, G) origin of the country's imports among foreign regions
    china: np.ndarray  #: (Fn, G) share of foreign users' purchases from the country
    dom: np.ndarray  #: (Fn, G) share of foreign users' purchases from their own region
    other: np.ndarray  #: (Fn, G) share from the other foreign regions


def _sourcing(rng: np.random.Generator, chi: np.ndarray, foreign: ForeignRegions) -> _Sourcing:
    """Draw the sourcing structure for foreign China-sourcing levels ``chi``."""
    P, G = len(PROVINCES), len(SECTORS)
    T = _technology(np.random.default_rng(rng.integers(2**32)))
    struct = np.clip(rng.lognormal(0.0, 0.3, size=(P + len(foreign.codes), G)), 0.5, 2.0)
    size = np.concatenate([PROV_SIZE / PROV_SIZE.sum() * CHINA_FD, foreign.fd])
    cap = size[:, None] * struct
    capP = cap[:P] / cap[:P].sum(axis=0)
    w = capP * PROV_COAST[:, None]
    w /= w.sum(axis=0)
    m_imp = capP * rng.uniform(0.8, 1.25, size=(P, G))
    m_imp /= m_imp.sum(axis=0)
    rho = rng.uniform(0.3, 0.6, size=P)
    orig = cap[P:] / cap[P:].sum(axis=0)
    china = chi[:, None] * TRADABLE[None, :]
    dom = np.where(TRADABLE[None, :] < 0.1, 0.98, foreign.home[:, None] * np.ones_like(china))
    other = np.clip(1.0 - dom - china, 0.0, None)
    return _Sourcing(foreign, T, size, cap, capP, w, m_imp, rho, orig, china, dom, other)


def _province_mix(s: _Sourcing, p: int) -> np.ndarray:
    """``(P, G)`` shares of each province in province ``p``'s domestic purchases."""
    mix = s.capP.copy()
    mix[p] = 0.0
    mix = mix / mix.sum(axis=0) * (1 - s.rho[p])
    mix[p] = s.rho[p]
    return mix


def _foreign_mix(s: _Sourcing, S: int) -> np.ndarray:
    """``(Fn - 1, G)`` shares of the other foreign regions in foreign region ``S``'s purchases."""
    mix = np.delete(s.cap[len(PROVINCES) :], S, axis=0)
    return mix / mix.sum(axis=0) * s.other[S]


def _coefficients(rng: np.random.Generator, s: _Sourcing) -> tuple[np.ndarray, np.ndarray]:
    """Input coefficients ``L[(r, i), (c, j)]`` and the import coefficients of the country."""
    P, Fn, G = len(PROVINCES), len(s.foreign.codes), len(SECTORS)
    L = np.zeros((P + Fn, G, P + Fn, G))
    for p in range(P):  # province users
        L[:P, :, p, :] = (_province_mix(s, p) * (1.0 - IMPORT_SHARE))[:, :, None] * s.T[None]
    # imports: Z[(R,i),(p,j)] = m[p,i] * IMP[i] T[i,j] orig[R,i] * sum_q x[q,j]
    imp_coef = (IMPORT_SHARE[:, None] * s.T)[None, :, :] * s.orig[:, :, None]  # (Fn, G, G)
    L[P:, :, :P, :] = imp_coef[:, :, None, :]
    for S in range(Fn):
        f = P + S
        T_S = s.T * rng.uniform(0.9, 1.1)
        L[P:, :, f, :][np.arange(Fn) != S] = _foreign_mix(s, S)[:, :, None] * T_S[None]
        L[f, :, f, :] = s.dom[S][:, None] * T_S
        L[:P, :, f, :] = (s.w * s.china[S])[:, :, None] * T_S[None]
    return L, imp_coef


def _final_demand(rng: np.random.Generator, s: _Sourcing) -> np.ndarray:
    """Final demand ``Y[(r, i), (c, k)]`` of every region's categories."""
    P, Fn, G, K = len(PROVINCES), len(s.foreign.codes), len(SECTORS), len(CATEGORIES)
    Y = np.zeros((P + Fn, G, P + Fn, K))
    fd_comp = PHI / PHI.sum(axis=1, keepdims=True) * CAT_SHARE[:, None]  # (K, G)
    inv_sign = rng.uniform(-0.6, 1.0, size=(P + Fn, G))
    for c in range(P + Fn):
        demand = s.size[c] * fd_comp.T  # (G, K)
        demand[:, 3] *= inv_sign[c]
        if c < P:
            Y[:P, :, c, :] = (_province_mix(s, c) * (1.0 - IMPORT_SHARE))[:, :, None] * demand[None]
        else:
            S = c - P
            Y[P:, :, c, :][np.arange(Fn) != S] = _foreign_mix(s, S)[:, :, None] * demand[None]
            Y[c, :, c, :] = s.dom[S][:, None] * demand
            Y[:P, :, c, :] = (s.w * s.china[S])[:, :, None] * demand[None]
    china_fd = (
        sum(s.size[p] * fd_comp.T for p in range(P))
        * np.where(np.arange(K) == 3, inv_sign[:P].mean(), 1.0)[None, :]
    )
    ym = (IMPORT_SHARE[:, None] * china_fd)[None] * s.orig[:, :, None]  # (Fn, G, K)
    Y[P:, :, :P, :] = ym[:, :, None, :] * s.m_imp.T[None, :, :, None]
    return Y


def _flows(
    L: np.ndarray, Y: np.ndarray, imp_coef: np.ndarray, s: _Sourcing
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Z``, ``Y`` and ``x`` as matrices: outputs solve ``x = L x + y``, then row sums."""
    P, (R, G), m = len(PROVINCES), L.shape[:2], Y.shape[2] * Y.shape[3]
    L2, Y2 = L.reshape(R * G, R * G), Y.reshape(R * G, m)
    X4 = np.linalg.solve(np.eye(R * G) - L2, Y2.sum(axis=1)).reshape(R, G)
    Z = L * X4[None, None, :, :]
    Xc = X4[:P].sum(axis=0)
    Z[P:, :, :P, :] = (
        imp_coef[:, :, None, :] * Xc[None, None, None, :] * s.m_imp.T[None, :, :, None]
    )
    Z2 = Z.reshape(R * G, R * G)
    return Z2, Y2, Z2.sum(axis=1) + Y2.sum(axis=1)


def _emissions(
    rng: np.random.Generator, x: np.ndarray, intensity: np.ndarray, co2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Production emissions ``F`` and direct household emissions ``F_Y``, scaled to totals.

    ``co2`` holds the foreign regions' totals.
    """
    P, R, G, K = len(PROVINCES), len(PROVINCES) + len(co2), len(SECTORS), len(CATEGORIES)
    fac = np.ones((R, G))
    fac[:P] = PROV_COAL[:, None] ** 0.5 * rng.uniform(0.9, 1.1, size=(P, G))
    fac[:P, SECTORS.index("electricity_heat")] = PROV_COAL * rng.uniform(0.9, 1.1, size=P)
    F = intensity[None, :] * fac * x.reshape(R, G)
    F[:P] *= CHINA_CO2 / F[:P].sum()
    F[P:] *= (co2 / F[P:].sum(axis=1))[:, None]
    F_Y = np.zeros((R, K))
    F_Y[:, 0] = np.concatenate([PROV_SIZE / PROV_SIZE.sum() * CHINA_FY, 0.08 * co2])
    return F.reshape(-1), F_Y.reshape(-1)


def _build_true(
    rng: np.random.Generator, chi: np.ndarray, intensity: np.ndarray, foreign: ForeignRegions
) -> MRIO:
    """Build the true nested table for foreign China-sourcing levels ``chi``.

    The steps draw from ``rng`` in this order: sourcing, coefficients, final
    demand, emissions.
    """
    s = _sourcing(rng, chi, foreign)
    L, imp_coef = _coefficients(rng, s)
    Z, Y, x = _flows(L, _final_demand(rng, s), imp_coef, s)
    F, F_Y = _emissions(rng, x, intensity, foreign.co2)
    rows, cols = _labels(foreign.codes)
    return MRIO(Z=Z, Y=Y, x=x, F=F, F_Y=F_Y, rows=rows, fd_columns=cols, stressor="CO2", unit="t")


def _export_driven(true: MRIO) -> tuple[np.ndarray, np.ndarray]:
    """China's export-driven CO2 by foreign consumer and by producing sector.

    With today's 12 foreign regions through :func:`pipeline.mrio.engine.attribute`,
    as the demo always has (its tables stay the same bit for bit); with more, from
    two solves of one LU factorization (:func:`_export_driven_direct`), the same
    numbers to rounding at a fraction of the cost.
    """
    from pipeline.mrio.engine import attribute

    if len(true.regions) - len(PROVINCES) != DEFAULT_FOREIGN:
        return _export_driven_direct(true)
    da = attribute(true, regions=list(PROVINCES)).sel(consumer=list(true.regions[len(PROVINCES) :]))
    return (
        da.sum(("region", "sector", "category")).values,
        da.sum(("region", "consumer", "category")).values,
    )


def _export_driven_direct(true: MRIO) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_export_driven` from ``f (I - A)^-1 y`` with ``f`` zero outside China.

    By consumer: the provinces' CO2 multipliers ``v = f L`` (one transposed solve)
    times each foreign consumer's final demand; by sector: ``f`` times the output
    ``L y`` driven by all foreign final demand (one solve).
    """
    P, G, K = len(PROVINCES), len(SECTORS), len(CATEGORIES)
    f = np.zeros(true.n)
    f[: P * G] = true.F[: P * G] / true.x[: P * G]
    lu = scipy.linalg.lu_factor(np.eye(true.n) - true.Z / true.x[None, :])
    y = true.Y[:, P * K :].reshape(true.n, -1, K).sum(axis=2)  # (n, foreign consumers)
    by_consumer = scipy.linalg.lu_solve(lu, f, trans=1) @ y
    driven = f * scipy.linalg.lu_solve(lu, y.sum(axis=1))
    return by_consumer, driven[: P * G].reshape(P, G).sum(axis=0)


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
    regions = [COUNTRY, *true.regions[P:]]
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


def _calibrate(seed: int, calibrate: int, foreign: ForeignRegions) -> tuple[np.ndarray, np.ndarray]:
    """China-sourcing levels and sector intensities hitting the synthetic targets.

    ``calibrate`` rounds adjust the China-sourcing levels of foreign users toward
    the target shares of China's export-driven CO2 by foreign consumer; the
    power/heat and metal smelting intensities are then set to hit their shares.
    """
    chi = foreign.chi0.copy()
    intensity = INTENSITY.copy()
    for _ in range(calibrate):
        true = _build_true(np.random.default_rng(seed), chi, intensity, foreign)
        by_cons, _ = _export_driven(true)
        chi = np.clip(chi * (foreign.target / (by_cons / by_cons.sum())), 1e-4, 0.65)
    # attribution is linear in each sector's intensity and x does not depend on it:
    # solve for power/heat and metal smelting intensities hitting their shares exactly
    true = _build_true(np.random.default_rng(seed), chi, intensity, foreign)
    _, by_sec = _export_driven(true)
    e, ms = SECTORS.index("electricity_heat"), SECTORS.index("metal_smelting")
    rest = by_sec.sum() - by_sec[e] - by_sec[ms]
    total = rest / (1.0 - TARGET_POWER - TARGET_METAL)
    intensity[e] *= TARGET_POWER * total / by_sec[e]
    intensity[ms] *= TARGET_METAL * total / by_sec[ms]
    return chi, intensity


def make_demo_tables(
    *, seed: int = 2012, calibrate: int = 5, foreign: int = DEFAULT_FOREIGN
) -> DemoTables:
    """Build the synthetic demo tables, deterministically from ``seed``.

    Parameters
    ----------
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    calibrate : int
        Rounds adjusting the China-sourcing shares of foreign users toward the
        synthetic export-driven CO2 shares by foreign consumer; the power/heat and
        metal smelting intensities are then set to hit their synthetic shares.
    foreign : int
        Number of foreign regions, 12 (today's demo) to 189; see
        :func:`pipeline.demo.world.foreign_regions`.

    Returns
    -------
    DemoTables
        All numbers synthetic.
    """
    regions = foreign_regions(foreign)
    chi, intensity = _calibrate(seed, calibrate, regions)
    true = _build_true(np.random.default_rng(seed), chi, intensity, regions)
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
