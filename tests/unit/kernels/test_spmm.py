"""Tiled sparse products: any tiling adds up to the plain product."""

import numpy as np
import pytest
import scipy.sparse as sp

from pipeline.kernels.spmm import SPARSE_COLUMN_BLOCK, TiledCSR, row_bounds


@pytest.mark.parametrize("blocks", [1, 3])
@pytest.mark.parametrize("panel", [7, 300, 5_000])
@pytest.mark.parametrize("n, k, m", [(2_500, 2_500, 70), (1_030, 700, 64), (5, 5, 1), (3, 8, 130)])
def test_tiled_product_equals_dense(blocks, panel, n, k, m):
    """Uneven row blocks, column panels and column blocks of W add up to Z @ W."""
    rng = np.random.default_rng(n + k + m)
    Z = sp.random_array((n, k), density=0.05, format="csr", rng=rng)
    W = rng.random((k, m))
    tiled = TiledCSR.from_matrix(Z, blocks=blocks, panel=panel)
    assert tiled.nnz == Z.nnz and len(tiled.tiles) == min(blocks, n)
    assert len(tiled.tiles[0]) == -(-k // panel)
    np.testing.assert_allclose(tiled.matmul(W), Z.toarray() @ W, rtol=1e-13, atol=1e-300)


def test_wider_than_one_column_block_and_shape_check():
    Z = sp.random_array((40, 40), density=0.3, format="csr", rng=1)
    W = np.random.default_rng(2).random((40, 2 * SPARSE_COLUMN_BLOCK + 5))
    np.testing.assert_allclose(TiledCSR.from_matrix(Z, panel=16).matmul(W), Z @ W, rtol=1e-13)
    v = W[:, 0]
    np.testing.assert_allclose(TiledCSR.from_matrix(Z).matmul(v), Z @ v, rtol=1e-13)
    with pytest.raises(ValueError, match="W has 39 rows, Z has 40 columns"):
        TiledCSR.from_matrix(Z).matmul(W[:39])


def test_row_bounds_cover_rows_once():
    assert row_bounds(10, 3) == (0, 3, 6, 10)
    assert row_bounds(2, 8) == (0, 1, 2)
    assert row_bounds(0, 2) == (0, 0)
