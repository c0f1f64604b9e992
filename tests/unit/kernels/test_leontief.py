"""Kernels: hand-solved system, dense-inverse oracle, methods, errors, invariant."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.attribution.conservation import check_row_conservation
from pipeline.errors import ConservationError, MRIOError
from pipeline.kernels.leontief import (
    factorize,
    intensities,
    row_errors,
    shares,
    solve_columns,
    technical_coefficients,
)
from pipeline.mrio import MRIO, attribute, attribution_shares, solve_final_demand

# Hand-solved 2 regions (A, B) x 1 sector, one household column per region.
#   x = [100, 200], Z = [[20, 40], [10, 60]]  ->  A = [[0.2, 0.2], [0.1, 0.3]]
#   Y = [[30, 10], [20, 110]]                 (row sums 40, 130 = x - Z·1)
#   I-A = [[0.8, -0.2], [-0.1, 0.7]], det = 0.54, (I-A)^-1 = [[0.7, 0.2], [0.1, 0.8]] / 0.54
#   X[:, A] = [0.7*30 + 0.2*20, 0.1*30 + 0.8*20] / 0.54 = [25, 19] / 0.54
#   X[:, B] = [0.7*10 + 0.2*110, 0.1*10 + 0.8*110] / 0.54 = [29, 89] / 0.54
#   S = X / x: row A [25/54, 29/54], row B [19/108, 89/108]
#   F = [50, 20]: attribution row A [50*25/54, 50*29/54], row B [20*19/108, 20*89/108]
Z2 = np.array([[20.0, 40.0], [10.0, 60.0]])
Y2 = np.array([[30.0, 10.0], [20.0, 110.0]])
X2 = np.array([[25.0, 29.0], [19.0, 89.0]]) / 0.54
S2 = np.array([[25 / 54, 29 / 54], [19 / 108, 89 / 108]])
E2 = np.array([[50 * 25 / 54, 50 * 29 / 54], [20 * 19 / 108, 20 * 89 / 108]])


def hand_mrio() -> MRIO:
    rows = pd.MultiIndex.from_tuples([("A", "s"), ("B", "s")], names=["region", "sector"])
    cols = pd.MultiIndex.from_tuples([("A", "hh"), ("B", "hh")], names=["region", "category"])
    return MRIO(
        Z=Z2,
        Y=Y2,
        x=np.array([100.0, 200.0]),
        F=np.array([50.0, 20.0]),
        F_Y=None,
        rows=rows,
        fd_columns=cols,
    ).validate()


def test_technical_coefficients_dense_sparse_and_zero_output():
    A = technical_coefficients(Z2, np.array([100.0, 200.0]))
    np.testing.assert_allclose(A, [[0.2, 0.2], [0.1, 0.3]], rtol=1e-15)
    As = technical_coefficients(sp.csr_array(Z2), np.array([100.0, 200.0]))
    assert sp.issparse(As)
    np.testing.assert_allclose(As.toarray(), A, rtol=1e-15)
    A0 = technical_coefficients(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([0.0, 4.0]))
    np.testing.assert_array_equal(A0, [[0.0, 0.25], [0.0, 0.25]])


@pytest.mark.parametrize("method", ["lu", "mixed", "iterative"])
def test_hand_solved_X(method):
    f = factorize(technical_coefficients(Z2, np.array([100.0, 200.0])), method=method)
    np.testing.assert_allclose(solve_columns(f, Y2), X2, rtol=1e-12)
    np.testing.assert_allclose(solve_columns(f, Y2, rows=np.array([1])), X2[[1]], rtol=1e-12)
    np.testing.assert_allclose(solve_columns(f, Y2[:, 0]), X2[:, 0], rtol=1e-12)


def test_hand_solved_shares_and_attribution():
    m = hand_mrio()
    np.testing.assert_allclose(solve_final_demand(m), X2, rtol=1e-13)
    S = attribution_shares(m)
    assert S.dims == ("region", "sector", "consumer", "category")
    np.testing.assert_allclose(S.values[:, 0, :, 0], S2, rtol=1e-13)
    E = attribute(m)
    np.testing.assert_allclose(E.values[:, 0, :, 0], E2, rtol=1e-13)
    assert E.attrs["units"] == "t" and S.attrs["units"] == "1"
    # only region B kept
    np.testing.assert_allclose(attribute(m, regions="B").values[0, 0, :, 0], E2[1], rtol=1e-13)


def test_shares_zero_output_row_is_zero():
    np.testing.assert_array_equal(
        shares(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([3.0, 0.0])),
        [[1 / 3, 2 / 3], [0.0, 0.0]],
    )
    np.testing.assert_array_equal(intensities(np.array([6.0, 0.0]), np.array([3.0, 0.0])), [2, 0])


def _random_system(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    A *= rng.uniform(0.2, 0.85, n) / np.maximum(A.sum(axis=0), 1e-12)
    return A, rng.random((n, 7)) * 100


def test_equals_dense_inverse_oracle():
    A, Y = _random_system(60, 1)
    oracle = np.linalg.inv(np.eye(60) - A) @ Y  # the ONLY explicit inverse: a test oracle
    for method in ("lu", "mixed", "iterative"):
        X = solve_columns(factorize(A, method=method), Y)
        np.testing.assert_allclose(X, oracle, rtol=1e-9, err_msg=method)
    Xs = solve_columns(factorize(sp.csr_array(A), method="iterative"), Y)
    np.testing.assert_allclose(Xs, oracle, rtol=1e-9)


def test_column_sum_at_least_one_names_column():
    A = np.array([[0.5, 0.2], [0.6, 0.1]])
    with pytest.raises(MRIOError, match=r"column \('A', 's'\) of A = Z/x sums to 1\.1.*singular"):
        factorize(A, method="iterative", labels=[("A", "s"), ("B", "s")])
    with pytest.raises(MRIOError, match="singular"):
        factorize(A, method="lu", labels=[("A", "s"), ("B", "s")])


def test_near_singular_detected_by_rcond():
    # column sums 0.9999999999999 (< 1) but I-A almost singular
    eps = 1e-13
    A = np.array([[0.5, 0.5 - eps], [0.5 - eps, 0.5]])
    with pytest.raises(MRIOError, match="numerically singular"):
        factorize(A, method="lu", labels=["a", "b"])


@pytest.mark.parametrize("method", ["lu", "mixed"])
def test_rcond_is_free_bound_for_nonnegative_a_else_lapack_estimate(method):
    A, _ = _random_system(40, 3)
    s = A.sum(axis=0).max()
    true_rcond = 1.0 / np.linalg.cond(np.eye(40) - A, 1)  # what the bound bounds
    bound = factorize(A, method=method).rcond
    assert bound == pytest.approx((1 - s) / (1 + s), rel=1e-12)
    assert bound <= true_rcond
    # one negative entry: no free bound; LAPACK estimates the infinity-norm one
    A[0, 1] = -0.01
    estimate = factorize(sp.csr_array(A), method=method).rcond
    true_inf = 1.0 / np.linalg.cond(np.eye(40) - A, np.inf)
    # (an estimate of the inverse's norm from below, so of rcond from above)
    assert true_inf * 0.9999 <= estimate <= true_inf * 3 and estimate != bound


def test_sparse_and_dense_factor_identically():
    A, Y = _random_system(57, 4)
    dense, sparse = factorize(A, method="mixed"), factorize(sp.csr_array(A), method="mixed")
    np.testing.assert_array_equal(dense.lu, sparse.lu)  # same I - A, built in row blocks
    # residuals differ only in summation order (sparse vs dense products)
    np.testing.assert_allclose(solve_columns(dense, Y), solve_columns(sparse, Y), rtol=1e-13)


def test_unknown_method():
    with pytest.raises(MRIOError, match="unknown Leontief method 'qr'"):
        factorize(np.zeros((2, 2)), method="qr")


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 8), m=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_shares_sum_to_one_over_consumers(n, m, seed):
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    A *= rng.uniform(0.0, 0.9, n) / np.maximum(A.sum(axis=0), 1e-12)
    Y = rng.random((n, m)) * (rng.random((n, m)) < 0.7)
    x = np.linalg.solve(np.eye(n) - A, Y.sum(axis=1))
    Z = A * x[None, :]
    rows = pd.MultiIndex.from_tuples(
        [(f"r{i % 2}", f"s{i}") for i in range(n)], names=["region", "sector"]
    )
    cols = pd.MultiIndex.from_tuples(
        [(f"r{k % 3}", f"c{k}") for k in range(m)], names=["region", "category"]
    )
    mr = MRIO(Z=Z, Y=Y, x=x, F=np.zeros(n), F_Y=None, rows=rows, fd_columns=cols)
    mr.validate(balance_rtol=1e-9)
    S = solve_final_demand(mr) / np.where(x > 0, x, 1.0)[:, None]
    tot = S.sum(axis=1)
    np.testing.assert_allclose(tot[x > 1e-12], 1.0, rtol=1e-9)
    da = attribution_shares(mr).sum(("consumer", "category"))
    for (reg, sec), xi in zip(rows, x, strict=True):
        if xi > 1e-9 * x.max():
            assert da.sel(region=reg, sector=sec).item() == pytest.approx(1.0, rel=1e-9)


def leaky_mrio() -> MRIO:
    """Row A sells 10 to a sector of B with zero output: those 10 are never driven by demand.

    Only row A's final demand (20 + 10) and its sales to producing sectors can be
    traced; the 10 into the zero-output column are lost, so row A is attributed
    less than its F. Hand solution: x' = (I - A)^-1 Y 1 for rows A, B with
    A = [[0.2, 0.2], [0.1, 0.3]], Y 1 = [30, 130] -> x'_A = (0.7*30 + 0.2*130) / 0.54
    = 87.04, so A's attributed share is 0.8704 and the gap 0.1296 (= 7/54).
    """
    rows = pd.MultiIndex.from_tuples(
        [("A", "s"), ("B", "s"), ("B", "t")], names=["region", "sector"]
    )
    cols = pd.MultiIndex.from_tuples([("A", "hh"), ("B", "hh")], names=["region", "category"])
    Z = np.array([[20.0, 40.0, 10.0], [10.0, 60.0, 0.0], [0.0, 0.0, 0.0]])
    Y = np.array([[20.0, 10.0], [20.0, 110.0], [0.0, 0.0]])
    x, F = np.array([100.0, 200.0, 0.0]), np.array([50.0, 20.0, 0.0])
    return MRIO(Z=Z, Y=Y, x=x, F=F, F_Y=None, rows=rows, fd_columns=cols).validate()


def test_every_row_is_checked_even_rows_not_kept():
    good = attribution_shares(hand_mrio(), regions=["B"])
    assert good.attrs["row_conservation_max_rel_error"] < 1e-14
    leaky = attribution_shares(leaky_mrio(), regions=["B"])  # A is not kept, yet checked
    assert leaky.attrs["row_conservation_max_rel_error"] == pytest.approx(7 / 54, rel=1e-12)
    assert leaky.attrs["row_conservation_worst_row"] == "('A', 's')"
    with pytest.raises(ConservationError, match=r"MRIO row \('A', 's'\)"):
        check_row_conservation(leaky.attrs)
    assert check_row_conservation(good.attrs) == good.attrs["row_conservation_max_rel_error"]


def test_row_errors_never_pass_non_finite_values():
    F = np.array([10.0, 1e-20, 5.0, 0.0])
    gaps = row_errors(F, np.array([10.0 + 1e-9, 2e-20, np.inf, 0.0]))
    np.testing.assert_allclose(gaps[[0, 1, 3]], [1e-10, 1e-20 / 1e-11, 0.0], rtol=1e-6)
    assert np.isnan(gaps[2])
    attrs = {"row_conservation_max_rel_error": float("nan"), "row_conservation_worst_row": "r"}
    with pytest.raises(ConservationError):
        check_row_conservation(attrs)


@pytest.mark.parametrize("method", ["lu", "mixed"])
def test_solving_never_changes_the_shared_pivots(method):
    """SciPy's getrs wrapper shifts the pivots in place during a call: a worker that
    serialized the factor meanwhile sent shifted pivots to another worker, which then
    solved every block wrongly. Each solve must use a private copy."""
    import threading

    rng = np.random.default_rng(7)
    n = 300
    Z = rng.random((n, n)) * (rng.random((n, n)) < 0.2)
    x = Z.sum(axis=0) * 1.5 + 1.0  # column sums of A about 2/3
    factor = factorize(Z, x, method=method)
    pivots = factor.piv.copy()
    changed, stop = [], threading.Event()

    def watch():
        while not stop.is_set() and not changed:
            if not np.array_equal(factor.piv, pivots):
                changed.append(factor.piv.copy())

    watcher = threading.Thread(target=watch)
    watcher.start()
    Y = rng.random((n, 256))
    try:
        first = solve_columns(factor, Y)
        for _ in range(20):
            again = solve_columns(factor, Y)
    finally:
        stop.set()
        watcher.join()
    assert not changed, "a solve shifted the shared pivots"
    np.testing.assert_array_equal(again, first)
