"""Leontief kernels: technical coefficients, factorization and block solves.

Everything here is pure numpy/scipy and works on plain arrays so that the dask
layer (:mod:`pipeline.mrio.engine`) can map the kernels over blocks of final-demand
columns. The Leontief inverse ``(I - A)^-1`` is never formed: ``X = (I - A)^-1 Y``
is obtained by solving ``(I - A) X = Y`` with a factorization computed once.

Methods
-------
``"lu"``
    Dense LU of ``I - A`` (:func:`scipy.linalg.lu_factor`), float64.
``"mixed"``
    float32 LU of ``I - A`` plus float64 iterative refinement; half the memory
    of ``"lu"`` for the factor, converges because ``I - A`` is well conditioned.
``"iterative"``
    Block Neumann series ``X = Y + A Y + A^2 Y + ...`` on a (sparse) ``A``; no
    factorization at all. Converges because every column sum of ``A`` is < 1
    (``||A||_1 < 1``); the stopping rule bounds the 1-norm error rigorously.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from pipeline.errors import MRIOError

Method = Literal["lu", "mixed", "iterative"]
METHODS: tuple[str, ...] = ("lu", "mixed", "iterative")

#: Reciprocal condition number below which ``I - A`` is treated as singular.
RCOND_MIN = 1e-12

#: Serializes LAPACK solves within a process. Concurrent ``lu_solve`` calls from
#: several Python threads returned wrong numbers with the bundled OpenBLAS
#: (found by ``tests/test_mrio.py``); BLAS is multithreaded itself, and processes
#: (dask workers) still run in parallel.
_LAPACK_LOCK = threading.Lock()


def _label(labels: Sequence[Any] | None, i: int) -> str:
    """Return a printable label for position ``i``."""
    if labels is None:
        return f"#{i}"
    lab = labels[i]
    if isinstance(lab, tuple):
        return repr(tuple(str(v) for v in lab))
    return repr(str(lab))


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
    x = np.asarray(x, dtype=np.float64)
    inv = np.zeros_like(x)
    np.divide(1.0, x, out=inv, where=x != 0)
    if sp.issparse(Z):
        return sp.csr_array(sp.csr_array(Z, dtype=np.float64) @ sp.diags_array(inv))
    return np.asarray(Z, dtype=np.float64) * inv[None, :]


def column_sums(A: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Return the column sums of ``A`` as a 1-d float64 array."""
    return np.asarray(A.sum(axis=0), dtype=np.float64).ravel()


def check_nonsingular(
    A: np.ndarray | sp.spmatrix, *, labels: Sequence[Any] | None = None, source: str = "MRIO"
) -> None:
    """Raise :class:`MRIOError` if a column sum of ``A`` is >= 1.

    With non-negative ``A`` and every column sum < 1, ``||A||_1 < 1`` so ``I - A``
    is non-singular and its inverse is non-negative. A column sum >= 1 means the
    sector uses at least as much input as it produces: the table or its units
    are inconsistent.

    Parameters
    ----------
    A : ndarray or sparse matrix, shape (n, n)
        Technical coefficients.
    labels : sequence, optional
        Row/column labels used in the message.
    source : str
        Name of the table or file, used in the message.
    """
    s = column_sums(A)
    bad = np.flatnonzero(~(s < 1.0))
    if bad.size:
        j = int(bad[np.argmax(s[bad])]) if np.all(np.isfinite(s[bad])) else int(bad[0])
        raise MRIOError(
            f"{source}: column {_label(labels, j)} of A = Z/x sums to {s[j]:.6g} >= 1, "
            "so (I-A) is singular; the table or its units are inconsistent (check Z and x)"
        )


@dataclass(frozen=True)
class LeontiefFactor:
    """A reusable factorization of ``I - A`` (picklable, to scatter to workers).

    Attributes
    ----------
    method : str
        ``"lu"``, ``"mixed"`` or ``"iterative"``.
    n : int
        Size of the system.
    lu, piv : ndarray or None
        LU factors (float64 for ``"lu"``, float32 for ``"mixed"``).
    A : ndarray or sparse array or None
        Coefficients, kept for ``"mixed"`` (residuals) and ``"iterative"``.
    norm1 : float
        ``||A||_1`` (largest column sum).
    rcond : float
        Estimated reciprocal 1-norm condition number of ``I - A`` (``nan`` if not
        estimated).
    tol : float
        Relative tolerance of the iterative methods.
    """

    method: str
    n: int
    lu: np.ndarray | None = None
    piv: np.ndarray | None = None
    A: np.ndarray | sp.csr_array | None = None
    norm1: float = 0.0
    rcond: float = float("nan")
    tol: float = 1e-13


def _rcond(lu: np.ndarray, anorm: float) -> float:
    """Estimate the reciprocal 1-norm condition number from LU factors."""
    gecon = sla.get_lapack_funcs("gecon", (lu,))
    rcond, info = gecon(lu, anorm, norm="1")
    return float(rcond) if info == 0 else 0.0


def factorize(
    A: np.ndarray | sp.spmatrix,
    *,
    method: str = "lu",
    labels: Sequence[Any] | None = None,
    tol: float = 1e-13,
    source: str = "MRIO",
) -> LeontiefFactor:
    """Factorize ``I - A`` once, for repeated :func:`solve_columns` calls.

    Parameters
    ----------
    A : ndarray or sparse matrix, shape (n, n)
        Technical coefficients (non-negative).
    method : {"lu", "mixed", "iterative"}
        See the module docstring.
    labels : sequence, optional
        Labels of the rows/columns, for error messages.
    tol : float
        Relative tolerance of the ``"mixed"`` and ``"iterative"`` methods.
    source : str
        Name used in error messages.

    Returns
    -------
    LeontiefFactor

    Raises
    ------
    MRIOError
        If a column sum of ``A`` is >= 1, or ``I - A`` is numerically singular
        (reciprocal condition number below ``RCOND_MIN``).
    """
    if method not in METHODS:
        raise MRIOError(f"unknown Leontief method {method!r}; use one of {', '.join(METHODS)}")
    n = A.shape[0]
    if A.shape != (n, n):
        raise MRIOError(f"{source}: A must be square, got shape {A.shape}; check Z")
    check_nonsingular(A, labels=labels, source=source)
    norm1 = float(column_sums(abs(A)).max(initial=0.0))
    if method == "iterative":
        Ai = sp.csr_array(A, dtype=np.float64) if sp.issparse(A) else np.asarray(A, np.float64)
        return LeontiefFactor("iterative", n, A=Ai, norm1=norm1, tol=tol)
    M = -(A.toarray() if sp.issparse(A) else np.array(A, dtype=np.float64))
    M[np.diag_indices(n)] += 1.0
    anorm = float(np.abs(M).sum(axis=0).max(initial=0.0))
    if method == "lu":
        lu, piv = sla.lu_factor(M, check_finite=False)
        rcond = _rcond(lu, anorm)
        _check_rcond(rcond, lu, labels, source)
        return LeontiefFactor("lu", n, lu=lu, piv=piv, norm1=norm1, rcond=rcond)
    lu, piv = sla.lu_factor(M.astype(np.float32), check_finite=False)
    rcond = _rcond(lu, np.float32(anorm))
    _check_rcond(rcond, lu, labels, source)
    Ak = sp.csr_array(A, dtype=np.float64) if sp.issparse(A) else np.asarray(A, np.float64)
    return LeontiefFactor("mixed", n, lu=lu, piv=piv, A=Ak, norm1=norm1, rcond=rcond, tol=tol)


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
    """
    Yb = np.asarray(Y_block, dtype=np.float64)
    vec = Yb.ndim == 1
    if vec:
        Yb = Yb[:, None]
    if factor.method == "lu":
        with _LAPACK_LOCK:
            X = sla.lu_solve((factor.lu, factor.piv), Yb, check_finite=False)
    elif factor.method == "mixed":
        with _LAPACK_LOCK:
            X = _solve_mixed(factor, Yb)
    else:
        X = _solve_neumann(factor, Yb)
    if rows is not None:
        X = X[np.asarray(rows, dtype=np.intp)]
    return X[:, 0] if vec else X


def _solve_mixed(factor: LeontiefFactor, Yb: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """float32 LU solve with float64 iterative refinement."""
    lu32 = (factor.lu, factor.piv)
    X = sla.lu_solve(lu32, Yb.astype(np.float32), check_finite=False).astype(np.float64)
    scale = np.maximum(np.abs(Yb).sum(axis=0), np.finfo(np.float64).tiny)
    for _ in range(max_iter):
        R = Yb - X + factor.A @ X
        if np.all(np.abs(R).sum(axis=0) <= factor.tol * scale):
            return X
        X += sla.lu_solve(lu32, R.astype(np.float32), check_finite=False)
    raise MRIOError(
        f"mixed-precision Leontief solve did not converge in {max_iter} refinements; "
        "use method='lu'"
    )


def _solve_neumann(factor: LeontiefFactor, Yb: np.ndarray, max_iter: int = 100_000) -> np.ndarray:
    """Block Neumann series with a rigorous 1-norm stopping rule."""
    s = factor.norm1
    X = Yb.copy()
    term = Yb
    for _ in range(max_iter):
        term = factor.A @ term
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
    x_rows = np.asarray(x_rows, dtype=np.float64)
    inv = np.zeros_like(x_rows)
    np.divide(1.0, x_rows, out=inv, where=x_rows != 0)
    return np.asarray(X_rows, dtype=np.float64) * inv[:, None]


def intensities(F: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return ``f = F / x`` (0 where ``x == 0``)."""
    return shares(np.asarray(F, dtype=np.float64)[:, None], x)[:, 0]
