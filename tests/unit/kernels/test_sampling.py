"""Sampling kernels: mean-1 lognormal factors with the given CV, keyed streams."""

from __future__ import annotations

import numpy as np

from pipeline.kernels.sampling import lognormal_factors, realization_rng, rebalanced_output


def test_factors_have_mean_one_and_the_given_cv():
    n, cv = 200_000, 0.3
    f = lognormal_factors(realization_rng(1, 0, 0), (n,), cv)
    # standard errors: of the mean cv / sqrt(n) = 6.7e-4; of the std about 5.5e-4 here
    assert abs(f.mean() - 1) < 4 * cv / np.sqrt(n)
    assert abs(f.std(ddof=1) - cv) < 3e-3
    assert (f > 0).all()
    sigma2 = np.log1p(cv**2)
    assert abs(np.log(f).mean() + sigma2 / 2) < 4 * np.sqrt(sigma2 / n)


def test_zero_cv_gives_exactly_one_and_per_entry_cvs_broadcast():
    f = lognormal_factors(realization_rng(1, 0, 0), (3, 4), np.array([0.0, 0.1, 0.0, 0.2]))
    assert (f[:, [0, 2]] == 1.0).all() and (f[:, [1, 3]] != 1.0).all()


def test_stream_depends_on_seed_index_and_stream_only():
    a = realization_rng(5, 3, 1).standard_normal(4)
    again = realization_rng(5, 3, 1).standard_normal(4)
    spawned = np.random.SeedSequence(5).spawn(4)[3].spawn(2)[1]
    same = np.random.Generator(np.random.PCG64(spawned)).standard_normal(4)
    assert np.array_equal(a, again) and np.array_equal(a, same)
    others = [realization_rng(5, 2, 1), realization_rng(5, 3, 0), realization_rng(6, 3, 1)]
    assert all(not np.array_equal(a, g.standard_normal(4)) for g in others)


def test_rebalanced_output_keeps_the_balance_residual():
    x = np.array([10.0, 20.0])
    assert np.array_equal(rebalanced_output(x, np.array([9.0, 20.0]), np.array([9.0, 20.0])), x)
    out = rebalanced_output(x, np.array([9.0, 20.0]), np.array([11.0, 15.0]))
    assert np.array_equal(out, [12.0, 15.0])
