"""The GRAS kernel (pipeline.kernels.gras) on hand-solvable cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import MRIOError
from pipeline.kernels.gras import fit_stack, gras, gras_step


def test_gras_step_solves_the_quadratic():
    # 2 z - 3 / z = 5  ->  2 z^2 - 5 z - 3 = 0  ->  z = 3
    assert gras_step(np.array([2.0]), np.array([3.0]), np.array([5.0]))[0] == pytest.approx(3)
    # only negatives: -4 / z = -2 -> z = 2; nothing at all: 1
    z = gras_step(np.array([0.0, 0.0]), np.array([4.0, 0.0]), np.array([-2.0, 1.0]))
    np.testing.assert_allclose(z, [2.0, 1.0])


def test_ras_by_hand():
    # rank-one prior: X = r s^T B with r = (1.5, 0.5), s = (1, 1)
    X, it = gras(np.ones((2, 2)), np.array([3.0, 1.0]), np.array([2.0, 2.0]), tol=1e-14)
    np.testing.assert_allclose(X, [[1.5, 1.5], [0.5, 0.5]], rtol=1e-13)
    assert it == 1
    with pytest.raises(MRIOError, match="RAS did not converge"):
        gras(np.eye(2), np.array([1.0, 2.0]), np.array([2.0, 1.0]), max_iter=50)


def test_capped_stack_by_hand():
    # two products, two provinces, one user; province 0 may take at most 1 in total
    prior = np.ones((2, 2, 1))
    rows, cols = np.ones((2, 2)), np.full((2, 1), 2.0)
    free = fit_stack(prior, rows, cols)
    np.testing.assert_allclose(free.X[:, :, 0], [[1, 1], [1, 1]])
    assert free.converged and free.iterations == 0
    res = fit_stack(prior, rows, cols, cap=np.array([[1.0], [np.inf]]), tol=1e-12)
    assert res.converged
    np.testing.assert_allclose(res.X[:, :, 0], [[0.5, 1.5], [0.5, 1.5]], rtol=1e-9)
    np.testing.assert_allclose(res.X.sum(axis=1), cols, rtol=1e-12)  # columns exact
    assert res.cap_excess.max() <= 1e-12 and res.row_error == pytest.approx(0.5, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_biproportional_truth_is_recovered(seed):
    """A prior scaled by any positive r, s is fitted back exactly from its margins."""
    rng = np.random.default_rng(seed)
    B = rng.uniform(0.0, 1.0, size=(3, 4, 5)) * (rng.uniform(size=(3, 4, 5)) > 0.2)
    B[:, :, 0] += 0.1
    B[:, 0, :] += 0.1
    B[:, 1, 2] = -0.3  # a negative cell (GRAS keeps its sign)
    r, s = rng.uniform(0.2, 5.0, size=(3, 4)), rng.uniform(0.2, 5.0, size=(3, 5))
    P, N = np.maximum(B, 0), np.maximum(-B, 0)
    rs = r[:, :, None] * s[:, None, :]
    truth = rs * P - N / rs
    res = fit_stack(B, truth.sum(2), truth.sum(1), tol=1e-13, max_iter=5000)
    assert res.converged
    np.testing.assert_allclose(res.X, truth, rtol=1e-7, atol=1e-9)
