"""Leontief kernels: technical coefficients, factorization and block solves.

Everything here is pure numpy/scipy and works on plain arrays so that the dask
layer (:mod:`pipeline.mrio.engine`) can map the kernels over blocks of final-demand
columns. The Leontief inverse ``(I - A)^-1`` is never formed: ``X = (I - A)^-1 Y``
is obtained by solving ``(I - A) X = Y`` with a factorization computed once.
``A = Z / x`` is not formed either: :func:`factorize` takes ``Z`` and ``x``, writes
``I - A`` straight into the one dense array that LAPACK factorizes in place
(C-ordered ``I - A`` is Fortran-ordered ``(I - A)^T``, so no copy is made; solves
use ``trans=1``), and products ``A V`` are computed as ``Z (V / x)``.

Methods
-------
``"lu"``
    Dense LU of ``I - A`` (LAPACK ``getrf``), float64: ``8 n^2`` bytes.
``"mixed"``
    float32 LU (half the flop and memory of ``"lu"``) plus float64 iterative
    refinement: ``R = Y - (I - A) X`` with float64 ``Z``, ``X += solve(LU32, R)``, until
    every column's ``||R||_1 <= tol ||Y||_1``. Raises :class:`RefinementError`
    if the residual stops shrinking (the engine then falls back to ``"lu"``).
``"iterative"``
    Block Neumann series ``X = Y + A Y + A^2 Y + ...`` on a (sparse) ``Z``; no
    factorization at all. Converges because every column sum of ``A`` is < 1
    (``||A||_1 < 1``); the stopping rule bounds the 1-norm error rigorously.

Singularity: column sums of ``A`` >= 1 are rejected first. For ``A >= 0`` the
largest column sum ``s`` then bounds the reciprocal condition number from below,
``rcond >= (1 - s) / (1 + s)``, for free. Otherwise, or if that bound is below
``RCOND_MIN`` or the caller's ``rcond_needed``, it is estimated from the LU
factors with LAPACK ``gecon`` (in place, ``O(n^2)``; the 1-norm of the factored
``(I - A)^T``), and ``rcond < RCOND_MIN`` is rejected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from pipeline.errors import MRIOError, format_label
from pipeline.kernels.spmm import TiledCSR, over_row_blocks, row_bounds

METHODS: tuple[str, ...] = ("lu", "mixed", "iterative")

#: Reciprocal condition number below which ``I - A`` is treated as singular.
RCOND_MIN = 1e-12


def _label(labels: Sequence[Any] | None, i: int) -> str:
    """The label of position ``i`` for a message, or ``#i`` without labels."""
    return f"#{i}" if labels is None else format_label(labels[i])


def technical_coefficients(Z: np.ndarray | sp.spmatrix, x: np.ndarray) -> np.ndarray | sp.csr_array:
    """Return ``A = Z diag(1/x)``, with a zero column wherever ``x == 0``.

    Parameters
    ----------
    Z : ndarray or scipy sparse matrix, shape (n, n)
        Intermediate flows.
    x : ndarray, shape (n,)
        Total output.

    Returns
    -------
    ndarray or scipy.sparse.csr_array
        Technical coefficients, sparse if ``Z`` is sparse.
    """
    inv = inverse_output(x)
    if sp.issparse(Z):
        return sp.csr_array(sp.csr_array(Z, dtype=np.float64) @ sp.diags_array(inv))
    return np.asarray(Z, dtype=np.float64) * inv[None, :]


def column_sums(A: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Return the column sums of ``A`` as a 1-d float64 array."""
    return np.asarray(A.sum(axis=0), dtype=np.float64).ravel()


def inverse_output(x: np.ndarray) -> np.ndarray:
    """Return ``1 / x`` as float64, with 0 where ``x == 0``."""
    x = np.asarray(x, dtype=np.float64)
    inv = np.zeros_like(x)
    np.divide(1.0, x, out=inv, where=x != 0)
    return inv


def coefficient_column_sums(Z: np.ndarray | sp.spmatrix, x: np.ndarray) -> np.ndarray:
    """Return the column sums of ``A = Z / x`` without forming ``A``."""
    return column_sums(Z) * inverse_output(x)


def check_column_sums(
    s: np.ndarray, *, labels: Sequence[Any] | None = None, source: str = "MRIO"
) -> None:
    """Raise :class:`MRIOError` naming the worst column of ``A`` whose sum ``s`` is >= 1.

    Parameters
    ----------
    s : ndarray, shape (n,)
        Column sums of ``A``.
    labels : sequence, optional
        Column labels used in the message.
    source : str
        Name of the table or file, used in the message.
    """
    bad = np.flatnonzero(~(s < 1.0))
    if bad.size:
        j = int(bad[np.argmax(s[bad])]) if np.all(np.isfinite(s[bad])) else int(bad[0])
        raise MRIOError(
            f"{source}: column {_label(labels, j)} of A = Z/x sums to {s[j]:.6g} >= 1, "
            "so (I-A) is singular; the table or its units are inconsistent (check Z and x)"
        )


class RefinementError(MRIOError):
    """Mixed-precision iterative refinement did not reach its tolerance."""


@dataclass(frozen=True)
class LeontiefFactor:
    """A reusable factorization of ``I - A`` (picklable, to scatter to workers).

    ``A = Z diag(inv_x)`` is never stored: products ``A V`` are computed as
    ``Z (inv_x V)``: a dense ``Z`` is the caller's (no copy), a sparse one is kept
    cut into tiles (one copy of its nonzeros). The LU factors are those of
    ``(I - A)^T`` (built C-ordered, i.e. Fortran-ordered for LAPACK, so no copy is
    made); solves use ``trans=1``.

    Attributes
    ----------
    method : str
        ``"lu"``, ``"mixed"`` or ``"iterative"``.
    n : int
        Size of the system.
    lu, piv : ndarray or None
        LU factors of ``(I - A)^T`` (float64 for ``"lu"``, float32 for ``"mixed"``).
    Z : ndarray or TiledCSR or sparse array or None
        Flows (or ``A`` itself when ``inv_x`` is all ones), for the products ``A V``
        of ``"mixed"`` (residuals) and ``"iterative"``; a sparse ``Z`` is kept cut
        into cache-sized tiles (one copy of its nonzeros).
    inv_x : ndarray or None
        ``1 / x`` (0 where ``x == 0``).
    norm1 : float
        ``||A||_1`` (largest column sum).
    rcond : float
        Reciprocal condition number of ``I - A``: the lower bound
        ``(1 - s) / (1 + s)`` of the 1-norm one when ``A >= 0``, else LAPACK's
        estimate of the 1-norm one of the factored ``(I - A)^T``, i.e. the
        infinity-norm one of ``I - A`` (``nan`` for ``"iterative"``).
    tol : float
        Relative tolerance of the iterative methods.
    """

    method: str
    n: int
    lu: np.ndarray | None = None
    piv: np.ndarray | None = None
    Z: np.ndarray | TiledCSR | sp.csr_array | None = None
    inv_x: np.ndarray | None = None
    norm1: float = 0.0
    rcond: float = float("nan")
    tol: float = 1e-13

    def apply_A(self, V: np.ndarray) -> np.ndarray:
        """Return ``A V = Z (inv_x V)`` in float64.

        A sparse ``Z`` is multiplied tile by tile on one thread per core
        (:class:`~pipeline.kernels.spmm.TiledCSR`); a dense one by BLAS.
        """
        W = self.inv_x[:, None] * V
        if isinstance(self.Z, TiledCSR):
            return self.Z.matmul(W)
        if sp.issparse(self.Z):
            return TiledCSR.from_matrix(self.Z).matmul(W)
        return self.Z @ W


def _rcond(lu: np.ndarray, anorm: float) -> float:
    """Estimate the reciprocal 1-norm condition number from LU factors (no copy)."""
    gecon = sla.get_lapack_funcs("gecon", (lu,))
    rcond, info = gecon(lu, anorm, norm="1")
    return float(rcond) if info == 0 else 0.0


def _rcond_bound(Z: Any, inv_x: np.ndarray, norm1: float) -> float:
    """Rigorous lower bound of the 1-norm reciprocal condition number of ``I - A``.

    For ``A >= 0`` with largest column sum ``s = ||A||_1 < 1``:
    ``||I - A||_1 <= 1 + s`` and ``||(I - A)^-1||_1 <= sum_k s^k = 1 / (1 - s)``,
    so ``rcond >= (1 - s) / (1 + s)`` at no cost. Returns ``nan`` (estimate it
    instead) if ``A`` has a negative entry.
    """
    values = Z.data if sp.issparse(Z) else Z
    if (values.size and values.min() < 0) or (inv_x.size and inv_x.min() < 0):
        return float("nan")
    return (1.0 - norm1) / (1.0 + norm1)


def _i_minus_a_transposed(Z: Any, inv_x: np.ndarray, dtype: type) -> np.ndarray:
    """Return ``(I - A)^T`` as a Fortran-ordered array (one dense allocation).

    The C-ordered ``I - A`` is exactly the Fortran-ordered ``(I - A)^T``, which
    LAPACK factorizes in place. Row blocks are filled on one thread per core
    (scipy's sparse ``toarray`` and numpy release the GIL), so the first touch of
    the ``n^2`` pages is spread over the cores too.
    """
    n = Z.shape[0]
    M = np.empty((n, n), dtype=dtype)
    source = sp.csr_array(Z) if sp.issparse(Z) else np.asarray(Z)

    def fill(a: int, b: int) -> None:
        out = M[a:b]
        if sp.issparse(source):
            part = source[a:b]
            neg = (-(part.data * inv_x[part.indices])).astype(dtype)
            out.fill(0)
            sp.csr_array((neg, part.indices, part.indptr), shape=(b - a, n)).toarray(out=out)
        else:
            np.multiply(source[a:b], -inv_x[None, :], out=out, casting="same_kind")
        diag = np.arange(a, b)
        out[diag - a, diag] += 1.0

    over_row_blocks(row_bounds(n), fill)
    return M.T


def _norm_i_minus_a_rows(Z: Any, inv_x: np.ndarray) -> float:
    """Return ``||(I - A)^T||_1`` = largest row sum of ``|I - A|`` (no dense copy)."""
    d = np.asarray(Z.diagonal(), dtype=np.float64) * inv_x
    rows = np.asarray(Z @ inv_x, dtype=np.float64).ravel()  # row sums of A
    return float((rows - d + np.abs(1.0 - d)).max(initial=0.0))


def factorize(
    A: np.ndarray | sp.spmatrix,
    x: np.ndarray | None = None,
    *,
    method: str = "lu",
    labels: Sequence[Any] | None = None,
    tol: float = 1e-13,
    source: str = "MRIO",
    rcond_needed: float = RCOND_MIN,
) -> LeontiefFactor:
    """Factorize ``I - A`` once, for repeated :func:`solve_columns` calls.

    Parameters
    ----------
    A : ndarray or sparse matrix, shape (n, n)
        Technical coefficients, or flows ``Z`` if ``x`` is given (then
        ``A = Z / x`` is never formed; a dense ``Z`` is referenced, not copied, and
        a sparse one is cut into tiles for ``"mixed"`` and ``"iterative"``).
    x : ndarray, optional
        Total output; ``None`` means the first argument is ``A``.
    method : {"lu", "mixed", "iterative"}
        See the module docstring.
    labels : sequence, optional
        Labels of the rows/columns, for error messages.
    tol : float
        Relative tolerance of the ``"mixed"`` and ``"iterative"`` methods.
    source : str
        Name used in error messages.
    rcond_needed : float
        If the free bound ``(1 - s) / (1 + s)`` is below this (or ``A`` has
        negative entries), the condition number is estimated with LAPACK instead,
        so that a well-conditioned table with one column sum near 1 is not
        judged by the bound alone.

    Returns
    -------
    LeontiefFactor

    Raises
    ------
    MRIOError
        If a column sum of ``A`` is >= 1, or ``I - A`` is numerically singular
        (reciprocal condition number below ``RCOND_MIN``).
    """
    Z = _square_flows(A, method, source)
    n = Z.shape[0]
    inv_x = np.ones(n) if x is None else inverse_output(x)
    s = column_sums(Z) * inv_x
    check_column_sums(s, labels=labels, source=source)
    norm1 = float(s.max(initial=0.0))
    products = TiledCSR.from_matrix(Z) if sp.issparse(Z) and method != "lu" else Z
    keep = {"Z": products, "inv_x": inv_x, "norm1": norm1, "tol": tol}
    if method == "iterative":
        return LeontiefFactor("iterative", n, **keep)
    dtype = np.float64 if method == "lu" else np.float32
    lu, piv, rcond = _lu_factor(Z, inv_x, dtype, norm1, max(rcond_needed, RCOND_MIN))
    _check_rcond(rcond, lu, labels, source)
    if method == "lu":
        return LeontiefFactor("lu", n, lu=lu, piv=piv, norm1=norm1, rcond=rcond)
    return LeontiefFactor("mixed", n, lu=lu, piv=piv, rcond=rcond, **keep)


def _square_flows(A: Any, method: str, source: str) -> np.ndarray | sp.csr_array:
    """``A`` (or ``Z``) as float64 CSR or ndarray; raise on a bad method or a non-square ``A``."""
    if method not in METHODS:
        raise MRIOError(f"unknown Leontief method {method!r}; use one of {', '.join(METHODS)}")
    if A.shape != (A.shape[0], A.shape[0]):
        raise MRIOError(f"{source}: A must be square, got shape {A.shape}; check Z")
    return sp.csr_array(A, dtype=np.float64) if sp.issparse(A) else np.asarray(A, np.float64)


def _lu_factor(
    Z: Any, inv_x: np.ndarray, dtype: type, norm1: float, rcond_needed: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """LU factors of ``(I - A)^T`` in ``dtype`` and the reciprocal condition number.

    The free bound :func:`_rcond_bound` when it reaches ``rcond_needed``, else
    LAPACK's estimate from the factors.
    """
    MT = _i_minus_a_transposed(Z, inv_x, dtype)
    rcond = _rcond_bound(Z, inv_x, norm1)
    lu, piv = sla.lu_factor(MT, overwrite_a=True, check_finite=False)
    del MT
    if not rcond >= rcond_needed:
        rcond = _rcond(lu, _norm_i_minus_a_rows(Z, inv_x))
    return lu, piv, rcond


def _check_rcond(rcond: float, lu: np.ndarray, labels: Sequence[Any] | None, source: str) -> None:
    """Raise if the LU factor is numerically singular, naming the weakest pivot."""
    if not rcond >= RCOND_MIN:
        j = int(np.argmin(np.abs(np.diag(lu)))) if lu.size else 0
        raise MRIOError(
            f"{source}: (I-A) is numerically singular (rcond={rcond:.3g} < {RCOND_MIN:g}, "
            f"smallest pivot at {_label(labels, j)}); check that table and units are consistent"
        )


def solve_columns(
    factor: LeontiefFactor, Y_block: np.ndarray, *, rows: np.ndarray | None = None
) -> np.ndarray:
    """Solve ``(I - A) X = Y_block`` and return ``X[rows]``.

    Parameters
    ----------
    factor : LeontiefFactor
        From :func:`factorize`.
    Y_block : ndarray, shape (n, k)
        A block of final-demand columns (a 1-d array is treated as one column).
    rows : ndarray of int, optional
        Row positions to return (all rows by default).

    Returns
    -------
    ndarray, shape (len(rows), k)

    Raises
    ------
    RefinementError
        If ``"mixed"`` refinement does not reach ``factor.tol`` (use ``"lu"``).
    """
    Yb = np.asarray(Y_block, dtype=np.float64)
    vec = Yb.ndim == 1
    if vec:
        Yb = Yb[:, None]
    if factor.method == "lu":
        X = _lu_solve(factor, Yb)
    elif factor.method == "mixed":
        X = _solve_mixed(factor, Yb)
    else:
        X = _solve_neumann(factor, Yb)
    if rows is not None:
        X = X[np.asarray(rows, dtype=np.intp)]
    return X[:, 0] if vec else X


def _lu_solve(factor: LeontiefFactor, rhs: np.ndarray) -> np.ndarray:
    """Solve ``(I - A) X = rhs`` with the LU factors and a private copy of the pivots.

    SciPy's ``getrs`` wrapper makes the pivots 1-based *in place* for the call and
    turns them back after it. On a shared factor that is a race: another thread
    solving, or a Dask worker serializing the factor for another worker while it
    solves, sees shifted pivots. Under load one worker then solved every block
    with them and returned wrong numbers (caught by the every-row conservation
    check). A copy of ``n`` integers per solve removes the race; no lock is needed.
    """
    return sla.lu_solve((factor.lu, factor.piv.copy()), rhs, trans=1, check_finite=False)


def _lu32_solve(factor: LeontiefFactor, R: np.ndarray) -> np.ndarray:
    """float32 LU solve of ``(I - A) D = R``, returned as float64."""
    return _lu_solve(factor, R.astype(np.float32)).astype(np.float64)


def _solve_mixed(factor: LeontiefFactor, Yb: np.ndarray, max_iter: int = 30) -> np.ndarray:
    """float32 LU solve with float64 iterative refinement (residual with sparse/dense Z)."""
    X = _lu32_solve(factor, Yb)
    scale = np.maximum(np.abs(Yb).sum(axis=0), np.finfo(np.float64).tiny)
    prev = np.inf
    for _ in range(max_iter):
        R = Yb - X + factor.apply_A(X)
        err = float((np.abs(R).sum(axis=0) / scale).max(initial=0.0))
        if err <= factor.tol:
            return X
        if err > 0.5 * prev:
            break
        prev = err
        X += _lu32_solve(factor, R)
    raise RefinementError(
        f"mixed-precision Leontief solve stalled at relative residual {err:.3g} > "
        f"tol {factor.tol:g}; use method='lu'"
    )


def neumann_terms(norm1: float, tol: float) -> float:
    """Terms the Neumann stopping rule needs at most when ``||A||_1 = norm1``.

    :func:`_solve_neumann` stops once the tail bound ``s / (1 - s) ||A^K Y||_1``
    is below ``tol ||X||_1``; with ``||A^K Y||_1 <= s^K ||Y||_1 <= s^K ||X||_1``
    that takes at most ``K = log(tol (1 - s) / s) / log(s)`` terms.
    """
    if norm1 <= 0.0:
        return 1.0
    if norm1 >= 1.0 or tol <= 0.0:
        return math.inf
    return max(1.0, math.log(tol * (1.0 - norm1) / norm1) / math.log(norm1))


def _solve_neumann(factor: LeontiefFactor, Yb: np.ndarray, max_iter: int = 100_000) -> np.ndarray:
    """Block Neumann series with a rigorous 1-norm stopping rule."""
    s = factor.norm1
    X = Yb.copy()
    term = Yb
    for _ in range(max_iter):
        term = factor.apply_A(term)
        X += term
        # tail after this term: ||sum_{k>K} A^k Y||_1 <= s/(1-s) * ||A^K Y||_1
        tail = s / (1.0 - s) * np.abs(term).sum(axis=0)
        if np.all(tail <= factor.tol * np.maximum(np.abs(X).sum(axis=0), 1e-300)):
            return X
    raise MRIOError(
        f"Neumann series did not converge in {max_iter} terms (||A||_1={s:.6g}); use method='lu'"
    )


def shares(X_rows: np.ndarray, x_rows: np.ndarray) -> np.ndarray:
    """Return ``S = X / x`` row-wise, 0 where ``x == 0``.

    Parameters
    ----------
    X_rows : ndarray, shape (r, m)
        Output driven by each final-demand column.
    x_rows : ndarray, shape (r,)
        Total output of the same rows.

    Returns
    -------
    ndarray, shape (r, m)
    """
    return np.asarray(X_rows, dtype=np.float64) * inverse_output(x_rows)[:, None]


def intensities(F: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return ``f = F / x`` (0 where ``x == 0``)."""
    return np.asarray(F, dtype=np.float64) * inverse_output(x)


def row_errors(F: np.ndarray, attributed: np.ndarray, *, floor: float = 1e-12) -> np.ndarray:
    """Relative gap ``|attributed - F| / max(|F|, floor * max|F|)`` per row.

    Parameters
    ----------
    F : ndarray, shape (n,)
        Each row's emissions.
    attributed : ndarray, shape (n,)
        The same rows' emissions summed over every final-demand column.
    floor : float
        Rows whose ``|F|`` is below ``floor`` times the largest are compared on
        that scale, so round-off in negligible rows is not reported as a gap.

    Returns
    -------
    ndarray, shape (n,)
        NaN where either input is not finite.
    """
    F = np.asarray(F, dtype=np.float64)
    attributed = np.asarray(attributed, dtype=np.float64)
    finite = np.isfinite(F) & np.isfinite(attributed)
    scale = floor * float(np.abs(F[finite]).max(initial=0.0))
    denominator = np.maximum(np.abs(F), max(scale, np.finfo(np.float64).tiny))
    gaps = np.abs(attributed - F) / denominator
    return np.where(finite, gaps, np.nan)
