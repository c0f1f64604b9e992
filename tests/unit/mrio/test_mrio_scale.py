"""A scale-ish sparse system: methods agree, restricted rows, auto rule and fallback."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pipeline.errors import MRIOError
from pipeline.kernels.leontief import RefinementError, factorize, solve_columns
from pipeline.mrio import MRIO, attribute, engine, solve_final_demand
from pipeline.mrio import method as leontief_method

R, S, K = 10, 150, 3  # n = 1,500 rows, m = 30 final-demand columns


@pytest.fixture(scope="module")
def big() -> MRIO:
    rng = np.random.default_rng(11)
    n, m = R * S, R * K
    A = sp.random_array((n, n), density=0.075, format="csc", rng=rng)
    A = A @ sp.diags_array(rng.uniform(0.3, 0.85, n) / np.asarray(A.sum(axis=0)).ravel())
    Y = rng.lognormal(0.0, 1.0, (n, m))
    x = solve_columns(factorize(A.toarray(), method="lu"), Y.sum(axis=1))
    Z = sp.csr_array(A @ sp.diags_array(x))
    rows = pd.MultiIndex.from_tuples(
        [(f"R{r}", f"S{s}") for r in range(R) for s in range(S)], names=["region", "sector"]
    )
    cols = pd.MultiIndex.from_tuples(
        [(f"R{r}", f"C{k}") for r in range(R) for k in range(K)], names=["region", "category"]
    )
    return MRIO(
        Z=Z,
        Y=Y,
        x=np.asarray(Z.sum(axis=1)).ravel() + Y.sum(axis=1),
        F=rng.uniform(0, 1, n) * x,
        F_Y=None,
        rows=rows,
        fd_columns=cols,
    ).validate(balance_rtol=1e-9)


@pytest.fixture(scope="module")
def reference(big) -> np.ndarray:
    return solve_final_demand(big, method="lu")


@pytest.mark.parametrize("method", ["mixed", "iterative", "auto"])
def test_methods_agree(big, reference, method):
    X = solve_final_demand(big, method=method)
    np.testing.assert_allclose(X, reference, rtol=1e-9, atol=1e-12 * np.abs(reference).max())
    # every row's output is fully attributed: X 1 = x
    np.testing.assert_allclose(X.sum(axis=1), big.x, rtol=1e-9)


def test_dense_z_equals_sparse_z(big, reference):
    dense = MRIO(**{**big.__dict__, "Z": big.Z.toarray()})
    for method in ("lu", "mixed"):
        np.testing.assert_allclose(
            solve_final_demand(dense, method=method), reference, rtol=1e-9, err_msg=method
        )


def test_restricted_rows(big, reference):
    keep = big.region_rows("R7")
    for method in ("lu", "mixed"):
        part = solve_final_demand(big, rows=keep, method=method, block_columns=8)
        np.testing.assert_allclose(part, reference[keep], rtol=1e-9)
    E = attribute(big, regions=["R7"], method="mixed")
    assert list(E.region.values) == ["R7"]
    full = attribute(big, method="lu").sel(region=["R7"])
    np.testing.assert_allclose(E.values, full.values, rtol=1e-9, atol=1e-9 * full.values.max())


def test_auto_rule(big, monkeypatch):
    assert leontief_method.resolve_method(big, "auto") == "lu"  # n <= AUTO_LU_MAX
    monkeypatch.setattr(leontief_method, "AUTO_LU_MAX", 100)
    assert leontief_method.resolve_method(big, "auto") == "mixed"
    monkeypatch.setattr(leontief_method, "AUTO_DENSE_BYTES", 1000)
    assert leontief_method.resolve_method(big, "auto") == "iterative"
    assert leontief_method.resolve_method(big, "lu") == "lu"
    with pytest.raises(MRIOError, match="unknown Leontief method 'cg'"):
        leontief_method.resolve_method(big, "cg")


def test_neumann_terms_bound():
    # s^K s/(1-s) = tol exactly: s = 0.5, tol = 2^-40 -> K = 40
    assert leontief_method.neumann_terms(0.5, 2.0**-40) == pytest.approx(40.0)
    assert leontief_method.neumann_terms(0.0, 1e-13) == 1.0
    assert leontief_method.neumann_terms(1.0, 1e-13) == float("inf")


def test_auto_picks_neumann_for_few_columns(big, reference, monkeypatch):
    """n = 1,500, nnz = 168,750, s = 0.85: K = 195 terms, so the series wins for m = 1."""
    monkeypatch.setattr(leontief_method, "AUTO_LU_MAX", 100)

    def first(m: int) -> MRIO:
        return MRIO(**{**big.__dict__, "Y": big.Y[:, :m], "fd_columns": big.fd_columns[:m]})

    assert leontief_method.resolve_method(first(1), "auto") == "iterative"
    assert leontief_method.resolve_method(big, "auto") == "mixed"  # m = 30 columns
    np.testing.assert_allclose(solve_final_demand(first(1)), reference[:, :1], rtol=1e-9)
    # 5 columns: 195 terms cost more than the LU; at tol = 1e-6 (96 terms) they do not
    assert leontief_method.resolve_method(first(5), "auto") == "mixed"
    assert leontief_method.resolve_method(first(5), "auto", tol=1e-6) == "iterative"


def test_mixed_stall_falls_back_to_lu_under_auto(big, reference, monkeypatch):
    # tol=0 cannot be reached: explicit "mixed" says so, "auto" re-solves with float64 LU
    with pytest.raises(RefinementError, match="stalled .* use method='lu'"):
        solve_final_demand(big, method="mixed", tol=0.0)
    monkeypatch.setattr(leontief_method, "AUTO_LU_MAX", 100)
    X = solve_final_demand(big, method="auto", tol=0.0)
    np.testing.assert_allclose(X, reference, rtol=1e-12)


def test_one_column_sum_near_one_is_factorized_once(monkeypatch):
    """s = 0.999995 makes the free bound 2.5e-6 < MIXED_RCOND_MIN, yet I - A is well
    conditioned: LAPACK's estimate is taken instead of re-factorizing in float64."""
    rng = np.random.default_rng(5)
    n = 60
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    A *= rng.uniform(0.2, 0.8, n) / A.sum(axis=0)
    A[:, 7] *= 0.999995 / A[:, 7].sum()
    Y = rng.random((n, 3))
    x = np.linalg.solve(np.eye(n) - A, Y.sum(axis=1))
    rows = pd.MultiIndex.from_tuples([("R", f"s{i}") for i in range(n)], names=["region", "sector"])
    cols = pd.MultiIndex.from_tuples(
        [("R", f"c{k}") for k in range(3)], names=["region", "category"]
    )
    table = MRIO(Z=A * x, Y=Y, x=x, F=np.ones(n), F_Y=None, rows=rows, fd_columns=cols)
    calls = []
    real = engine.factorize
    monkeypatch.setattr(
        engine, "factorize", lambda *a, **k: calls.append(k["method"]) or real(*a, **k)
    )
    monkeypatch.setattr(leontief_method, "AUTO_LU_MAX", 10)
    monkeypatch.setattr(leontief_method, "AUTO_LU_SPEEDUP", 1e9)  # not the Neumann series
    X = solve_final_demand(table)
    assert calls == ["mixed"]
    np.testing.assert_allclose(X, np.linalg.solve(np.eye(n) - A, Y), rtol=1e-10)
    assert factorize(A, method="mixed").rcond == pytest.approx(0.000005 / 1.999995, rel=1e-6)
    assert factorize(A, method="mixed", rcond_needed=1e-5).rcond > 1e-2
