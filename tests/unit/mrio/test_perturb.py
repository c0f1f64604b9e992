"""Perturbed realizations: valid tables, signs and zeros kept, x recomputed, redraws counted."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import two_region

from pipeline.errors import MRIOError
from pipeline.kernels.sampling import realization_rng
from pipeline.mrio.model import MRIO, as_multiindex
from pipeline.mrio.perturb import draw_table, matrix_cvs, perturbed_table


def _signed_table() -> MRIO:
    rows = as_multiindex([("A", "s"), ("A", "t"), ("B", "s")], ("region", "sector"))
    cols = as_multiindex([("A", "hh"), ("B", "inv")], ("region", "category"))
    Z = np.array([[1.0, 0.0, 3.0], [2.0, 1.0, 0.0], [0.0, 4.0, 2.0]])
    Y = np.array([[10.0, -1.0], [6.0, 2.0], [8.0, -0.5]])
    x = Z.sum(1) + Y.sum(1)
    return MRIO(Z, Y, x, np.array([5.0, 0.0, 2.0]), None, rows, cols).validate()


def test_signs_and_zeros_are_kept_and_x_is_rebalanced():
    base = _signed_table()
    drawn, redraws = perturbed_table(base, realization_rng(2, 0, 0), 0.2)
    assert redraws == 0
    for name in ("Z", "Y", "F"):
        old, new = getattr(base, name), getattr(drawn, name)
        assert np.array_equal(np.sign(old), np.sign(new)) and not np.array_equal(old, new)
    np.testing.assert_allclose(drawn.x, drawn.Z.sum(1) + drawn.Y.sum(1), rtol=1e-14)
    assert (drawn.Y[:, 1][[0, 2]] < 0).all()  # inventory change stays negative


def test_zero_cv_returns_the_table_and_per_matrix_cvs_touch_only_their_matrix():
    base = two_region.table()
    assert perturbed_table(base, realization_rng(1, 0, 0), 0.0) == (base, 0)
    drawn = draw_table(base, realization_rng(1, 0, 0), {"F": 0.1})
    assert np.array_equal(drawn.Z, base.Z) and np.array_equal(drawn.Y, base.Y)
    assert np.array_equal(drawn.x, base.x) and not np.array_equal(drawn.F, base.F)
    assert matrix_cvs(0.3) == {"Z": 0.3, "Y": 0.3, "F": 0.3}


def test_sparse_z_keeps_its_pattern():
    base = two_region.table()
    sparse = type(base)(
        sp.csr_array(base.Z), base.Y, base.x, base.F, None, base.rows, base.fd_columns
    )
    drawn, _ = perturbed_table(sparse, realization_rng(4, 1, 0), 0.1)
    assert sp.issparse(drawn.Z) and drawn.Z.nnz == 2


def test_invalid_draws_are_redrawn_and_counted():
    base = two_region.table()
    Z, Y = np.array([[0.0, 47.5], [47.5, 0.0]]), np.diag([2.5, 2.5])
    near = MRIO(Z, Y, Z.sum(1) + Y.sum(1), base.F, None, base.rows, base.fd_columns).validate()
    # column sums of A are 0.95: with cv = 0.5 many draws reach 1 and are refused
    counts = [perturbed_table(near, realization_rng(9, i, 0), 0.5)[1] for i in range(30)]
    assert sum(counts) > 0
    bad = next(i for i in range(30) if counts[i] > 0)
    with pytest.raises(MRIOError, match="no valid table in 1 draws"):
        perturbed_table(near, realization_rng(9, bad, 0), 0.5, max_redraws=0)
