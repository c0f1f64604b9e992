"""The named steps of :func:`pipeline.mrio.nesting.nest` (method: see that module).

Each step is one function; each error it raises starts with ``nesting step '<name>':``
and says what in the input causes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import MRIOError
from pipeline.kernels.gras import fit_stack, gras, relative_error
from pipeline.mrio.model import SubnationalTable

#: Largest column sum of ``A`` that foreign imports may fill a province-sector up to.
MAX_COLUMN_SUM = 0.999
CONVERT, EXPORTS, DESTINATIONS = "sector concordance", "exports", "export destinations"
DOMESTIC, IMPORTS, ORIGINS = "province block", "imports by user", "import origins"
_TINY = np.finfo(np.float64).tiny
log = logging.getLogger("pipeline.mrio.nesting")


def step_error(step: str, message: str) -> MRIOError:
    """``MRIOError("nesting step '<step>': <message>")``."""
    return MRIOError(f"nesting step {step!r}: {message}")


@dataclass(frozen=True)
class StepInfo:
    """What one fitting step did.

    Attributes
    ----------
    name : str
        The step (:data:`EXPORTS`, :data:`DESTINATIONS`, :data:`DOMESTIC`, :data:`IMPORTS`).
    iterations : int
        GRAS iterations (0 when the prior already fitted or nothing was fitted).
    max_rel_adjustment, mean_rel_adjustment : float
        Largest and mean ``|X - prior| / |prior|`` over non-zero prior cells (for the
        imports the prior is ``D`` scaled to the column targets, so these say how far the
        provinces' import shares moved the result from pure per-user proportionality).
    row_error : float
        Largest relative misfit of the step's soft row targets.
    capped : int
        Province-sectors whose imports were capped at :data:`MAX_COLUMN_SUM` (imports).
    fallback : int
        Products whose province import shares could not be used (imports step).
    """

    name: str
    iterations: int = 0
    max_rel_adjustment: float = 0.0
    mean_rel_adjustment: float = 0.0
    row_error: float = 0.0
    capped: int = 0
    fallback: int = 0


def step_info(name: str, prior: np.ndarray, X: np.ndarray, iterations: int, **kw) -> StepInfo:
    """Summarize a fit of ``prior`` to ``X``."""
    nz = prior != 0
    rel = np.abs(X[nz] - prior[nz]) / np.abs(prior[nz])
    mean = float(rel.mean()) if rel.size else 0.0
    return StepInfo(name, iterations, float(rel.max(initial=0.0)), mean, **kw)


@dataclass(frozen=True)
class Provinces:
    """The subnational table in the global sector classification (step 1).

    ``x, F`` are (P*G,), ``Z`` (P*G, P*G), ``Y`` (P*G, P*K), province-major;
    ``exports, imports`` are (P, G); ``customs`` is the (P, G, n_dest) prior of
    exports by destination (None without customs data).
    """

    names: tuple[str, ...]
    G: tuple[str, ...]
    K: tuple[str, ...]
    x: np.ndarray
    Z: np.ndarray
    Y: np.ndarray
    exports: np.ndarray
    imports: np.ndarray
    F: np.ndarray
    F_Y: np.ndarray | None
    customs: np.ndarray | None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(P, G, K)."""
        return len(self.names), len(self.G), len(self.K)

    def label(self, flat: int) -> str:
        """``province 'p' sector 'j'`` for a flat province-sector index."""
        p, j = divmod(int(flat), len(self.G))
        return f"province {self.names[p]!r} sector {self.G[j]!r}"


@dataclass(frozen=True)
class Country:
    """The global table around ``country``: masks, dense blocks and foreign labels.

    ``Z_cf`` (G, nF) and ``Y_cf`` (G, mF) are the country's exports; ``W_fc`` (nF, G+K)
    its imports by user (sectors, then categories). ``dest_z``/``dest_y`` index
    ``dest`` (foreign regions) for each foreign row / final-demand column; ``product``
    indexes ``products`` for each foreign row; ``in_G`` maps products to ``G`` (-1: none).
    """

    r_c: np.ndarray
    k_c: np.ndarray
    Zg: np.ndarray
    Yg: np.ndarray
    Z_cf: np.ndarray
    Y_cf: np.ndarray
    W_fc: np.ndarray
    dest: tuple[str, ...]
    dest_z: np.ndarray
    dest_y: np.ndarray
    product: np.ndarray
    products: tuple[str, ...]
    in_G: np.ndarray

    @property
    def EX(self) -> np.ndarray:
        """``EX_g[i]`` (G,): the country's exports of product ``i``."""
        return self.Z_cf.sum(axis=1) + self.Y_cf.sum(axis=1)

    @property
    def EXS(self) -> np.ndarray:
        """``EX_g[i, S]`` (G, n_dest): the country's exports of ``i`` to region ``S``."""
        out = np.zeros((len(self.dest), self.Z_cf.shape[0]))
        np.add.at(out, self.dest_z, self.Z_cf.T)
        np.add.at(out, self.dest_y, self.Y_cf.T)
        return out.T


# ----------------------------------------------------------------------------- step 1
def customs_prior(sub: SubnationalTable, C: np.ndarray, dest: tuple[str, ...]):
    """Step 1 (customs): the (P, G, n_dest) prior of exports by destination, or None.

    ``sub.exports_by_destination`` has columns ``region, destination, value`` and
    optionally ``sector`` (sub sectors, converted with ``C``); without ``sector`` the
    province's destination mix is the prior for every product.
    """
    df = sub.exports_by_destination
    if df is None:
        return None
    where = "exports_by_destination"
    need = {"region", "destination", "value"}
    if not need <= set(df.columns) or not set(df.columns) <= need | {"sector"}:
        raise MRIOError(
            f"{where}: needs columns region,destination,value and optionally sector; got "
            f"{', '.join(map(str, df.columns))}"
        )
    val = pd.to_numeric(df["value"], errors="coerce").to_numpy(np.float64)
    if not np.all(np.isfinite(val) & (val >= 0)):
        k = int(np.flatnonzero(~(np.isfinite(val) & (val >= 0)))[0])
        bad = str(df["value"].iloc[k])
        raise MRIOError(f"{where}: value {bad!r} (row {k}) is not a number >= 0")
    pos = {}
    for col, known in (("region", sub.regions), ("destination", dest), ("sector", sub.sectors)):
        if col in df.columns:
            what = "foreign region of the global table" if col == "destination" else col
            pos[col] = pd.Index(known).get_indexer(df[col].astype(str))
            if (pos[col] < 0).any():
                bad = df[col].astype(str).iloc[int(np.flatnonzero(pos[col] < 0)[0])]
                raise MRIOError(f"{where}: {col} {bad!r} is not a {what}")
    P, S = len(sub.regions), len(dest)
    if "sector" not in df.columns:
        base = np.zeros((P, S))
        np.add.at(base, (pos["region"], pos["destination"]), val)
        return np.repeat(base[:, None, :], C.shape[1], axis=1)
    base = np.zeros((P, len(sub.sectors), S))
    np.add.at(base, (pos["region"], pos["sector"], pos["destination"]), val)
    return np.einsum("psd,si->pid", base, C)


# ----------------------------------------------------------------------------- step 2
def scale_exports(prov: Provinces, ctry: Country, country: str) -> tuple[np.ndarray, np.ndarray]:
    """Step 2: ``EX'[p, i]`` rescaled to the global ``EX_g[i]``, and the factors (G,)."""
    P, G, _ = prov.shape
    xs = prov.x.reshape(P, G)
    EX_g, ex_tot = ctry.EX, prov.exports.sum(axis=0)
    orphan = np.flatnonzero((EX_g != 0) & (ex_tot == 0) & (xs.sum(axis=0) == 0))
    if orphan.size:
        raise step_error(
            EXPORTS,
            f"the global table has exports of ({country!r}, {prov.G[orphan[0]]!r}) but no "
            "province produces that sector; fix the concordance or the provincial table",
        )
    w = np.where(ex_tot > 0, prov.exports, xs)
    tot = w.sum(axis=0)
    share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
    scale = np.divide(EX_g, ex_tot, out=np.ones_like(EX_g), where=ex_tot > 0)
    return share * EX_g[None, :], scale


# ----------------------------------------------------------------------------- step 3
def _fit_destinations(
    prov: Provinces, ctry: Country, E0: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, StepInfo]:
    """GRAS of the customs prior (G, P, S) to rows ``EX'[p, i]`` and columns ``EX_g[i, S]``.

    Destinations with ``EX_g[i, S] <= 0`` keep the proportional split ``E0``; a prior
    row or column that is all zero where the target is not is filled from ``E0``.
    """
    EXS = ctry.EXS
    fit = (EXS > 0)[:, None, :]
    prior = np.where(fit, prov.customs.transpose(1, 0, 2), 0.0)
    rows = E0.sum(axis=2) - np.where(fit, 0.0, E0).sum(axis=2)
    prior = np.where((prior.sum(axis=2, keepdims=True) == 0) & (rows[:, :, None] > 0), E0, prior)
    prior = np.where((prior.sum(axis=1, keepdims=True) == 0) & fit, E0, prior)
    cols = np.where(fit[:, 0, :], EXS, 0.0)
    res = fit_stack(prior, rows, cols, tol=tol, max_iter=max_iter)
    if not res.converged or res.row_error > 1e-6:
        err = relative_error(res.X.sum(axis=2), rows)
        i, p = np.unravel_index(int(np.argmax(err)), err.shape)
        to = np.flatnonzero(prior[i, p] > 0)
        raise step_error(
            DESTINATIONS,
            f"the exports of {prov.G[i]!r} by province {prov.names[p]!r} ({rows[i, p]:.6g}) "
            f"do not fit into its customs destinations {[ctry.dest[d] for d in to]}, shared "
            f"with the other provinces (the country exports {EXS[i, to].sum():.6g} of it "
            f"there; misfit {err[i, p]:.3g}); check exports_by_destination.csv",
        )
    info = step_info(DESTINATIONS, prior, res.X, res.iterations, row_error=res.row_error)
    return np.where(fit, res.X, E0), info


def split_exports(
    prov: Provinces, ctry: Country, ex: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, StepInfo]:
    """Step 3: province → foreign blocks ``Z_pf`` (P*G, nF) and ``Y_pf`` (P*G, mF)."""
    EX_g, EXS = ctry.EX, ctry.EXS
    frac = np.divide(ex, EX_g[None, :], out=np.zeros_like(ex), where=EX_g[None, :] != 0)
    E0 = frac.T[:, :, None] * EXS[:, None, :]  # (G, P, S): the national destination mix
    if prov.customs is None:
        E, info = E0, StepInfo(EXPORTS)
    else:
        E, info = _fit_destinations(prov, ctry, E0, tol=tol, max_iter=max_iter)
    out = []
    for W, d in ((ctry.Z_cf, ctry.dest_z), (ctry.Y_cf, ctry.dest_y)):
        tot = EXS[:, d]
        mix = np.divide(W, tot, out=np.zeros_like(W), where=tot > 0)  # user mix within S
        rest = np.where(tot > 0, 0.0, W)  # destinations with EX_g[i, S] <= 0: proportional
        block = E[:, :, d] * mix[:, None, :] + frac.T[:, :, None] * rest[:, None, :]
        out.append(block.transpose(1, 0, 2).reshape(-1, W.shape[1]))
    return out[0], out[1], info


# ----------------------------------------------------------------------------- step 4
def rebalance_domestic(
    prov: Provinces, exported: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, StepInfo]:
    """Step 4: GRAS of ``B = [Z' Y']`` to rows ``x' - exports`` and its scaled column sums."""
    u = prov.x - exported
    if (u < -1e-9 * np.maximum(prov.x, _TINY)).any():
        i = int(np.argmin(u / np.maximum(prov.x, _TINY)))
        raise step_error(
            EXPORTS,
            f"{prov.label(i)}: its exports rescaled to the global table ({exported[i]:.6g}) "
            f"exceed its output x={prov.x[i]:.6g}; check exports.csv against the global table",
        )
    u = np.maximum(u, 0.0)
    B = np.hstack([prov.Z, prov.Y])
    v0 = B.sum(axis=0)
    v = v0 * (u.sum() / v0.sum()) if v0.sum() != 0 else v0
    try:
        B2, it = gras(B, u, v, tol=tol, max_iter=max_iter)
    except MRIOError as exc:
        raise step_error(DOMESTIC, f"{exc}; check exports.csv against the global table") from exc
    n = prov.Z.shape[1]
    x, before, after = prov.x, prov.Z.sum(axis=0), B2[:, :n].sum(axis=0)
    bad = np.flatnonzero((after >= x) & (after > 0))
    if bad.size:
        j = int(bad[np.argmax(after[bad] / np.maximum(x[bad], _TINY))])
        raise step_error(
            DOMESTIC,
            f"{prov.label(j)} column sum of A {after[j] / max(x[j], _TINY):.4g}: its domestic "
            f"inputs {after[j]:.6g} (from {before[j]:.6g} before rescaling the provinces' "
            f"exports to the global table) reach its output {x[j]:.6g}; check exports.csv",
        )
    return B2, step_info(DOMESTIC, B, B2, it)


# ----------------------------------------------------------------------------- step 5
def _domestic_use(prov: Provinces, ctry: Country, B2: np.ndarray) -> np.ndarray:
    """``D[h, p, u]`` (H, P, G+K): domestic use of product ``h`` by user ``(p, u)``."""
    P, G, K = prov.shape
    use = B2.reshape(P, G, -1).sum(axis=0)  # (G, P*G + P*K), summed over supplying q
    Dg = np.concatenate([use[:, : P * G].reshape(G, P, G), use[:, P * G :].reshape(G, P, K)], 2)
    D = np.zeros((len(ctry.products), P, G + K))
    known = ctry.in_G >= 0
    D[known] = Dg[ctry.in_G[known]]
    return D


def user_shares(prov: Provinces, B2: np.ndarray) -> np.ndarray:
    """(P, G+K) shares of each user over provinces: output of ``j``, |domestic use| of ``k``.

    NaN where no province has any (a category without use falls back to output shares).
    """
    P, G, K = prov.shape
    xs = prov.x.reshape(P, G)
    fd = np.abs(B2[:, P * G :]).sum(axis=0).reshape(P, K)
    fd = np.where(fd.sum(axis=0) > 0, fd, xs.sum(axis=1, keepdims=True))
    w = np.concatenate([xs, fd], axis=1)
    tot = w.sum(axis=0)
    return np.divide(w, tot, out=np.full_like(w, np.nan), where=tot > 0)


def national_imports(ctry: Country) -> np.ndarray:
    """``IMP[h, u]`` (H, G+K): the country's imports of ``h`` by user ``u``, all origins."""
    IMP = np.zeros((len(ctry.products), ctry.W_fc.shape[1]))
    np.add.at(IMP, ctry.product, ctry.W_fc)
    return IMP


def import_prior(
    prov: Provinces, ctry: Country, D: np.ndarray, IMP: np.ndarray, fb: np.ndarray, country: str
) -> np.ndarray:
    """The prior ``D[h, p, u]``; a user the prior cannot serve gets ``fb[p, u] IMP[h, u]``.

    A column cannot serve when it has no cell of the sign of its target ``IMP[h, u]``
    (no province uses ``h`` there, or only with the other sign). Users without
    imports (``IMP[h, u] = 0``) get none.
    """
    serve = np.where(IMP[:, None, :] > 0, D > 0, D < 0).any(axis=1) & (IMP != 0)
    need = ~serve & (IMP != 0)
    orphan = np.argwhere(need & np.isnan(fb).any(axis=0)[None, :])
    if orphan.size:
        h, u = orphan[0]
        raise step_error(
            IMPORTS,
            f"the global table has imports of {ctry.products[h]!r} by ({country!r}, "
            f"{(prov.G + prov.K)[u]!r}) but no province has output or final use there; fix "
            "the concordance or the provincial table",
        )
    fill = np.nan_to_num(fb)[None] * IMP[:, None, :]
    return np.where(need[:, None, :], fill, np.where(serve[:, None, :], D, 0.0))


def import_rows(prov: Provinces, ctry: Country, prior: np.ndarray, IMP: np.ndarray):
    """Row targets ``imports[p, i]`` scaled to ``sum_u IMP[i, u]``, and the fallback count.

    Provinces without any use of ``i`` are left out. A product whose import column is
    all zero, or whose shares leave a user with imports but no importing province,
    gets the row sums of the column-scaled prior instead (per-user proportionality
    without province import shares).
    """
    known = ctry.in_G >= 0
    imp = np.zeros(prior.shape[:2])
    imp[known] = prov.imports.T[ctry.in_G[known]]
    imp = np.where(np.abs(prior).sum(axis=2) > 0, imp, 0.0)
    total, s = IMP.sum(axis=1, keepdims=True), imp.sum(axis=1, keepdims=True)
    rows = np.divide(imp, s, out=np.zeros_like(imp), where=s > 0) * total
    colsum = prior.sum(axis=1, keepdims=True)
    rho = np.divide(IMP[:, None, :], colsum, out=np.zeros_like(colsum), where=colsum != 0)
    plain = (prior * rho).sum(axis=2)
    starved = ((np.abs(prior) * (rows[:, :, None] > 0)).sum(axis=1) == 0) & (IMP != 0)
    bad = (s[:, 0] <= 0) | (total[:, 0] <= 0) | starved.any(axis=1)
    return np.where(bad[:, None], plain, rows), int((bad & (IMP != 0).any(axis=1)).sum())


def import_cap(prov: Provinces, B2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, G+K) cap of the imports (inf for categories) and the (P, G) domestic inputs."""
    P, G, K = prov.shape
    x = prov.x.reshape(P, G)
    dom = B2[:, : P * G].sum(axis=0).reshape(P, G)
    capz = np.maximum(MAX_COLUMN_SUM * x - dom, 0.0)
    return np.concatenate([capz, np.full((P, K), np.inf)], axis=1), dom


def _check_capacity(prov: Provinces, IMP: np.ndarray, cap: np.ndarray, country: str) -> None:
    """Raise if a sector's national imports exceed what its provinces can absorb."""
    G = len(prov.G)
    need = np.maximum(IMP[:, :G], 0.0).sum(axis=0)
    room = cap[:, :G].sum(axis=0)
    bad = np.flatnonzero(need > room * (1.0 + 1e-12))
    if bad.size:
        j = int(bad[np.argmax(need[bad] - room[bad])])
        raise step_error(
            IMPORTS,
            f"sector {prov.G[j]!r}: the global table's imports into ({country!r}, "
            f"{prov.G[j]!r}) ({need[j]:.6g}) exceed the provinces' output of it left after "
            f"their domestic inputs ({room[j]:.6g}, at A column sums {MAX_COLUMN_SUM}); the "
            "provincial Z or x of that sector do not match the global table: check their "
            "units and the sector concordance",
        )


def _check_import_fit(prov: Provinces, res, dom: np.ndarray) -> None:
    """Raise if the fit missed its columns or caps, or left an A column sum >= 1."""
    P, G, _ = prov.shape
    x = prov.x.reshape(P, G)
    got = res.X.sum(axis=0)[:, :G]
    colsum = np.divide(dom + got, x, out=np.zeros_like(x), where=x > 0)
    if res.converged and (colsum < 1.0).all():
        return
    p, j = np.unravel_index(int(np.argmax(colsum)), colsum.shape)
    where = f"province {prov.names[p]!r} sector {prov.G[j]!r} column sum of A {colsum[p, j]:.4g}"
    cause = (
        f"its imports {got[p, j]:.6g} and domestic inputs {dom[p, j]:.6g} exceed its output "
        f"{x[p, j]:.6g}; its share of the national imports is too large for its size: check "
        "imports.csv and its x"
        if colsum[p, j] >= 1.0
        else "the provinces using a product cannot take the national imports of it: check "
        "Z, x and imports.csv"
    )
    if not res.converged:
        cause += (
            f" (the fit did not converge in {res.iterations} iterations: column misfit "
            f"{res.column_error:.3g}, cap excess {res.cap_excess.max(initial=0.0):.3g}; "
            "raise max_iter if the data are right)"
        )
    raise step_error(IMPORTS, f"{where}: {cause}")


def _warn_capped(prov: Provinces, res, cap: np.ndarray) -> int:
    """Log the province-sectors whose imports were capped; return their number."""
    total = res.X.sum(axis=0)
    hit = np.argwhere((total > 0) & (total >= cap * (1.0 - 1e-9)))
    if hit.size:
        names = ", ".join(f"{prov.names[p]}/{prov.G[j]}" for p, j in hit[:3])
        log.warning(
            "nesting step %r: %d province-sector(s) (%s) would receive more imports than "
            "their output less domestic inputs allows; capped at A column sum %s, the rest "
            "went to other provinces (largest misfit of the provinces' import totals %.3g); "
            "check imports.csv",
            IMPORTS,
            len(hit),
            names,
            MAX_COLUMN_SUM,
            res.row_error,
        )
    return len(hit)


def fit_imports(
    prov: Provinces, ctry: Country, B2: np.ndarray, country: str, *, tol: float, max_iter: int
) -> tuple[np.ndarray, StepInfo]:
    """Step 5: ``T[h, p, u]``, the imports of ``h`` (all origins) by user ``(p, u)``."""
    fb = user_shares(prov, B2)
    IMP = national_imports(ctry)
    prior = import_prior(prov, ctry, _domestic_use(prov, ctry, B2), IMP, fb, country)
    rows, fallback = import_rows(prov, ctry, prior, IMP)
    cap, dom = import_cap(prov, B2)
    _check_capacity(prov, IMP, cap, country)
    res = fit_stack(prior, rows, IMP, cap=cap, tol=tol, max_iter=max_iter)
    _check_import_fit(prov, res, dom)
    capped = _warn_capped(prov, res, cap)
    colsum = prior.sum(axis=1, keepdims=True)
    rho = np.divide(IMP[:, None, :], colsum, out=np.zeros_like(colsum), where=colsum != 0)
    info = step_info(
        IMPORTS,
        prior * rho,
        res.X,
        res.iterations,
        row_error=res.row_error,
        capped=capped,
        fallback=fallback,
    )
    return res.X, info


# ----------------------------------------------------------------------------- step 6
def split_origins(prov: Provinces, ctry: Country, T: np.ndarray, B2: np.ndarray):
    """Step 6: ``Z_fp[(R,i),(p,u)] = T[i,p,u] W_fc[(R,i),u] / IMP[i,u]``; and ``Y_fp``.

    Flows of a user whose national imports of ``i`` cancel (``IMP = 0``, only possible
    with negative final demand) are split by :func:`user_shares`.
    """
    P, G, _ = prov.shape
    IMP = national_imports(ctry)[ctry.product]  # (nF, U)
    mix = np.divide(ctry.W_fc, IMP, out=np.zeros_like(IMP), where=IMP != 0)
    out = T[ctry.product] * mix[:, None, :]
    rest = np.where(IMP == 0, ctry.W_fc, 0.0)
    if rest.any():
        fb = user_shares(prov, B2)
        if np.isnan(fb[:, (rest != 0).any(axis=0)]).any():
            raise step_error(ORIGINS, "imports by a user no province has; fix the tables")
        out += rest[:, None, :] * np.nan_to_num(fb)[None]
    nF = out.shape[0]
    return out[:, :, :G].reshape(nF, P * G), out[:, :, G:].reshape(nF, -1)
