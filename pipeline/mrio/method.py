"""The Leontief method for a table, chosen in one small function (:func:`choose_method`).

Method selection (``method="auto"``)
------------------------------------
No explicit inverse is ever formed. ``A = Z / x`` is not formed either: the one
dense ``n x n`` array is ``I - A``, built straight from ``Z`` (dense or sparse)
and factorized in place; ``A V`` products use ``Z`` itself (a sparse ``Z`` cut
into cache-sized tiles, :mod:`pipeline.kernels.spmm`).

1. ``n <= AUTO_LU_MAX`` (2,000): ``"lu"`` -- float64 LU, cheap at this size.
2. few final-demand columns: ``"iterative"`` (block Neumann series, no factor)
   when ``K nnz(Z) m * AUTO_LU_SPEEDUP < n^3``. ``K`` is the number of terms the
   Neumann stopping rule needs at worst, from the largest column sum ``s`` of
   ``A``: ``s^K s / (1 - s) <= tol``. ``AUTO_LU_SPEEDUP`` (30) is how much faster
   the dense float32 LU runs per flop than a sparse product per multiply-add.
   On the EXIOBASE-sized benchmark system (n = 9,800, 7.5 % nonzeros, s = 0.85)
   this picks the series for up to 22 columns; ``bench/mrio.py --few-columns``
   measured one column at 0.7 s by the series against 4.1 s by ``"mixed"``, and
   16 columns at 2.7 s against 3.9 s.
3. the float32 factor (``4 n^2`` bytes) does not fit in ``AUTO_DENSE_BYTES``
   (8 GiB, i.e. ``n`` above ~46,000) and ``Z`` is sparse: ``"iterative"``.
4. otherwise ``"mixed"``: float32 LU (half the flop and memory of float64) plus
   float64 iterative refinement with residuals ``Y - (I - A) X`` computed with
   ``Z``; it stops when every column's 1-norm residual is below ``tol`` (1e-13)
   times that of ``Y``. If the condition number bound makes refinement
   unreliable (``rcond < MIXED_RCOND_MIN``) or refinement stalls, the engine
   re-factorizes in float64 (``"lu"``) and solves again -- results always meet
   the tolerance. On the EXIOBASE-sized benchmark (``bench/mrio.py``, n = 9,800,
   343 columns) ``"mixed"`` needs two residuals and one correction and runs
   ~1.5x faster than ``"lu"`` in ~0.8x its memory; the Neumann series would need
   ~60 sparse products there.

Pass ``method="lu" | "mixed" | "iterative"`` to override. :func:`choose_method`
applies the rule once; pass its :class:`LeontiefMethod` as ``method`` to the
solvers of :mod:`pipeline.mrio.engine` so a caller that reports the choice does
not make it twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import scipy.sparse as sp

from pipeline.errors import MRIOError
from pipeline.kernels.leontief import METHODS, coefficient_column_sums, neumann_terms
from pipeline.mrio.model import MRIO

#: ``method="auto"`` uses float64 LU up to this many rows.
AUTO_LU_MAX = 2_000
#: Dense float32 LU flops per sparse multiply-add, in time (rule 2 of ``"auto"``).
AUTO_LU_SPEEDUP = 30
#: ``method="auto"`` uses the sparse Neumann series when a float32 factor exceeds this.
AUTO_DENSE_BYTES = 8 * 2**30
#: Below this reciprocal condition number ``"auto"`` does not trust ``"mixed"``.
MIXED_RCOND_MIN = 1e-5
#: How each method is described in progress messages.
METHOD_NAMES = {
    "lu": "float64 LU",
    "mixed": "float32 LU with float64 refinement",
    "iterative": "Neumann series (no factorization)",
}


def _few_columns(mrio: MRIO, tol: float) -> bool:
    """Rule 2 of the module docstring: the Neumann series beats factorizing."""
    m = mrio.Y.shape[1]
    nnz = mrio.Z.nnz if sp.issparse(mrio.Z) else mrio.n**2
    norm1 = float(coefficient_column_sums(mrio.Z, mrio.x).max(initial=0.0))
    return neumann_terms(norm1, tol) * nnz * m * AUTO_LU_SPEEDUP < float(mrio.n) ** 3


@dataclass(frozen=True)
class LeontiefMethod:
    """A Leontief method chosen once for a table (see :func:`choose_method`).

    Attributes
    ----------
    name : str
        One of ``"lu"``, ``"mixed"``, ``"iterative"``.
    automatic : bool
        Chosen by ``method="auto"``: an ill-conditioned or stalled ``"mixed"``
        then falls back to ``"lu"``; an explicit method never changes.
    """

    name: str
    automatic: bool

    @property
    def description(self) -> str:
        """How the method is named in progress messages (:data:`METHOD_NAMES`)."""
        return METHOD_NAMES[self.name]


def choose_method(mrio: MRIO, method: str, *, tol: float = 1e-13) -> LeontiefMethod:
    """Pick the Leontief method for ``mrio`` (rule in the module docstring).

    Parameters
    ----------
    mrio : MRIO
        The table.
    method : str
        ``"auto"`` or an explicit method (kept after a check).
    tol : float
        Relative tolerance the solve must meet (sets the Neumann series length).

    Returns
    -------
    LeontiefMethod
        Pass it as ``method`` to the solvers so they do not choose again.
    """
    if method != "auto":
        if method not in METHODS:
            raise MRIOError(
                f"unknown Leontief method {method!r}; use auto or one of {', '.join(METHODS)}"
            )
        return LeontiefMethod(method, automatic=False)
    if mrio.n <= AUTO_LU_MAX:
        return LeontiefMethod("lu", automatic=True)
    if _few_columns(mrio, tol) or (sp.issparse(mrio.Z) and 4 * mrio.n**2 > AUTO_DENSE_BYTES):
        return LeontiefMethod("iterative", automatic=True)
    return LeontiefMethod("mixed", automatic=True)


def resolve_method(mrio: MRIO, method: str, *, tol: float = 1e-13) -> str:
    """The name of :func:`choose_method`'s choice: ``"lu"``, ``"mixed"`` or ``"iterative"``."""
    return choose_method(mrio, method, tol=tol).name


def chosen(mrio: MRIO, method: str | LeontiefMethod, tol: float) -> LeontiefMethod:
    """``method`` if already chosen, else :func:`choose_method`'s choice."""
    if isinstance(method, LeontiefMethod):
        return method
    return choose_method(mrio, method, tol=tol)
