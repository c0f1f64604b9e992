r"""Nest a subnational (provincial) table into a global MRIO.

The provinces of a subnational table replace the block of one ``country`` of the
global table. Notation: ``c`` the country, ``p, q`` provinces, ``R, S`` foreign
regions, ``i, j`` sectors (products), ``k`` final-demand categories, ``u`` a user
(a sector ``j`` or a category ``k``); subscript ``g`` = global table, ``sub`` =
subnational table, ``n`` = nested result. Each step is one function of
:mod:`pipeline.mrio.nesting_steps` (step 1 and 7 here); a refusal names its step.

1. **Sector concordance** (:func:`convert_sectors`). ``sub_sector, global_sector,
   weight`` defines $C_{si}$ (rows sum to 1); with $M_{(p,s),(p,i)} = C_{si}$:
   $x' = M^\top x$, $Z' = M^\top Z M$, $Y' = M^\top Y$, likewise exports, imports, $F$.
   $\sum x'$ must be within ``total_rtol`` of $\sum_i x_g[(c,i)]$. A zero-output
   province-sector must have no domestic inputs.
2. **Exports** (``scale_exports``). $EX_g[i,S] = \sum_u Z_g[(c,i),(S,u)]$ (with $Y_g$),
   $EX_g[i] = \sum_S EX_g[i,S]$; $EX'[p,i] = EX_{sub}[p,i]\,EX_g[i]/\sum_q EX_{sub}[q,i]$
   (by output shares if $\sum_q EX_{sub}[q,i] = 0$).
3. **Export destinations** (``split_exports``). Default: the national destination
   mix, $Z_n[(p,i),(S,u)] = EX'[p,i]\,Z_g[(c,i),(S,u)]/EX_g[i]$ ($Y_n$ likewise).
   With customs data, $E_i[p,S]$ is GRAS-fitted from the customs prior to rows
   $EX'[p,i]$ and columns $EX_g[i,S]$; then
   $Z_n[(p,i),(S,u)] = E_i[p,S]\,Z_g[(c,i),(S,u)]/EX_g[i,S]$.
4. **Province block** (``rebalance_domestic``). $B = [Z'\;Y']$ is GRAS-fitted to rows
   $x' - EX'$ and columns $B^\top\mathbf 1$ scaled to the same total (unchanged when the
   provincial exports agree with the global ones).
5. **Imports by user** (``fit_imports``). For each product $i$ the $P\times(G+K)$
   matrix $T_i[p,u]$ of imports of $i$ by user $(p,u)$ is GRAS-fitted from the prior
   $D_i[p,u] = \sum_q B[(q,i),(p,u)]$ (domestic use) to columns
   $IMP_i[u] = \sum_R Z_g[(R,i),(c,u)]$ (or $Y_g$; exact) and rows
   $imports[p,i]\,\sum_u IMP_i[u] / \sum_q imports[q,i]$ (soft), with
   $\sum_i T_i[p,j] \le 0.999\,x'[p,j] - \sum_{(q,i)} B[(q,i),(p,j)]$.
6. **Import origins** (``split_origins``).
   $Z_n[(R,i),(p,u)] = T_i[p,u]\,Z_g[(R,i),(c,u)]/IMP_i[u]$ ($Y_n$ likewise).
7. **Layout** (:func:`assemble`). Foreign regions keep their order and their block;
   the country's rows and columns are replaced in place by provinces x sectors
   (categories). $F$, ``F_Y`` of provinces come from the subnational table (``F_Y``
   0 without one, reported as ``dropped_F_Y``). The result is validated.

Under import proportionality per user (every province has the nation's ratio
$T_i[p,u] = \rho_{iu} D_i[p,u]$ and origin mix per user) and the nation's export
destination mix (or the customs mix), the result is the true disaggregated table.
The README (section "Nesting") states the method and its assumptions in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipeline.errors import ConcordanceError, MRIOError
from pipeline.kernels.gras import gras
from pipeline.mrio import nesting_steps as steps
from pipeline.mrio.model import FD_NAMES, MRIO, ROW_NAMES, SubnationalTable
from pipeline.mrio.nesting_steps import Country, Provinces, StepInfo, step_error

__all__ = ["NestingReport", "StepInfo", "concordance_matrix", "gras", "nest"]

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
        GRAS iterations of the province block (0 when the tables were consistent).
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
    steps : tuple of StepInfo
        One per fitting step (exports or export destinations, province block,
        imports by user); see :meth:`step`.
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
    steps: tuple[StepInfo, ...] = ()

    def step(self, name: str) -> StepInfo:
        """The :class:`StepInfo` of step ``name`` (e.g. ``"imports by user"``)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no nesting step {name!r}; steps: {[s.name for s in self.steps]}")


# ----------------------------------------------------------------------------- concordance
def _positions(known: Sequence[str], wanted: pd.Series, message: str) -> np.ndarray:
    """Positions of ``wanted`` in ``known``; raise ``message`` naming the first unknown."""
    positions = pd.Index(known).get_indexer(wanted)
    if (positions < 0).any():
        bad = wanted.iloc[int(np.flatnonzero(positions < 0)[0])]
        raise ConcordanceError(message.format(bad))
    return positions


def _identity_concordance(sub_sectors: tuple[str, ...], global_sectors: tuple[str, ...]):
    """The identity concordance; raise ConcordanceError unless the labels match."""
    missing = [s for s in global_sectors if s not in sub_sectors]
    extra = [s for s in sub_sectors if s not in global_sectors]
    if missing or extra:
        raise ConcordanceError(
            "without a sector concordance the sector labels must match: subnational table "
            f"lacks {missing[:5]} and has extra {extra[:5]}; pass sector_concordance"
        )
    return pd.DataFrame(
        {"sub_sector": list(sub_sectors), "global_sector": list(sub_sectors), "weight": 1.0}
    )


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
        concordance = _identity_concordance(sub_sectors, global_sectors)
    need = {"sub_sector", "global_sector", "weight"}
    if not need <= set(concordance.columns):
        raise ConcordanceError(
            f"`sector_concordance` needs columns sub_sector,global_sector,weight; got "
            f"{', '.join(map(str, concordance.columns))}"
        )
    cc = concordance.astype({"sub_sector": str, "global_sector": str})
    w = pd.to_numeric(cc["weight"], errors="coerce").to_numpy(np.float64)
    if not np.all(np.isfinite(w) & (w >= 0)):
        k = int(np.flatnonzero(~(np.isfinite(w) & (w >= 0)))[0])
        raise ConcordanceError(
            f"`sector_concordance`: weight {cc['weight'].iloc[k]!r} of sub sector "
            f"{cc['sub_sector'].iloc[k]!r} is not a non-negative number; fix it"
        )
    gi = _positions(
        global_sectors,
        cc["global_sector"],
        "`sector_concordance` maps to global sector {!r}, which the country has not "
        "in the global table; fix the concordance",
    )
    si = _positions(
        sub_sectors,
        cc["sub_sector"],
        "`sector_concordance` lists sub sector {!r}, which the subnational "
        "table has not; drop the row",
    )
    C = np.zeros((len(sub_sectors), len(global_sectors)))
    np.add.at(C, (si, gi), w)
    _check_weight_sums(C, sub_sectors)
    return C


def _check_weight_sums(C: np.ndarray, sub_sectors: tuple[str, ...]) -> None:
    """Raise ConcordanceError naming the first sub sector whose weights do not sum to 1."""
    for s, tot in zip(sub_sectors, C.sum(axis=1), strict=True):
        if tot == 0:
            raise ConcordanceError(
                f"sub sector {s!r} is missing from `sector_concordance`; add rows for it"
            )
        if abs(tot - 1.0) > 1e-9:
            what = "loses output" if tot < 1 else "double counts"
            raise ConcordanceError(
                f"`sector_concordance`: weights of sub sector {s!r} sum to {tot:.6g}, "
                f"so it {what}; make them sum to 1"
            )


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
            "same units, prices and year, or raise `total_rtol`"
        )
    return ratio


# ----------------------------------------------------------------------------- step 1
def _check_inputs(g: MRIO, sub: SubnationalTable, country: str) -> None:
    """Raise MRIOError if ``country``, the province names, units or categories clash."""
    if country not in g.regions:
        raise MRIOError(
            f"country {country!r} is not a region of the global MRIO; regions: "
            f"{', '.join(g.regions[:15])}"
        )
    clash = sorted(set(sub.regions) & (set(g.regions) - {country}))
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
    K = g.fd_columns[g.fd_columns.get_level_values(0) == country].get_level_values(1)
    if set(K) != set(sub.categories):
        raise MRIOError(
            f"final-demand categories differ: global {country!r} has {sorted(K)}, subnational "
            f"table has {sorted(sub.categories)}; map them to the same set"
        )


def _country_blocks(g: MRIO, country: str) -> Country:
    """Split the global table around ``country`` (see :class:`Country`)."""
    r_c = np.asarray(g.rows.get_level_values(0) == country)
    k_c = np.asarray(g.fd_columns.get_level_values(0) == country)
    rf, kf = ~r_c, ~k_c
    Zg = g.Z.toarray() if sp.issparse(g.Z) else np.asarray(g.Z, dtype=np.float64)
    Yg = np.asarray(g.Y, dtype=np.float64)
    dest = tuple(dict.fromkeys(g.rows[rf].get_level_values(0)))
    G = tuple(g.rows[r_c].get_level_values(1))
    prod = pd.Index(g.rows[rf].get_level_values(1))
    products = tuple(dict.fromkeys(prod))
    return Country(
        r_c=r_c,
        k_c=k_c,
        Zg=Zg,
        Yg=Yg,
        Z_cf=Zg[np.ix_(r_c, rf)],
        Y_cf=Yg[np.ix_(r_c, kf)],
        W_fc=np.hstack([Zg[np.ix_(rf, r_c)], Yg[np.ix_(rf, k_c)]]),
        dest=dest,
        dest_z=pd.Index(dest).get_indexer(g.rows[rf].get_level_values(0)),
        dest_y=pd.Index(dest).get_indexer(g.fd_columns[kf].get_level_values(0)),
        product=pd.Index(products).get_indexer(prod),
        products=products,
        in_G=pd.Index(G).get_indexer(list(products)),
    )


def convert_sectors(
    g: MRIO, sub: SubnationalTable, country: str, concordance: pd.DataFrame | None
) -> tuple[Provinces, Country]:
    """Step 1: check the inputs and convert ``sub`` to the global sector classification."""
    _check_inputs(g, sub, country)
    ctry = _country_blocks(g, country)
    G = tuple(g.rows[ctry.r_c].get_level_values(1))
    K = tuple(g.fd_columns[ctry.k_c].get_level_values(1))
    names = sub.regions
    C = concordance_matrix(sub.sectors, G, concordance)
    M = _row_map(sub, C, names)
    Pf = _fd_map(sub, names, K)
    MT = M.T
    prov = Provinces(
        names=names,
        G=G,
        K=K,
        x=MT @ sub.x,
        Z=np.asarray((MT @ sp.csr_array(sub.Z) @ M).toarray()),
        Y=np.asarray((MT @ sp.csr_array(sub.Y) @ Pf).toarray()),
        exports=(MT @ sub.exports).reshape(len(names), len(G)),
        imports=(MT @ sub.imports).reshape(len(names), len(G)),
        F=MT @ sub.F,
        F_Y=Pf.T @ sub.F_Y if sub.F_Y is not None else None,
        customs=steps.customs_prior(sub, C, ctry.dest),
    )
    inputs = prov.Z.sum(axis=0)
    lost = np.flatnonzero((prov.x == 0) & (inputs != 0))
    if lost.size:
        raise step_error(
            steps.CONVERT,
            f"{prov.label(lost[0])} has zero output but domestic inputs "
            f"{inputs[lost[0]]:.6g}, which would be lost; fix its x or its Z column",
        )
    return prov, ctry


# ----------------------------------------------------------------------------- step 7
def assemble(g: MRIO, country: str, ctry: Country, prov: Provinces, blocks) -> tuple[MRIO, float]:
    """Step 7: the nested table from ``(B2, Z_pf, Y_pf, Z_fp, Y_fp)``; and the dropped ``F_Y``."""
    B2, Z_pf, Y_pf, Z_fp, Y_fp = blocks
    rf, kf = ~ctry.r_c, ~ctry.k_c
    n = len(prov.x)
    Z_o = np.block([[B2[:, :n], Z_pf], [Z_fp, ctry.Zg[np.ix_(rf, rf)]]])
    Y_o = np.block([[B2[:, n:], Y_pf], [Y_fp, ctry.Yg[np.ix_(rf, kf)]]])
    ro = _layout(g.rows, country, n)
    co = _layout(g.fd_columns, country, B2.shape[1] - n)
    p_rows = pd.MultiIndex.from_product([prov.names, prov.G], names=list(ROW_NAMES))
    p_cols = pd.MultiIndex.from_product([prov.names, prov.K], names=list(FD_NAMES))
    rows = pd.MultiIndex.from_tuples(list(p_rows.append(g.rows[rf])[ro]), names=list(ROW_NAMES))
    cols = pd.MultiIndex.from_tuples(
        list(p_cols.append(g.fd_columns[kf])[co]), names=list(FD_NAMES)
    )
    F_Y, dropped = None, 0.0
    if g.F_Y is not None or prov.F_Y is not None:
        fy_p = prov.F_Y if prov.F_Y is not None else np.zeros(B2.shape[1] - n)
        fy_f = g.F_Y[kf] if g.F_Y is not None else np.zeros(int(kf.sum()))
        if g.F_Y is not None and prov.F_Y is None:
            dropped = float(g.F_Y[ctry.k_c].sum())
        F_Y = np.concatenate([fy_p, fy_f])[co]
    nested = MRIO(
        Z=Z_o[np.ix_(ro, ro)],
        Y=Y_o[np.ix_(ro, co)],
        x=np.concatenate([prov.x, g.x[rf]])[ro],
        F=np.concatenate([prov.F, g.F[rf]])[ro],
        F_Y=F_Y,
        rows=rows,
        fd_columns=cols,
        stressor=g.stressor,
        unit=g.unit,
    )
    return nested, dropped


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
    """Replace ``country`` in ``global_mrio`` by the provinces of ``sub`` (see the module).

    Parameters
    ----------
    global_mrio : MRIO
        Global table containing ``country``.
    sub : SubnationalTable
        Provincial table of ``country`` (optionally with ``exports_by_destination``).
    country : str
        Region label of the country in ``global_mrio``.
    sector_concordance : DataFrame, optional
        Columns ``sub_sector, global_sector, weight`` (default: identity).
    ras_tol, max_iter : float, int
        Convergence tolerance and iteration limit of the GRAS fits.
    balance_rtol : float
        Tolerance of the final validation.
    total_rtol : float
        Largest accepted relative gap between the subnational and the global
        ``country`` total output (larger gaps: other units, prices or years).

    Returns
    -------
    (MRIO, NestingReport)
    """
    g, opts = global_mrio, {"tol": ras_tol, "max_iter": max_iter}
    prov, ctry = convert_sectors(g, sub, country, sector_concordance)
    xs = prov.x.reshape(len(prov.names), len(prov.G)).sum(axis=0)
    output_ratio = _check_country_totals(xs, g.x[ctry.r_c], prov.G, country, total_rtol)
    ex, scale = steps.scale_exports(prov, ctry, country)
    Z_pf, Y_pf, ex_info = steps.split_exports(prov, ctry, ex, **opts)
    B2, dom_info = steps.rebalance_domestic(prov, Z_pf.sum(axis=1) + Y_pf.sum(axis=1), **opts)
    T, imp_info = steps.fit_imports(prov, ctry, B2, country, **opts)
    Z_fp, Y_fp = steps.split_origins(prov, ctry, T, B2)
    nested, dropped = assemble(g, country, ctry, prov, (B2, Z_pf, Y_pf, Z_fp, Y_fp))
    nested.validate(balance_rtol=balance_rtol, source=f"nested MRIO ({country} -> provinces)")
    has = prov.exports.sum(axis=0) > 0
    return nested, NestingReport(
        country=country,
        provinces=prov.names,
        iterations=dom_info.iterations,
        max_rel_adjustment=dom_info.max_rel_adjustment,
        mean_rel_adjustment=dom_info.mean_rel_adjustment,
        export_scaling_min=float(scale[has].min()) if has.any() else 1.0,
        export_scaling_max=float(scale[has].max()) if has.any() else 1.0,
        max_row_imbalance=_row_imbalance(nested),
        dropped_F_Y=dropped,
        output_ratio=output_ratio,
        steps=(ex_info, dom_info, imp_info),
    )


def _row_imbalance(m: MRIO) -> float:
    """Largest ``|x - Z·1 - Y·1| / x`` over rows with output."""
    imb = np.abs(m.x - m.Z.sum(axis=1) - m.Y.sum(axis=1)) / np.maximum(m.x, _TINY)
    return float(np.where(m.x == 0, 0.0, imb).max(initial=0.0))
