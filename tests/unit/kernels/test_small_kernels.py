"""Concentration and table kernels."""

import numpy as np

from pipeline.kernels.concentration import concentration_curve, land_share_holding
from pipeline.kernels.tables import inventory_sector_shares, rows_for_codes, split_outputs


def test_land_share_by_hand():
    values = np.array([0.0, 50.0, 30.0, 10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    # densest first: 50 (50%), +30 (80%) -> 2 of 10 cells hold >= 75%.
    assert land_share_holding(values, 0.75) == 0.2
    assert land_share_holding(values, 0.5) == 0.1
    assert land_share_holding(values, 0.9) == 0.3
    assert land_share_holding(values, 1.0) == 0.4
    land, emitted = concentration_curve(values)
    assert land[0] == 0 and emitted[0] == 0 and emitted[-1] == 1.0
    assert land_share_holding(np.zeros(5), 0.75) == 0.0


def test_tables_compose_weights_and_shares():
    weights = np.array([[[0.25, 0.75]]])  # 1 region, 1 inventory sector, 2 MRIO sectors
    shares = np.array([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.5], [0.5, 0.0]]]])  # (1, 2, c=2, k=2)
    m = inventory_sector_shares(weights, shares)
    np.testing.assert_allclose(m[0, 0], [[0.25, 0.375], [0.375, 0.0]])
    split = split_outputs(m, np.array([False, True]))
    np.testing.assert_allclose(split["by_consumer"][0, 0], [0.625, 0.375])
    np.testing.assert_allclose(split["by_category"][0, 0], [0.375, 0.0])
    np.testing.assert_allclose(split["foreign"][0, 0], 0.375)
    np.testing.assert_array_equal(
        rows_for_codes(np.array([[1.0], [2.0]]), np.array([1, -1, 0])), [[2.0], [0.0], [1.0]]
    )
