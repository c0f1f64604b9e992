"""Monte Carlo variance on the hand-solvable two-region MRIO (tests/helpers/two_region.py).

Only ``F`` is perturbed (cv 0.1), through the run's own realization function:
the shares stay ``S = [[0.8, 0.2], [0.2, 0.8]]``, so consumer c's MRIO footprint
``sum_r F_r phi_r S[r, c]`` has variance ``cv^2 sum_r (F_r S[r, c])^2``:
``0.01 (80^2 + 10^2) = 65`` t^2 for A and ``0.01 (20^2 + 40^2) = 20`` t^2 for B.
Only the inventory perturbed (cv 0.2), consumer c's grid total
``sum_r E_r phi_r S[r, c]`` has variance ``cv^2 sum_r (E_r S[r, c])^2``.
"""

from __future__ import annotations

import numpy as np
from helpers import two_region

from pipeline.attribution.ensemble import EnsembleSpec, attribution_stack, realize

N = 2000
#: Relative standard error of a sample variance of near-normal draws: sqrt(2 / (N - 1))
#: = 3.2 %; lognormal cv 0.1-0.2 adds little kurtosis. Tolerance: 4 standard errors.
TOLERANCE = 4 * np.sqrt(2.2 / (N - 1))


def _realizations(mrio_cv, inventory_cv):
    spec = EnsembleSpec(
        seed=11,
        mrio_cv=mrio_cv,
        inventory_cv=np.array([inventory_cv]),
        method="lu",
        balance_rtol=1e-6,
        producers=("A", "B"),
    )
    options = dict(
        table=two_region.table(),
        concordance=two_region.concordance(),
        spec=spec,
        inputs=two_region.inputs(),
    )
    return [realize(i, **options) for i in range(N)]


def test_f_only_variance_matches_the_analytic_one():
    found = _realizations({"F": 0.1}, 0.0)
    totals = np.stack([r.mrio_footprint for r in found])
    analytic_mean = two_region.F @ two_region.SHARES  # 90, 60
    analytic_var = 0.01 * ((two_region.F[:, None] * two_region.SHARES) ** 2).sum(axis=0)
    assert np.allclose(analytic_mean, [90.0, 60.0]) and np.allclose(analytic_var, [65.0, 20.0])
    variance = totals.var(axis=0, ddof=1)
    assert np.all(np.abs(variance / analytic_var - 1) < TOLERANCE), (variance, analytic_var)
    standard_error = np.sqrt(analytic_var / N)
    assert np.all(np.abs(totals.mean(axis=0) - analytic_mean) < 3 * standard_error)
    # the region tables do not depend on F here (one MRIO sector per inventory sector)
    assert all(np.allclose(r.tables[:, 0, :, 0], two_region.SHARES, rtol=1e-12) for r in found)
    assert sum(r.redraws for r in found) == 0


def test_inventory_only_variance_of_the_grid_totals():
    found = _realizations(0.0, 0.2)
    inputs = two_region.inputs()
    totals = attribution_stack(np.stack([r.tables for r in found]), inputs).sum(axis=(1, 2, 4))
    E = np.array([1000.0, 500.0])
    analytic_var = 0.04 * ((E[:, None] * two_region.SHARES) ** 2).sum(axis=0)  # 25,700 and 10,400
    variance = totals.var(axis=0, ddof=1)
    assert np.all(np.abs(variance / analytic_var - 1) < TOLERANCE), (variance, analytic_var)
    assert np.all(
        np.abs(totals.mean(axis=0) - E @ two_region.SHARES) < 3 * np.sqrt(analytic_var / N)
    )
