"""Test helper: a fully disaggregated ground truth for nesting, and its measures.

Country ``XLN`` (not first in the global order), 5 provinces, 4 sectors,
categories ``households, capital, stocks`` (stocks of ``ore`` negative
everywhere), 3 foreign regions. :func:`build_truth` builds the true table in
coefficient space, so the assumptions nesting relies on can be switched on
(exact recovery) or off (no exact recovery, but nesting must still be valid).
Used by ``test_nesting_truth.py``, ``test_nesting_customs.py`` and the nested
end-to-end study.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.mrio import MRIO, SubnationalTable

COUNTRY = "XLN"
PROV = ("XL-N", "XL-E", "XL-S", "XL-W", "XL-C")
SECT = ("crops", "ore", "steel", "grid")
CATS = ("households", "capital", "stocks")
FOREIGN = ("ALF", "BET", "GAM")
GLOBAL_ORDER = ("ALF", COUNTRY, "BET", "GAM")  # the country sits between foreign regions
NESTED_ORDER = ("ALF", *PROV, "BET", "GAM")
P, G, K, NF = len(PROV), len(SECT), len(CATS), len(FOREIGN)


@dataclass(frozen=True)
class Truth:
    """The true nested table, the global table and the subnational table derived from it.

    ``w`` is the true province share ``w[p, i, S]`` of the country's exports of ``i``
    to foreign region ``S`` (the same for every user in ``S``).
    """

    true: MRIO
    global_mrio: MRIO
    sub: SubnationalTable
    w: np.ndarray


def _simplex(rng, shape, axis, conc=2.0):
    """Random positive shares summing to 1 along ``axis``."""
    a = rng.gamma(conc, size=shape)
    return a / a.sum(axis=axis, keepdims=True)


def _supply_shares(rng, small):
    """``src[q, p, i]``: province q's share of province p's domestic use of i.

    ``small`` maps (province, sector) to a factor scaling that province's supply of
    the sector to everyone (0 = the province-sector does not exist).
    """
    src = _simplex(rng, (P, P, G), axis=0) + 2.0 * np.eye(P)[:, :, None]
    lam = np.ones((P, G))
    for (p, i), f in small.items():
        lam[PROV.index(p), SECT.index(i)] = f
    src = src * lam[:, None, :]
    return src / src.sum(axis=0, keepdims=True), lam


def build_truth(
    seed: int,
    *,
    small: dict | None = None,
    import_spread: float = 0.0,
    destinations: str = "national",
) -> Truth:
    """Build a valid true nested table.

    Parameters
    ----------
    seed : int
    small : dict, optional
        ``{(province, sector): factor}`` shrinking (0: removing) province-sectors.
    import_spread : float
        0: every province has the nation's import ratio per (product, user) (the
        proportionality assumption). > 0: ratios vary by province (lognormal sigma).
    destinations : {"national", "by_province", "by_product"}
        The province shares ``w[p, i, S]`` of exports: the same for every destination
        ("national"), ``w_p d[p, S]`` normalized ("by_province"), or arbitrary.
    """
    rng = np.random.default_rng(seed)
    small = small or {}
    src, lam = _supply_shares(rng, small)
    tech = rng.uniform(0.02, 0.12, size=(P, G, G))  # province technology tech[p, i, j]
    tech[lam == 0] = 0.0  # a removed province-sector has no inputs either
    rho = rng.uniform(0.1, 0.5, size=(G, G + K))  # imports / domestic use, per (i, user)
    rho_p = np.minimum(rho[None] * rng.lognormal(0.0, import_spread, size=(P, G, G + K)), 1.5)
    orig = _simplex(rng, (NF, G, G + K), axis=0)  # origin mix of imports per (i, user)
    if destinations == "national":
        w = np.repeat(_simplex(rng, (P, G), axis=0)[:, :, None], NF, axis=2)
    elif destinations == "by_province":
        wp, d = rng.uniform(0.5, 2.0, size=P), rng.uniform(0.05, 3.0, size=(P, NF))
        w = np.repeat((wp[:, None] * d)[:, None, :], G, axis=1)
        w /= w.sum(axis=0, keepdims=True)
    else:
        w = _simplex(rng, (P, G, NF), axis=0, conc=0.7)
    w = w * lam[:, :, None]
    w /= w.sum(axis=0, keepdims=True)
    fd = rng.uniform(50.0, 150.0, size=(P, G, K))
    fd[:, SECT.index("ore"), CATS.index("stocks")] *= -0.05  # negative inventory change
    fd[:, :, CATS.index("stocks")] *= 0.05
    A, Y = _coefficients(rng, src, tech, rho_p, orig, w, fd)
    return _flows(rng, A, Y, w)


def _coefficients(rng, src, tech, rho_p, orig, w, fd):
    """A (R, G, R, G) and Y (R, G, R, K) in the internal order [provinces, foreign]."""
    R = P + NF
    A, Y = np.zeros((R, G, R, G)), np.zeros((R, G, R, K))
    dom = 0.7  # domestic share of intermediate and final use before imports
    for p in range(P):
        use = tech[p] * dom  # (i, j) domestic use per unit output of (p, j)
        A[:P, :, p, :] = src[:, p, :, None] * use[None]
        A[P:, :, p, :] = (rho_p[p, :, :G] * use)[None] * orig[:, :, :G]
        Y[:P, :, p, :] = src[:, p, :, None] * fd[p][None]
        Y[P:, :, p, :] = (rho_p[p, :, G:] * fd[p])[None] * orig[:, :, G:]
    for s in range(NF):
        S = P + s
        techS = rng.uniform(0.03, 0.15, size=(G, G))
        chi = rng.uniform(0.05, 0.3, size=G)  # share sourced from the country
        mix = _simplex(rng, (NF, G), axis=0) + 2.0 * np.eye(NF)[:, s, None]
        mix = mix / mix.sum(axis=0) * (1.0 - chi)
        A[P:, :, S, :] = mix[:, :, None] * techS[None]
        A[:P, :, S, :] = (w[:, :, s] * chi)[:, :, None] * techS[None]
        fdS = rng.uniform(300.0, 900.0, size=(G, K))
        fdS[:, CATS.index("stocks")] *= 0.03
        Y[P:, :, S, :] = mix[:, :, None] * fdS[None]
        Y[:P, :, S, :] = (w[:, :, s] * chi)[:, :, None] * fdS[None]
    return A, Y


def _labels(regions, level2, names):
    return pd.MultiIndex.from_product([list(regions), list(level2)], names=names)


def _order(regions_internal, regions_wanted, width):
    """Row permutation from the internal region order to ``regions_wanted``."""
    pos = [regions_internal.index(r) for r in regions_wanted]
    return np.concatenate([np.arange(p * width, (p + 1) * width) for p in pos])


def _flows(rng, A4, Y4, w):
    """Solve the true table, reorder it and derive the global and subnational tables."""
    R = P + NF
    n, m = R * G, R * K
    A, Yi = A4.reshape(n, n), Y4.reshape(n, m)
    x = np.linalg.solve(np.eye(n) - A, Yi.sum(axis=1))
    x[np.abs(x) < 1e-9 * x.max()] = 0.0
    assert (x >= 0).all()
    Z = A * x[None, :]
    x = Z.sum(axis=1) + Yi.sum(axis=1)
    F = rng.uniform(0.2, 2.0, size=G)[None, :].repeat(R, 0).reshape(-1) * x
    F_Y = np.where(np.arange(m) % K == 0, 5.0, 0.0)
    internal = [*PROV, *FOREIGN]
    ro, co = _order(internal, NESTED_ORDER, G), _order(internal, NESTED_ORDER, K)
    true = MRIO(
        Z=Z[np.ix_(ro, ro)],
        Y=Yi[np.ix_(ro, co)],
        x=x[ro],
        F=F[ro],
        F_Y=F_Y[co],
        rows=_labels(NESTED_ORDER, SECT, ["region", "sector"]),
        fd_columns=_labels(NESTED_ORDER, CATS, ["region", "category"]),
    ).validate(balance_rtol=1e-12, source="true table")
    return Truth(true, _aggregate(true), _subnational(true), w)


def _aggregate(true: MRIO) -> MRIO:
    """Sum the provinces of ``true`` into ``COUNTRY`` (global order ``GLOBAL_ORDER``)."""

    def agg(labels, width):
        reg = [COUNTRY if r in PROV else r for r in labels.get_level_values(0)]
        col = [GLOBAL_ORDER.index(r) * width + k % width for k, r in enumerate(reg)]
        S = np.zeros((len(labels), len(GLOBAL_ORDER) * width))
        S[np.arange(len(labels)), col] = 1.0
        return S

    Sr, Sc = agg(true.rows, G), agg(true.fd_columns, K)
    return MRIO(
        Z=Sr.T @ true.Z @ Sr,
        Y=Sr.T @ true.Y @ Sc,
        x=Sr.T @ true.x,
        F=Sr.T @ true.F,
        F_Y=Sc.T @ true.F_Y,
        rows=_labels(GLOBAL_ORDER, SECT, ["region", "sector"]),
        fd_columns=_labels(GLOBAL_ORDER, CATS, ["region", "category"]),
    ).validate(balance_rtol=1e-12, source="global table")


def _subnational(true: MRIO) -> SubnationalTable:
    """The provinces' domestic blocks plus their exports and imports columns."""
    r = np.asarray(true.rows.get_level_values(0).isin(PROV))
    c = np.asarray(true.fd_columns.get_level_values(0).isin(PROV))
    Z, Y = true.Z, true.Y
    imports = Z[np.ix_(~r, r)].reshape(-1, G, P, G).sum(axis=(0, 3))
    imports += Y[np.ix_(~r, c)].reshape(-1, G, P, K).sum(axis=(0, 3))
    return SubnationalTable(
        Z=Z[np.ix_(r, r)],
        Y=Y[np.ix_(r, c)],
        exports=Z[np.ix_(r, ~r)].sum(axis=1) + Y[np.ix_(r, ~c)].sum(axis=1),
        imports=imports.T.reshape(-1),
        x=true.x[r],
        F=true.F[r],
        F_Y=true.F_Y[c],
        rows=true.rows[r],
        fd_columns=true.fd_columns[c],
    ).validate(balance_rtol=1e-12, source="subnational table")


# ----------------------------------------------------------------------------- measures
def attribution(m: MRIO) -> np.ndarray:
    """``f ∘ (L Y)`` (n x m) computed directly with a dense inverse."""
    xs = np.where(m.x > 0, m.x, 1.0)
    A = np.where(m.x[None, :] > 0, m.Z / xs[None, :], 0.0)
    LY = np.linalg.solve(np.eye(m.n) - A, m.Y)
    return np.where(m.x > 0, m.F / xs, 0.0)[:, None] * LY


def _by(values: np.ndarray, labels, axis: int) -> np.ndarray:
    """Sum ``values`` over ``axis`` by region label (regions in ``NESTED_ORDER``)."""
    reg = np.asarray(labels.get_level_values(0))
    return np.stack([values.compress(reg == r, axis=axis).sum(axis=axis) for r in NESTED_ORDER])


def _rel(got, want):
    scale = np.abs(want)
    err = np.abs(got - want) / np.where(scale > 0, scale, 1.0)
    return float(np.where(scale > 0, err, np.abs(got) / np.abs(want).max()).max())


def errors(nested: MRIO, truth: MRIO) -> dict[str, float]:
    """Largest relative attribution errors at three levels of aggregation."""
    assert nested.rows.equals(truth.rows) and nested.fd_columns.equals(truth.fd_columns)
    a, b = attribution(nested), attribution(truth)
    cell_a, cell_b = _by(a, nested.fd_columns, 1).T, _by(b, truth.fd_columns, 1).T  # (n, R)
    prov = np.asarray(truth.rows.get_level_values(0).isin(PROV))
    return {
        "province-sector x consumer": _rel(cell_a[prov], cell_b[prov]),
        "consumer region": _rel(cell_a.sum(0), cell_b.sum(0)),
        "province x consumer": _rel(_by(cell_a, nested.rows, 0), _by(cell_b, truth.rows, 0)),
        "output by province-sector": _rel(nested.x, truth.x),
    }


def row_conservation(m: MRIO) -> float:
    """Largest ``|sum over consumers of the attribution - F| / F`` over emitting rows."""
    got = attribution(m).sum(axis=1)
    ok = m.F > 0
    return float((np.abs(got[ok] - m.F[ok]) / m.F[ok]).max())


def column_sums(m: MRIO) -> np.ndarray:
    return np.where(m.x > 0, m.Z.sum(axis=0) / np.where(m.x > 0, m.x, 1.0), 0.0)
