r"""GRAS: sign-preserving biproportional scaling (pure numpy, no I/O).

GRAS (Junius & Oosterhaven 2003; Lenzen, Wood & Gallego 2007) scales a prior
$B = P - N$ ($P, N \ge 0$) to $X = \hat r P \hat s - \hat r^{-1} N \hat s^{-1}$ so that
$X\mathbf 1 = u$ and $X^\top \mathbf 1 = v$. Signs are preserved, so negative
inventory-change cells are allowed. Without negatives it is plain RAS. Each half
step solves $p z - n / z = t$ for $z > 0$ (:func:`gras_step`).

:func:`gras` fits one matrix and ends on the row step. :func:`fit_stack` fits a stack
of matrices ``prior[h]`` at once, ends on the column step (columns hold to rounding)
and can keep the stack totals $\sum_h X[h, r, c]$ below ``cap[r, c]``: when the GRAS
result exceeds a cap, a factor $w[r, c] \le 1$ on $P$ is lowered there (raised back
toward 1 where there is room) alternately with the column fit, which moves the excess
to other rows. The row targets are then soft.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import MRIOError

_TINY = np.finfo(np.float64).tiny


def gras_step(p: np.ndarray, n: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Solve ``p z - n / z = t`` for ``z >= 0`` elementwise (1 where undetermined).

    Parameters
    ----------
    p, n : ndarray
        Sums of the positive and (absolute) negative parts, already scaled.
    t : ndarray
        Targets.

    Returns
    -------
    ndarray
        The multipliers ``z``.
    """
    z = np.ones(np.shape(t), dtype=np.float64)
    pos = p > 0
    tp, pp, npos = t[pos], p[pos], n[pos]
    z[pos] = (tp + np.sqrt(tp**2 + 4.0 * pp * npos)) / (2.0 * pp)
    neg = ~pos & (n > 0) & (t < 0)
    z[neg] = -n[neg] / t[neg]
    return z


def relative_error(got: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``|got - target| / |target|`` elementwise, 0 where both are 0 (inf if only target is)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(got - target) / np.maximum(np.abs(target), _TINY)
    return np.where((target == 0) & (got == 0), 0.0, err)


def _over(N: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``N / d`` with 0 where ``N == 0`` (``d`` may be 0 there)."""
    d = np.broadcast_to(d, N.shape)
    return np.divide(N, d, out=np.zeros_like(N), where=N > 0)


def gras(
    B: np.ndarray, u: np.ndarray, v: np.ndarray, *, tol: float = 1e-10, max_iter: int = 1000
) -> tuple[np.ndarray, int]:
    """Scale ``B`` (may hold negatives) to row sums ``u`` and column sums ``v``.

    Parameters
    ----------
    B : ndarray, shape (r, c)
        Prior matrix.
    u : ndarray, shape (r,)
        Row targets.
    v : ndarray, shape (c,)
        Column targets (``v.sum()`` should equal ``u.sum()``).
    tol : float
        Convergence: largest relative row and column error.
    max_iter : int
        Iteration limit.

    Returns
    -------
    (ndarray, int)
        The adjusted matrix and the number of iterations (0 if ``B`` already fits).

    Raises
    ------
    MRIOError
        If it does not converge within ``max_iter`` (the margins are infeasible for the
        prior's pattern of zeros and signs, or ``max_iter`` is too small).
    """
    P = np.where(B > 0, B, 0.0)
    N = np.where(B < 0, -B, 0.0)
    r, s = np.ones(B.shape[0]), np.ones(B.shape[1])
    X, it = B, 0

    def worst(X: np.ndarray) -> tuple[float, float]:
        re = relative_error(X.sum(axis=1), u).max(initial=0.0)
        ce = relative_error(X.sum(axis=0), v).max(initial=0.0)
        return float(re), float(ce)

    re, ce = worst(X)
    while (re > tol or ce > tol) and it < max_iter:
        it += 1
        s = gras_step(r @ P, _over(N, r[:, None]).sum(axis=0), v)
        r = gras_step(P @ s, _over(N, s[None, :]).sum(axis=1), u)
        X = r[:, None] * P * s[None, :] - _over(N, r[:, None] * s[None, :])
        re, ce = worst(X)
    if re > tol or ce > tol:
        i = int(np.argmax(relative_error(X.sum(axis=1), u)))
        raise MRIOError(
            f"RAS did not converge in {max_iter} iterations (row error {re:.3g}, column "
            f"error {ce:.3g}, worst row #{i}); the targets cannot be met from this prior"
        )
    return X, it


@dataclass(frozen=True)
class StackFit:
    """Result of :func:`fit_stack`.

    Attributes
    ----------
    X : ndarray, shape (H, R, C)
        The fitted stack.
    iterations : int
        Iterations run (0 if the prior already fits).
    row_error, column_error : float
        Largest relative row and column misfit.
    cap_excess : ndarray, shape (R, C)
        ``max(sum_h X - cap, 0)`` (zeros without a cap).
    converged : bool
        Columns within ``tol``, caps held, and rows within ``tol`` or no longer moving.
    """

    X: np.ndarray
    iterations: int
    row_error: float
    column_error: float
    cap_excess: np.ndarray
    converged: bool


def _biproportional(prior, row_targets, col_targets, tol, max_iter):
    """Phase 1 of :func:`fit_stack`: GRAS ending on the column step; (X, iterations)."""
    P = np.where(prior > 0, prior, 0.0)
    N = np.where(prior < 0, -prior, 0.0)
    H, R, C = prior.shape
    r, s = np.ones((H, R)), np.ones((H, C))
    X, it, moving = prior, 0, np.inf
    re, ce = _misfit(X, row_targets, col_targets)
    while not (ce <= tol and (re <= tol or moving <= tol)) and it < max_iter:
        it += 1
        r = gras_step((P * s[:, None, :]).sum(2), _over(N, s[:, None, :]).sum(2), row_targets)
        s = gras_step((P * r[:, :, None]).sum(1), _over(N, r[:, :, None]).sum(1), col_targets)
        rs = r[:, :, None] * s[:, None, :]
        X_new = rs * P - _over(N, rs)
        moving = float(relative_error(X_new, X).max(initial=0.0))
        X = X_new
        re, ce = _misfit(X, row_targets, col_targets)
    return X, it


def _capped_columns(X0, col_targets, cap, tol, max_iter):
    """Phase 2: keep the columns and bring ``sum_h X`` under ``cap``; (X, iterations).

    Cyclic projections onto the caps (factor ``w <= 1``, raised back where there is
    room) and onto the column targets (factor ``s``), starting from ``X0``.
    """
    P = np.where(X0 > 0, X0, 0.0)
    N = np.where(X0 < 0, -X0, 0.0)
    s, w = np.ones(col_targets.shape), np.ones(cap.shape)
    nsum = N.sum(axis=1)
    X, it = X0, 0
    while not _capped_ok(X, col_targets, cap, tol) and it < max_iter:
        it += 1
        tot = X.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(tot > 0, cap / np.where(tot > 0, tot, 1.0), 1.0)
        w = np.minimum(1.0, w * ratio)  # w > 0 wherever cap > 0, so no 0 * inf
        s = gras_step((P * w[None]).sum(axis=1), nsum, col_targets)
        X = s[:, None, :] * P * w[None] - _over(N, s[:, None, :])
    return X, it


def _misfit(X, row_targets, col_targets) -> tuple[float, float]:
    re = relative_error(X.sum(axis=2), row_targets).max(initial=0.0)
    ce = relative_error(X.sum(axis=1), col_targets).max(initial=0.0)
    return float(re), float(ce)


def _capped_ok(X, col_targets, cap, tol) -> bool:
    ce = relative_error(X.sum(axis=1), col_targets).max(initial=0.0)
    return bool(ce <= tol and (X.sum(axis=0) - cap <= tol * np.abs(cap)).all())


def fit_stack(
    prior: np.ndarray,
    row_targets: np.ndarray,
    col_targets: np.ndarray,
    *,
    cap: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> StackFit:
    """Fit each ``prior[h]`` to rows ``row_targets[h]`` and columns ``col_targets[h]``.

    Phase 1 is GRAS per ``h`` (ending on the column step; rows are soft: it stops
    when they fit or stop moving). If the totals then exceed ``cap``, phase 2
    alternates the cap and the column fit from that result.

    Parameters
    ----------
    prior : ndarray, shape (H, R, C)
        Prior matrices (capped cells must be non-negative).
    row_targets, col_targets : ndarray, shapes (H, R) and (H, C)
        For each ``h``, ``row_targets[h].sum()`` should equal ``col_targets[h].sum()``.
    cap : ndarray of shape (R, C), optional
        Upper bounds of ``sum_h X[h]`` (``inf`` = none).
    tol : float
        Convergence tolerance (relative).
    max_iter : int
        Iteration limit of each phase; the caller judges a fit that did not converge.

    Returns
    -------
    StackFit: the fit; ``converged`` says whether columns and caps met ``tol``.
    """
    cap = np.full(prior.shape[1:], np.inf) if cap is None else np.asarray(cap, np.float64)
    X, it = _biproportional(prior, row_targets, col_targets, tol, max_iter)
    if not _capped_ok(X, col_targets, cap, tol) and np.isfinite(cap).any():
        X, it2 = _capped_columns(X, col_targets, cap, tol, max_iter)
        it += it2
    re, ce = _misfit(X, row_targets, col_targets)
    excess = np.maximum(X.sum(axis=0) - cap, 0.0)
    return StackFit(X, it, re, ce, excess, _capped_ok(X, col_targets, cap, tol))
