"""A scenario's region tables ``T' = phi (M + sum_i w dX / x)``, against loops."""

from __future__ import annotations

import numpy as np

from pipeline.attribution.scenario_tables import scenario_tables


def inputs(seed=4):
    rng = np.random.default_rng(seed)
    m = rng.random((3, 4, 5, 2))
    m /= m.sum(axis=(2, 3), keepdims=True)
    w = rng.random((3, 4, 6))
    w /= w.sum(axis=2, keepdims=True)
    ds = rng.normal(0, 0.1, (3, 6, 5, 2))
    return m, w, ds


def test_tables_follow_the_formula_cell_by_cell():
    m, w, ds = inputs()
    direct = np.array([-1, -1, 0, -1])  # sector 2 is household fuel
    phi = np.ones((3, 4))
    phi[1, 3] = 0.7
    got = scenario_tables(m, w, ds, direct, phi)
    for r in range(3):
        for s in range(4):
            change = 0.0 if s == 2 else sum(w[r, s, i] * ds[r, i] for i in range(6))
            np.testing.assert_allclose(got[r, s], phi[r, s] * (m[r, s] + change), rtol=1e-14)
    np.testing.assert_array_equal(got[:, 2], m[:, 2])


def test_no_change_gives_the_baseline_exactly():
    m, w, ds = inputs()
    same = scenario_tables(m, w, np.zeros_like(ds), np.full(4, -1), np.ones((3, 4)))
    np.testing.assert_array_equal(same, m)
    assert not np.allclose(scenario_tables(m, w, ds, np.full(4, -1), np.ones((3, 4))), m)
