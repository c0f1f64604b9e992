"""Perturbed MRIO tables for Monte Carlo realizations, each valid like an input.

A realization multiplies every entry of ``Z``, ``Y`` and ``F`` by its own
mean-1 lognormal factor with coefficient of variation ``cv``
(:func:`pipeline.kernels.sampling.lognormal_factors`): signs and zeros are kept
(negative inventory change stays negative). ``x`` is recomputed from the
perturbed uses (:func:`pipeline.kernels.sampling.rebalanced_output`). The table
is then validated as an input is (:func:`pipeline.mrio.model.validate`); one
that fails (e.g. a column sum of ``A`` reaching 1, or a negative output) is
drawn again from the same stream, and the redraws are counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from pipeline.errors import MRIOError
from pipeline.kernels.sampling import lognormal_factors, rebalanced_output
from pipeline.mrio.model import MRIO, validate

#: A realization drawn this many times without a valid table stops the run.
MAX_REDRAWS = 100


def _row_sums(a) -> np.ndarray:
    return np.asarray(a.sum(axis=1), dtype=np.float64).ravel()


def _perturbed_z(Z, rng: np.random.Generator, cv: float):
    """``Z`` times one factor per entry (per stored entry of a sparse ``Z``)."""
    if sp.issparse(Z):
        out = sp.csr_array(Z, copy=True)
        out.data = out.data * lognormal_factors(rng, out.data.shape, cv)
        return out
    Z = np.asarray(Z, dtype=np.float64)
    return Z * lognormal_factors(rng, Z.shape, cv)


def matrix_cvs(cv: float | Mapping[str, float]) -> dict[str, float]:
    """``{"Z": ..., "Y": ..., "F": ...}`` from one number or a mapping (missing: 0)."""
    if isinstance(cv, Mapping):
        return {name: float(cv.get(name, 0.0)) for name in ("Z", "Y", "F")}
    return dict.fromkeys(("Z", "Y", "F"), float(cv))


def draw_table(mrio: MRIO, rng: np.random.Generator, cv: float | Mapping[str, float]) -> MRIO:
    """One perturbed table (not validated): ``Z``, ``Y`` and ``F`` drawn in that order.

    ``cv`` is one coefficient of variation, or one per matrix (:func:`matrix_cvs`);
    every matrix draws its normals even at 0, so the stream's use is fixed.
    """
    cvs = matrix_cvs(cv)
    Z = _perturbed_z(mrio.Z, rng, cvs["Z"])
    Y = np.asarray(mrio.Y, dtype=np.float64)
    Y = Y * lognormal_factors(rng, Y.shape, cvs["Y"])
    F = np.asarray(mrio.F, dtype=np.float64)
    F = F * lognormal_factors(rng, F.shape, cvs["F"])
    uses = _row_sums(mrio.Z) + _row_sums(mrio.Y)
    x = rebalanced_output(mrio.x, uses, _row_sums(Z) + _row_sums(Y))
    return dataclasses.replace(mrio, Z=Z, Y=Y, F=F, x=x)


def perturbed_table(
    mrio: MRIO,
    rng: np.random.Generator,
    cv: float | Mapping[str, float],
    *,
    balance_rtol: float = 1e-6,
    max_redraws: int = MAX_REDRAWS,
) -> tuple[MRIO, int]:
    """A valid perturbed table and the number of redraws it took.

    Parameters
    ----------
    mrio : MRIO
        The validated table.
    rng : numpy.random.Generator
        The realization's MRIO stream.
    cv : float or mapping
        Coefficient of variation of every entry, or one per matrix (``Z``, ``Y``,
        ``F``); all 0 returns ``mrio`` itself.
    balance_rtol : float
        As for the input (the perturbed table keeps the input's balance).
    max_redraws : int
        Redraws allowed before giving up.

    Raises
    ------
    MRIOError
        If no valid table was drawn in ``max_redraws + 1`` draws.
    """
    if not any(matrix_cvs(cv).values()):
        return mrio, 0
    last = ""
    for redraws in range(max_redraws + 1):
        table = draw_table(mrio, rng, cv)
        try:
            return validate(table, balance_rtol=balance_rtol, source="realization"), redraws
        except MRIOError as exc:
            last = str(exc)
    raise MRIOError(
        f"no valid table in {max_redraws + 1} draws with `mrio_cv` = {cv} "
        f"(last: {last}); lower `mrio_cv`"
    )
