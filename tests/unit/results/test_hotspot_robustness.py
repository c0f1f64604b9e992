"""The robustness of the hotspot cells: the share of them that are hotspots in >= 90 % of
the realizations, on hand-made layers and counts."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from pipeline.grid.threshold_blocks import cells_holding
from pipeline.results.uncertainty_summary import hotspot_robustness, robust_count


@pytest.mark.parametrize(
    ("n", "need"), [(1, 1), (9, 9), (10, 9), (11, 10), (20, 18), (200, 180), (201, 181)]
)
def test_robust_count_is_the_fewest_realizations_of_90_percent(n, need):
    assert robust_count(n) == need
    assert need >= 0.9 * n > need - 1


def test_robustness_by_hand():
    """Land cells 5, 4, 1, 0 and a sea cell of 9: 75 % of 10 t is held by 5 + 4 (2 cells).

    Of 10 realizations, cell 0 is a hotspot in 10, cell 1 in 8 (< 9): robustness 1/2.
    The sea cell's count does not matter; nor do counts of cells that are no hotspot.
    """
    values = da.from_array(np.array([[5.0, 4.0, 1.0, 0.0, 9.0]]), chunks=(1, 2))
    land = da.from_array(np.array([[True, True, True, True, False]]), chunks=(1, 2))
    counts = da.from_array(np.array([[10, 8, 10, 10, 10]], dtype=np.uint16), chunks=(1, 3))
    with dask.config.set(scheduler="sync"):
        (holding,) = cells_holding(values, land, [0.75])
        found = hotspot_robustness(values, land, holding, counts, 10)
        assert found == {
            "hotspot_share": 0.75,
            "min_frequency": 0.9,
            "min_realizations": 9,
            "hotspot_cells": 2,
            "robust_cells": 1,
            "robust_share": 0.5,
        }
        counts = da.from_array(np.array([[9, 9, 0, 0, 0]], dtype=np.uint16), chunks=(1, 5))
        assert hotspot_robustness(values, land, holding, counts, 10)["robust_share"] == 1.0
        zeros = da.zeros_like(values)
        (none,) = cells_holding(zeros, land, [0.75])
        assert hotspot_robustness(zeros, land, none, counts, 10)["robust_share"] == 0.0
