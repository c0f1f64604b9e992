r"""Nest a subnational (provincial) table into a global MRIO.

The provinces of a subnational table replace the block of one ``country`` of the
global table. Notation: ``c`` the country, ``p, q`` provinces, ``R, S`` foreign
regions, ``i, j`` sectors (global classification), ``k`` final-demand categories;
subscript ``g`` = global table, ``sub`` = subnational table, ``n`` = nested result.

1. **Sector concordance.** A table ``sub_sector, global_sector, weight`` defines
   $C_{s i}$; each sub sector's weights must sum to 1 (below 1 it *loses output*,
   above 1 it *double counts*). With the row map
   $M_{(p,s),(p,i)} = C_{s i}$ the subnational table is converted to the global
   classification: $x' = M^\top x$, $Z' = M^\top Z M$, $Y' = M^\top Y$, and likewise
   exports, imports and $F$. Since $M\mathbf 1 = \mathbf 1$ the row balance
   $Z'\mathbf 1 + Y'\mathbf 1 + e' = x'$ is preserved. Without a concordance the
   sector labels must match those of ``country`` exactly.
   **Totals check:** $\sum x'$ must be within ``total_rtol`` (default 10 %) of the
   global country block's $\sum_i x_g[(c,i)]$; a larger gap usually means other
   units, prices or years. Within it, the subnational totals replace the country's.
2. **Exports (global table is the benchmark for international trade).**
   $EX_g[i] = \sum_{(S,j)} Z_g[(c,i),(S,j)] + \sum_{(S,k)} Y_g[(c,i),(S,k)]$ over
   foreign $S$; the provincial exports are rescaled to it,
   $EX'[p,i] = EX_{sub}[p,i]\, EX_g[i] / \sum_q EX_{sub}[q,i]$ (if
   $\sum_q EX_{sub}[q,i]=0 < EX_g[i]$, split by province output share of $i$).
   The factors $EX_g[i]/\sum_q EX_{sub}[q,i]$ are reported.
3. **Province → foreign.** $Z_n[(p,i),(S,j)] = EX'[p,i]\,Z_g[(c,i),(S,j)]/EX_g[i]$ and
   $Y_n[(p,i),(S,k)] = EX'[p,i]\,Y_g[(c,i),(S,k)]/EX_g[i]$: every province ships the
   country's destination mix of product $i$ (assumption).
4. **Foreign → province.** With import shares
   $m[p,i] = imports[p,i] / \sum_q imports[q,i]$ (fallback: province output share of
   $i$, then province share of total output),
   $Z_n[(R,i),(p,j)] = m[p,i]\,Z_g[(R,i),(c,j)]$ and
   $Y_n[(R,i),(p,k)] = m[p,i]\,Y_g[(R,i),(c,k)]$. Assumption: a province's share of
   the country's imports of product $i$ is the same for every using sector and
   final-demand category, and the same for every origin region $R$.
5. **Province → province** is the (converted) subnational $Z'$, $Y'$;
   **foreign → foreign** is unchanged, so foreign rows and columns keep their totals.
6. **Rebalancing.** The block $B = [Z'_{pp}\; Y'_{pp}]$ is adjusted by RAS (the GRAS
   variant of Junius & Oosterhaven (2003) / Lenzen et al. (2007), so that negative
   inventory-change cells are allowed): $B^* = \hat r P \hat s - \hat r^{-1} N \hat s^{-1}$
   with $B = P - N$, $P, N \ge 0$, to row targets
   $u = x' - \sum_{(S,j)} Z_n[\cdot,(S,j)] - \sum_{(S,k)} Y_n[\cdot,(S,k)] = x' - EX'$
   and column targets $v = B^\top\mathbf 1 \cdot \sum u / \sum B^\top\mathbf 1$ (the
   subnational column sums, scaled so the totals agree). The iteration ends with a
   row step, so province rows satisfy $Z\mathbf 1 + Y\mathbf 1 = x'$ to ``ras_tol``.
   When the subnational exports already equal the global ones, $u = B\mathbf 1$ and
   RAS changes nothing.
7. **Layout.** Foreign regions keep their order; the country's rows (and final-demand
   columns) are replaced in place by provinces x sectors (provinces x categories).
   $F$ of provinces comes from the subnational table, of foreign regions from the
   global one; ``F_Y`` of province columns comes from the subnational ``F_Y`` if it
   has one, else 0 (the country's direct final-demand emissions are then dropped and
   reported as ``dropped_F_Y``). The result is validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.errors import ConcordanceError, MRIOError
from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES, SubnationalTable, fmt_label

_TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class NestingReport:
    """What :func:`nest` did.

    Attributes
    ----------
    country : str
        The replaced country.
    provinces : tuple of str
        The provinces that replaced it.
    iterations : int
        RAS iterations (0 when the tables were already consistent).
    max_rel_adjustment, mean_rel_adjustment : float
        Largest and mean ``|B* - B| / |B|`` over non-zero cells of the
        province→province block.
    export_scaling_min, export_scaling_max : float
        Range of ``EX_g[i] / sum_p EX_sub[p, i]`` over products the provinces export.
    max_row_imbalance : float
        Largest ``|x - Z·1 - Y·1| / x`` of the nested table.
    dropped_F_Y : float
        The country's direct final-demand emissions not carried over (0 if the
        subnational table has ``F_Y``).
    output_ratio : float
        Total output of the subnational table over that of the global country
        block (checked against ``total_rtol``).
    """

    country: str
    provinces: tuple[str, ...]
    iterations: int
    max_rel_adjustment: float
    mean_rel_adjustment: float
    export_scaling_min: float
    export_scaling_max: float
    max_row_imbalance: float
    dropped_F_Y: float = 0.0
    output_ratio: float = 1.0


# ----------------------------------------------------------------------------- concordance
def _positions(known: Sequence[str], wanted: pd.Series, message: str) -> np.ndarray:
    """Positions of ``wanted`` in ``known``; raise ``message`` naming the first unknown."""
    positions = pd.Index(known).get_indexer(wanted)
    if (positions < 0).any():
        bad = wanted.iloc[int(np.flatnonzero(positions < 0)[0])]
        raise ConcordanceError(message.format(bad))
    return positions


def concordance_matrix(
    sub_sectors: tuple[str, ...],
    global_sectors: tuple[str, ...],
    concordance: pd.DataFrame | None,
) -> np.ndarray:
    """Return ``C`` (len(sub_sectors) x len(global_sectors)); rows sum to 1.

    Parameters
    ----------
    sub_sectors : tuple of str
        Sectors of the subnational table.
    global_sectors : tuple of str
        Sectors of the country in the global table.
    concordance : DataFrame or None
        Columns ``sub_sector, global_sector, weight``; None means identity.

    Raises
    ------
    ConcordanceError
        Missing sectors, unknown global sectors, weights not summing to 1.
    """
    if concordance is None:
        missing = [s for s in global_sectors if s not in sub_sectors]
        extra = [s for s in sub_sectors if s not in global_sectors]
        if missing or extra:
            raise ConcordanceError(
                "without a sector concordance the sector labels must match: subnational table "
                f"lacks {missing[:5]} and has extra {extra[:5]}; pass sector_concordance"
            )
        concordance = pd.DataFrame(
            {"sub_sector": list(sub_sectors), "global_sector": list(sub_sectors), "weight": 1.0}
        )
    need = {"sub_sector", "global_sector", "weight"}
    if not need <= set(concordance.columns):
        raise ConcordanceError(
            f"[mrio] sector_concordance needs columns sub_sector,global_sector,weight; got "
            f"{', '.join(map(str, concordance.columns))}"
        )
    cc = concordance.astype({"sub_sector": str, "global_sector": str})
    w = pd.to_numeric(cc["weight"], errors="coerce").to_numpy(np.float64)
    if not np.all(np.isfinite(w) & (w >= 0)):
        k = int(np.flatnonzero(~(np.isfinite(w) & (w >= 0)))[0])
        raise ConcordanceError(
            f"[mrio] sector_concordance: weight {cc['weight'].iloc[k]!r} of sub sector "
            f"{cc['sub_sector'].iloc[k]!r} is not a non-negative number; fix it"
        )
    gi = _positions(
        global_sectors,
        cc["global_sector"],
        "[mrio] sector_concordance maps to global sector {!r}, which the country has not "
        "in the global table; fix the concordance",
    )
    si = _positions(
        sub_sectors,
        cc["sub_sector"],
        "[mrio] sector_concordance lists sub sector {!r}, which the subnational "
        "table has not; drop the row",
    )
    C = np.zeros((len(sub_sectors), len(global_sectors)))
    np.add.at(C, (si, gi), w)
    sums = C.sum(axis=1)
    for s, tot in zip(sub_sectors, sums, strict=True):
        if tot == 0:
            raise ConcordanceError(
                f"sub sector {s!r} is missing from [mrio] sector_concordance; add rows for it"
            )
        if abs(tot - 1.0) > 1e-9:
            what = "loses output" if tot < 1 else "double counts"
            raise ConcordanceError(
                f"[mrio] sector_concordance: weights of sub sector {s!r} sum to {tot:.6g}, "
                f"so it {what}; make them sum to 1"
            )
    return C


def _row_map(sub: SubnationalTable, C: np.ndarray, provinces: tuple[str, ...]) -> sp.csr_array:
    """``M[(p, s), (p, i)] = C[s, i]`` as a sparse (n_sub x P*G) matrix."""
    G = C.shape[1]
    p_idx = pd.Index(provinces).get_indexer(sub.rows.get_level_values(0))
    s_idx = pd.Index(sub.sectors).get_indexer(sub.rows.get_level_values(1))
    rr, gg = np.nonzero(C[s_idx])
    return sp.csr_array(
        (C[s_idx[rr], gg], (rr, p_idx[rr] * G + gg)), shape=(len(sub.rows), len(provinces) * G)
    )


def _fd_map(
    sub: SubnationalTable, provinces: tuple[str, ...], cats: tuple[str, ...]
) -> sp.csr_array:
    """Permutation ``(p, k) -> p*K + k`` as a sparse (m_sub x P*K) matrix."""
    pi = pd.Index(provinces).get_indexer(sub.fd_columns.get_level_values(0))
    ki = pd.Index(cats).get_indexer(sub.fd_columns.get_level_values(1))
    m = len(sub.fd_columns)
    return sp.csr_array(
        (np.ones(m), (np.arange(m), pi * len(cats) + ki)), shape=(m, len(provinces) * len(cats))
    )


# ----------------------------------------------------------------------------- GRAS
def _gras_step(p: np.ndarray, n: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Solve ``p z - n / z = t`` for ``z > 0`` elementwise (1 where undetermined)."""
    z = np.ones_like(t)
    pos = p > 0
    z[pos] = (t[pos] + np.sqrt(t[pos] ** 2 + 4.0 * p[pos] * n[pos])) / (2.0 * p[pos])
    neg = ~pos & (n > 0) & (t < 0)
    z[neg] = -n[neg] / t[neg]
    return z


def gras(
    B: np.ndarray, u: np.ndarray, v: np.ndarray, *, tol: float = 1e-10, max_iter: int = 1000
) -> tuple[np.ndarray, int]:
    """Generalized RAS: scale ``B`` (may hold negatives) to row sums ``u``, column sums ``v``.

    Parameters
    ----------
    B : ndarray, shape (r, c)
        Prior matrix.
    u : ndarray, shape (r,)
        Row targets.
    v : ndarray, shape (c,)
        Column targets (``v.sum()`` should equal ``u.sum()``).
    tol : float
        Convergence: max relative row and column error.
    max_iter : int
        Iteration limit.

    Returns
    -------
    (ndarray, int)
        The adjusted matrix and the number of iterations (0 if ``B`` already fits).

    Raises
    ------
    MRIOError
        If it does not converge within ``max_iter``.
    """
    P = np.where(B > 0, B, 0.0)
    N = np.where(B < 0, -B, 0.0)
    r = np.ones(B.shape[0])
    s = np.ones(B.shape[1])

    def errors(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        re = np.abs(X.sum(axis=1) - u) / np.maximum(np.abs(u), _TINY)
        ce = np.abs(X.sum(axis=0) - v) / np.maximum(np.abs(v), _TINY)
        re[(u == 0) & (X.sum(axis=1) == 0)] = 0.0
        ce[(v == 0) & (X.sum(axis=0) == 0)] = 0.0
        return re, ce

    X = B
    re, ce = errors(X)
    it = 0
    while (re.max(initial=0) > tol or ce.max(initial=0) > tol) and it < max_iter:
        it += 1
        s = _gras_step(r @ P, (1.0 / r) @ N, v)
        r = _gras_step(P @ s, N @ (1.0 / s), u)
        X = r[:, None] * P * s[None, :] - N / (r[:, None] * s[None, :])
        re, ce = errors(X)
    if re.max(initial=0) > tol or ce.max(initial=0) > tol:
        i = int(np.argmax(re))
        raise MRIOError(
            f"RAS did not converge in {max_iter} iterations (row error {re.max():.3g}, column "
            f"error {ce.max():.3g}, worst row #{i}); check the provincial table or raise max_iter"
        )
    return X, it


# ----------------------------------------------------------------------------- nest
def _layout(global_labels: pd.MultiIndex, country: str, n_prov: int) -> np.ndarray:
    """Permutation from [province block, foreign block] to the nested order."""
    is_c = global_labels.get_level_values(0) == country
    order: list[int] = []
    foreign_pos = n_prov
    inserted = False
    for flag in is_c:
        if flag:
            if not inserted:
                order.extend(range(n_prov))
                inserted = True
        else:
            order.append(foreign_pos)
            foreign_pos += 1
    return np.asarray(order, dtype=np.intp)


def _shares(weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Column-normalize ``weights`` (P x G); use ``fallback`` columns where they sum to 0."""
    tot = weights.sum(axis=0)
    w = np.where(tot > 0, weights, fallback)
    tot = w.sum(axis=0)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


def _check_country_totals(
    sub_x: np.ndarray, global_x: np.ndarray, sectors: tuple, country: str, total_rtol: float
) -> float:
    """Return ``sum(sub_x) / sum(global_x)``; raise if it is off by more than ``total_rtol``.

    ``sub_x`` is the subnational output per global sector (summed over provinces),
    ``global_x`` the global table's output of ``country`` in the same sector order.
    """
    if not (np.isfinite(total_rtol) and total_rtol >= 0):
        raise MRIOError(f"total_rtol must be a finite number >= 0, got {total_rtol!r}")
    sub_total, global_total = float(sub_x.sum()), float(global_x.sum())
    if not global_total > 0:
        raise MRIOError(
            f"the global table's {country!r} block has no output ({global_total:.6g}), so "
            "there is nothing to replace; check the country code and the global table"
        )
    ratio = sub_total / global_total
    if abs(ratio - 1.0) > total_rtol * (1.0 + 1e-12):
        gap = np.abs(sub_x - global_x)
        i = int(np.argmax(gap))
        raise MRIOError(
            f"subnational total output {sub_total:.6g} differs from the global table's "
            f"{country!r} block ({global_total:.6g}) by {abs(ratio - 1.0):.1%}, more than "
            f"total_rtol = {total_rtol:g}; the largest gap is sector {sectors[i]!r} "
            f"({sub_x[i]:.6g} against {global_x[i]:.6g}). Check that both tables use the "
            "same units, prices and year, or raise [mrio] total_rtol"
        )
    return ratio


def nest(
    global_mrio: MRIO,
    sub: SubnationalTable,
    *,
    country: str,
    sector_concordance: pd.DataFrame | None = None,
    ras_tol: float = 1e-10,
    max_iter: int = 1000,
    balance_rtol: float = 1e-6,
    total_rtol: float = 0.1,
) -> tuple[MRIO, NestingReport]:
    """Replace ``country`` in ``global_mrio`` by the provinces of ``sub``.

    See the module docstring for the method and its assumptions.

    Parameters
    ----------
    global_mrio : MRIO
        Global table containing ``country``.
    sub : SubnationalTable
        Provincial table of ``country``.
    country : str
        Region label of the country in ``global_mrio``.
    sector_concordance : DataFrame, optional
        Columns ``sub_sector, global_sector, weight`` (default: identity).
    ras_tol : float
        Convergence tolerance of the RAS rebalancing.
    max_iter : int
        RAS iteration limit.
    balance_rtol : float
        Tolerance of the final validation.
    total_rtol : float
        Largest accepted relative difference between the subnational table's total
        output (after the concordance) and the global ``country`` block's. Larger
        gaps usually mean different units, price concepts or years.

    Returns
    -------
    (MRIO, NestingReport)
    """
    g = global_mrio
    if country not in g.regions:
        raise MRIOError(
            f"country {country!r} is not a region of the global MRIO; regions: "
            f"{', '.join(g.regions[:15])}"
        )
    provinces = sub.regions
    clash = sorted(set(provinces) & (set(g.regions) - {country}))
    if clash:
        raise MRIOError(
            f"subnational region {clash[0]!r} is also a foreign region of the global "
            "MRIO; rename the province"
        )
    if sub.unit != g.unit or sub.stressor != g.stressor:
        raise MRIOError(
            f"subnational stressor {sub.stressor!r} [{sub.unit}] differs from global "
            f"{g.stressor!r} [{g.unit}]; convert one table"
        )
    r_c = g.rows.get_level_values(0) == country
    k_c = g.fd_columns.get_level_values(0) == country
    G = tuple(g.rows[r_c].get_level_values(1))
    K = tuple(g.fd_columns[k_c].get_level_values(1))
    if set(K) != set(sub.categories):
        raise MRIOError(
            f"final-demand categories differ: global {country!r} has {sorted(K)}, subnational "
            f"table has {sorted(sub.categories)}; map them to the same set"
        )
    nP, nG, nK = len(provinces), len(G), len(K)
    # 1. concordance
    C = concordance_matrix(sub.sectors, G, sector_concordance)
    M = _row_map(sub, C, provinces)
    Pf = _fd_map(sub, provinces, K)
    MT = M.T
    x_p = MT @ sub.x
    Z_pp = np.asarray((MT @ sp.csr_array(sub.Z) @ M).toarray())
    Y_pp = np.asarray((MT @ sp.csr_array(sub.Y) @ Pf).toarray())
    ex_sub = (MT @ sub.exports).reshape(nP, nG)
    imp = (MT @ sub.imports).reshape(nP, nG)
    F_p = MT @ sub.F
    xs = x_p.reshape(nP, nG)
    output_ratio = _check_country_totals(xs.sum(axis=0), g.x[r_c], G, country, total_rtol)
    # global blocks
    Zg = g.Z.toarray() if sp.issparse(g.Z) else np.asarray(g.Z, dtype=np.float64)
    Yg = np.asarray(g.Y, dtype=np.float64)
    rf, kf = ~r_c, ~k_c
    Z_cf, Y_cf = Zg[np.ix_(r_c, rf)], Yg[np.ix_(r_c, kf)]
    Z_fc, Y_fc = Zg[np.ix_(rf, r_c)], Yg[np.ix_(rf, k_c)]
    # 2. exports
    EX_g = Z_cf.sum(axis=1) + Y_cf.sum(axis=1)
    ex_tot = ex_sub.sum(axis=0)
    orphan = np.flatnonzero((EX_g > 0) & (ex_tot == 0) & (xs.sum(axis=0) == 0))
    if orphan.size:
        raise MRIOError(
            f"global table has exports of ({country!r}, {G[orphan[0]]!r}) but no province "
            "produces that sector; fix the concordance or the provincial table"
        )
    frac = _shares(ex_sub, xs) * np.where(EX_g > 0, 1.0, 0.0)  # EX'[p,i] / EX_g[i]
    has = ex_tot > 0
    scale = np.divide(EX_g, ex_tot, out=np.ones_like(EX_g), where=has)
    # 3. province -> foreign
    Z_pf = (frac.reshape(-1)[:, None]) * np.tile(Z_cf, (nP, 1))
    Y_pf = (frac.reshape(-1)[:, None]) * np.tile(Y_cf, (nP, 1))
    # 4. foreign -> province
    size = np.broadcast_to(xs.sum(axis=1, keepdims=True), xs.shape)
    m_sh = _shares(imp, _shares(xs, size))
    gi = pd.Index(G).get_indexer(g.rows[rf].get_level_values(1))
    total_share = size[:, 0] / max(size[:, 0].sum(), _TINY)
    mf = np.where(gi[:, None] >= 0, m_sh.T[np.maximum(gi, 0)], total_share[None, :])
    Z_fp = (mf[:, :, None] * Z_fc[:, None, :]).reshape(-1, nP * nG)
    Y_fp = (mf[:, :, None] * Y_fc[:, None, :]).reshape(-1, nP * nK)
    # 6. rebalance province -> province
    p_rows = pd.MultiIndex.from_product([provinces, G], names=list(ROW_NAMES))
    u = x_p - Z_pf.sum(axis=1) - Y_pf.sum(axis=1)
    if (u < -1e-9 * np.maximum(x_p, _TINY)).any():
        i = int(np.argmin(u / np.maximum(x_p, _TINY)))
        raise MRIOError(
            f"province row {fmt_label(p_rows[i])}: exports rescaled to the global table "
            f"({x_p[i] - u[i]:.6g}) exceed its output x={x_p[i]:.6g}; check exports.csv"
        )
    u = np.maximum(u, 0.0)
    B = np.hstack([Z_pp, Y_pp])
    v0 = B.sum(axis=0)
    v = v0 * (u.sum() / v0.sum()) if v0.sum() != 0 else v0
    B2, iters = gras(B, u, v, tol=ras_tol, max_iter=max_iter)
    nz = B != 0
    rel = np.abs(B2[nz] - B[nz]) / np.abs(B[nz])
    Z_pp, Y_pp = B2[:, : nP * nG], B2[:, nP * nG :]
    # 7. assemble [provinces; foreign] then permute into the global order
    Z_o = np.block([[Z_pp, Z_pf], [Z_fp, Zg[np.ix_(rf, rf)]]])
    Y_o = np.block([[Y_pp, Y_pf], [Y_fp, Yg[np.ix_(rf, kf)]]])
    x_o = np.concatenate([x_p, g.x[rf]])
    F_o = np.concatenate([F_p, g.F[rf]])
    ro = _layout(g.rows, country, nP * nG)
    co = _layout(g.fd_columns, country, nP * nK)
    p_cols = pd.MultiIndex.from_product([provinces, K], names=list(FD_NAMES))
    rows = p_rows.append(g.rows[rf])[ro]
    cols = p_cols.append(g.fd_columns[kf])[co]
    rows = pd.MultiIndex.from_tuples(list(rows), names=list(ROW_NAMES))
    cols = pd.MultiIndex.from_tuples(list(cols), names=list(FD_NAMES))
    F_Y = None
    dropped = 0.0
    if g.F_Y is not None or sub.F_Y is not None:
        fy_p = Pf.T @ sub.F_Y if sub.F_Y is not None else np.zeros(nP * nK)
        fy_f = g.F_Y[kf] if g.F_Y is not None else np.zeros(int(kf.sum()))
        if g.F_Y is not None and sub.F_Y is None:
            dropped = float(g.F_Y[k_c].sum())
        F_Y = np.concatenate([fy_p, fy_f])[co]
    Z_n, Y_n = Z_o[np.ix_(ro, ro)], Y_o[np.ix_(ro, co)]
    x_n = x_o[ro]
    nested = MRIO(
        Z=Z_n,
        Y=Y_n,
        x=x_n,
        F=F_o[ro],
        F_Y=F_Y,
        rows=rows,
        fd_columns=cols,
        stressor=g.stressor,
        unit=g.unit,
    )
    nested.validate(balance_rtol=balance_rtol, source=f"nested MRIO ({country} -> provinces)")
    imb = np.abs(x_n - Z_n.sum(axis=1) - Y_n.sum(axis=1)) / np.maximum(np.abs(x_n), _TINY)
    imb[x_n == 0] = 0.0
    report = NestingReport(
        country=country,
        provinces=provinces,
        iterations=iters,
        max_rel_adjustment=float(rel.max(initial=0.0)),
        mean_rel_adjustment=float(rel.mean()) if rel.size else 0.0,
        export_scaling_min=float(scale[has].min(initial=np.inf)) if has.any() else 1.0,
        export_scaling_max=float(scale[has].max(initial=-np.inf)) if has.any() else 1.0,
        max_row_imbalance=float(imb.max(initial=0.0)),
        dropped_F_Y=dropped,
        output_ratio=output_ratio,
    )
    return nested, report
